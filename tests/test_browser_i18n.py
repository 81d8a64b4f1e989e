"""Every page and state read in Chinese has no English words a person would read (model ids, units and
code aside), and in English no Chinese but the language switch. Chromium, as a reader sees the page;
screenshots of each go to test-artifacts/screenshots (copied to docs/screenshots)."""

import re
import time

import pytest

from support.browser import (
    assert_accessible,
    compare_seeds,
    open_advanced,
    require_browser,
    screenshot,
    small_job,
)
from support.servers import AppProcess

pytestmark = pytest.mark.browser

# Latin words a Chinese page may hold: units, formats, protocol names, brand names and code-like names.
ALLOWED = {
    "px",
    "s",
    "mb",
    "fps",
    "http",
    "https",
    "json",
    "png",
    "jpeg",
    "webp",
    "base",
    "mp",
    "id",
    "url",
    "utc",
    "kling",
    "veo",
    "seedance",
    "vidu",
    "sora",
    "std",
    "pro",
    "cfg",
    "scale",
    "camera",
    "control",
    "metadata",
    "negative",
    "prompt",
    "style",
    "quality",
    "level",
    "v",
    "p",
    "k",
    "e",
    "g",
    "x",
    "demo",
    "user",
}
VISIBLE_TEXT = """() => {
    const copy = document.body.cloneNode(true);
    copy.querySelectorAll('[translate="no"], code, pre, script, style, .lang-switch, [hidden], video, option, '
                          + 'datalist').forEach(e => e.remove());
    return copy.textContent.replace(/\\s+/g, ' ');
}"""
CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")


JSON_EXAMPLE = re.compile(r"\{[^{}]*(\{[^{}]*\}[^{}]*)*\}")  # {"type": "simple"} in a hint is code


def english_words(page):
    words = re.findall(r"[A-Za-z]+", JSON_EXAMPLE.sub(" ", page.evaluate(VISIBLE_TEXT)))
    return sorted({w for w in words if w.lower() not in ALLOWED})


def check(page, lang, state):
    """The page in lang has no words of the other language; a screenshot of it for the docs."""
    assert page.get_attribute("html", "lang") == {"zh": "zh-CN", "en": "en"}[lang]
    if lang == "zh":
        assert english_words(page) == [], f"English on the Chinese {state}: {english_words(page)}"
    else:
        chinese = CJK.findall(page.evaluate(VISIBLE_TEXT))
        assert not chinese, f"Chinese on the English {state}: {''.join(chinese)[:40]}"
    screenshot(page, f"i18n-{state}-{lang}", full_page=False)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_and_state_speaks_one_language(browser, stack, lang):
    context = browser.new_context(
        viewport={"width": 1280, "height": 860},
        base_url=stack.base_url,
        extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9" if lang == "zh" else "en"},
    )
    page = context.new_page()
    page.goto("/")
    check(page, lang, "form")
    page.fill("#prompt", "一只猫在屋顶上" if lang == "zh" else "A cat on a roof")
    page.fill("#model", "kling-v1")
    page.fill("#duration", "7")
    page.fill("#width", "-5")
    page.click("[data-submit]")
    page.wait_for_selector("[data-error-summary]")
    check(page, lang, "form-errors")

    small_job(page)
    page.click("[data-submit]")
    page.wait_for_url(re.compile(r"/jobs/video_"))
    page.wait_for_selector("[data-job-card][data-status='in_progress'], [data-job-card][data-status='queued']")
    check(page, lang, "job-running")
    page.wait_for_selector("[data-job-card] video[data-video]", timeout=60000)
    time.sleep(0.5)
    check(page, lang, "job-finished")

    open_advanced(page)
    page.fill("#metadata", '{"demo_fail": "content_policy_violation"}')
    page.click("[data-submit]")
    page.wait_for_url(re.compile(r"/jobs/video_"))
    page.wait_for_selector("[data-job-card][data-status='failed']", timeout=60000)
    check(page, lang, "job-failed")
    page.goto(page.url + "/code")
    check(page, lang, "code")

    compare_seeds(page, "灯塔" if lang == "zh" else "A lighthouse", "1, 2")
    page.wait_for_selector("[data-play-all]:not([hidden])", timeout=60000)
    check(page, lang, "compare")

    page.goto("/jobs")
    check(page, lang, "history")
    page.goto("/usage")
    check(page, lang, "usage")
    page.goto("/jobs/4242424242")
    check(page, lang, "error-404")
    if lang == "zh":
        assert_accessible(page, "the Chinese error page")
    context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_login_page_speaks_one_language(browser, tmp_path, lang):
    require_browser()
    locked = AppProcess(
        tmp_path / "locked",
        {"VIDEO_API_BASE_URL": "http://127.0.0.1:9", "VIDEO_API_KEY": "k", "APP_PASSWORD": "open sesame"},
    ).start()
    try:
        context = browser.new_context(
            viewport={"width": 1280, "height": 860},
            base_url=locked.base_url,
            extra_http_headers={"Accept-Language": "zh-CN" if lang == "zh" else "en-GB"},
        )
        page = context.new_page()
        page.goto("/")
        check(page, lang, "login")
        page.click(".login-card button[type=submit]")
        page.wait_for_selector("[data-error-summary]")
        check(page, lang, "login-error")
        context.close()
    finally:
        locked.stop()


def test_switching_language_mid_task_keeps_the_form(browser, stack, picture):
    context = browser.new_context(
        viewport={"width": 1280, "height": 860}, base_url=stack.base_url, extra_http_headers={"Accept-Language": "en"}
    )
    page = context.new_page()
    page.goto("/")
    page.fill("#prompt", "A heron at dawn")
    page.fill("#model", "kling-v1")
    page.select_option("#x-kling-mode", "pro")
    page.set_input_files("#image_file", picture)
    page.click(".lang-switch button[value='zh']")
    page.wait_for_function("() => document.documentElement.lang === 'zh-CN'")
    assert page.input_value("#prompt") == "A heron at dawn" and page.input_value("#model") == "kling-v1"
    assert page.input_value("#x-kling-mode") == "pro"
    assert page.is_visible("[data-kept-image]"), "the chosen picture was lost"
    assert "生成视频" in page.inner_text("[data-submit]")
    page.goto("/jobs")
    assert page.get_attribute("html", "lang") == "zh-CN", "the choice was not kept"
    context.close()
