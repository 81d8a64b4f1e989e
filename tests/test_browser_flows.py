"""The product as people use it: a real Chromium against the app under gunicorn and the demo API."""

import re
import time

import pytest

from support.browser import (
    assert_accessible,
    assert_error_by_field,
    assert_no_sideways_scroll,
    compare_seeds,
    fill_every_field,
    open_advanced,
    screenshot,
    small_job,
)
from support.servers import AppProcess

pytestmark = pytest.mark.browser


def test_submit_follow_play_download_history_and_reuse(page, picture, tmp_path):
    page.goto("/")
    assert_accessible(page, "the empty form")
    prompt = "A small harbour at dawn, boats rocking gently"
    fill_every_field(page, picture, prompt)
    assert page.get_attribute("[data-preview-img]", "src").startswith("blob:")
    assert page.is_visible("[data-preview]")
    assert re.fullmatch(r"\d+", page.input_value("#seed"))
    assert page.text_content("[data-count]") == str(len(prompt))
    screenshot(page, "form-filled-1440")

    page.click("[data-submit]")
    page.wait_for_url(re.compile(r"/jobs/video_[0-9a-f]+$"))
    page.evaluate("window.__sameDocument = true")
    seen, running_checked = [], False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        card = page.locator("[data-job-card]")
        status, settled = card.get_attribute("data-status"), card.get_attribute("data-settled")
        seen.append((status, int(page.get_attribute("[data-progress]", "value"))))
        if status == "in_progress" and 0 < seen[-1][1] < 100 and not running_checked:
            assert_accessible(page, "a running job")
            screenshot(page, "job-running-1440")
            running_checked = True
        if settled == "true":
            break
        time.sleep(0.2)
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    assert seen[-1] == ("completed", 100), seen[-5:]
    # The bar showed the job part-way (0 < progress < 100) without a reload, then 100: how many values a
    # sample every 0.2 s happens to catch depends on how busy the machine is, so that is not counted.
    assert running_checked, f"the progress bar never showed the job part-way: {seen}"
    progress = [p for _, p in seen]
    assert progress == sorted(progress), f"the progress bar went backwards: {seen}"

    video = page.locator("video[data-video]")
    video.wait_for()
    page.evaluate("v => { v.muted = true; return v.play(); }", video.element_handle())
    page.wait_for_function("v => v.readyState >= 2 && v.currentTime > 0.3", arg=video.element_handle(), timeout=10000)
    assert_accessible(page, "a finished job")
    screenshot(page, "job-finished-1440")

    with page.expect_download() as download_info:
        page.click("text=Download MP4")
    download = download_info.value
    name = download.suggested_filename
    assert name.startswith("a_small_harbour_at_dawn") and name.endswith(".mp4")
    saved = tmp_path / "video.mp4"
    download.save_as(saved)
    assert saved.read_bytes()[4:8] == b"ftyp"

    page.click("nav >> text=History")
    assert page.locator(".history-item", has_text=prompt).count() == 1
    gallery_video = page.locator(".history-item", has_text=prompt).locator("video[data-hover-play]")
    assert gallery_video.count() == 1 and "/poster/" in gallery_video.get_attribute("poster")
    assert_accessible(page, "the history page")
    screenshot(page, "history-1440")

    page.locator(".history-prompt a", has_text=prompt).click()
    page.click("text=Use these settings again")
    assert page.input_value("#prompt") == prompt
    assert (page.input_value("#width"), page.input_value("#height"), page.input_value("#fps")) == ("640", "360", "12")
    assert page.input_value("#style") == "watercolour" and page.input_value("#user") == "ana"
    assert page.is_visible("[data-kept-image]") and page.is_visible("[data-preview-img]")
    assert_accessible(page, "the form refilled from a job")


def test_errors_sit_by_their_fields_and_focus_moves_to_the_summary(page):
    page.goto("/")
    page.fill("#prompt", "An owl")
    open_advanced(page)
    page.fill("#metadata", "{not json")
    page.fill("#fps", "500")
    page.click("[data-submit]")
    page.wait_for_selector("[data-error-summary]")
    page.wait_for_load_state("domcontentloaded")  # the page's modules have run: they moved the focus
    assert page.evaluate("document.activeElement.hasAttribute('data-error-summary')")
    assert page.title().startswith("Error: ")
    assert page.evaluate("() => document.getElementById('advanced').open"), "the error is folded away"
    assert_error_by_field(page, "metadata", "not valid JSON")
    assert_error_by_field(page, "fps", "between 1 and 120")
    assert page.input_value("#prompt") == "An owl" and page.input_value("#metadata") == "{not json"
    assert_accessible(page, "a form with errors")
    screenshot(page, "form-errors-1440")
    page.click(".error-summary a[href='#fps']")
    assert page.evaluate("document.activeElement.id") == "fps"


def test_an_upstream_400_is_shown_by_the_field_it_names(page):
    page.goto("/")
    # 90 fps: the form takes up to 120 and the demo profile does not limit it, the demo API takes 60
    page.fill("#prompt", "Too smooth for the demo API")
    page.fill("#fps", "90")
    page.click("[data-submit]")
    page.wait_for_selector("[data-error-summary]")
    summary = page.locator("[data-error-summary]").inner_text()
    assert "The video API could not create the job" in summary and "fps must be between" in summary
    assert "400" in summary and "invalid_request_error" in summary
    assert_error_by_field(page, "fps", "The video API says")
    assert page.input_value("#fps") == "90"
    assert page.evaluate("document.activeElement.hasAttribute('data-error-summary')")
    assert_accessible(page, "an upstream error")
    screenshot(page, "form-upstream-error-1440")


EXPECTED_TAB_ORDER = [
    "skip-link",
    "brand",
    "nav:New video",
    "nav:History",
    "nav:Usage",
    "lang:en",
    "lang:zh",
    "model",
    "prompt",
    "image_file",
    "image_url",
    "preset:1280",
    "preset:720",
    "preset:1920",
    "preset:1080",
    "preset:1024",
    "width",
    "height",
    "duration",
    "fps",
    "summary:advanced",
    "summary:compare",
    "submit",
    "as-code",
    "example:paper-boat",
    "example:harbour-dawn",
    "example:desert-stars",
    "example:cat-roof",
]


def test_keyboard_reaches_every_control_in_order_with_visible_focus(page):
    page.goto("/")
    order = []
    for _ in range(60):
        page.keyboard.press("Tab")
        info = page.evaluate("""() => {
            const el = document.activeElement, cs = getComputedStyle(el);
            let name = el.id || el.name || '';
            if (el.classList.contains('skip-link')) name = 'skip-link';
            else if (el.classList.contains('brand')) name = 'brand';
            else if (el.closest('nav')) name = 'nav:' + el.textContent.trim();
            else if (el.name === 'lang') name = 'lang:' + el.value;
            else if (el.hasAttribute('data-preset-width')) name = 'preset:' + el.getAttribute('data-preset-width');
            else if (el.hasAttribute('data-random-seed')) name = 'random-seed';
            else if (el.hasAttribute('data-submit')) name = 'submit';
            else if (el.hasAttribute('data-as-code')) name = 'as-code';
            else if (el.hasAttribute('data-as-compare')) name = 'as-compare';
            else if (el.tagName === 'SUMMARY') name = 'summary:' + el.parentElement.id;
            else if (el.classList.contains('example')) name = 'example:' + new URL(el.href).searchParams.get('example');
            return {name, outline: cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2};
        }""")
        if info["name"] in order or info["name"] == "":
            break
        order.append(info["name"])
        assert info["outline"], f"no visible focus on {info['name']}"
    assert order == EXPECTED_TAB_ORDER


def test_reduced_motion_is_respected(browser, stack):
    for motion, expected in (("reduce", "none"), ("no-preference", "spin")):
        context = browser.new_context(reduced_motion=motion, base_url=stack.base_url)
        page = context.new_page()
        page.goto("/")
        name = page.evaluate("""() => { const s = document.createElement('span'); s.className = 'spinner';
                                 document.body.appendChild(s); return getComputedStyle(s).animationName; }""")
        context.close()
        assert name == expected, motion


@pytest.mark.parametrize("width", [375, 1440])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_fits_and_looks_right(browser, stack, picture, width, scheme):
    context = browser.new_context(
        viewport={"width": width, "height": 900}, color_scheme=scheme, base_url=stack.base_url
    )
    page = context.new_page()
    suffix = f"{width}-{scheme}"
    page.goto("/")
    assert_no_sideways_scroll(page, "the form")
    screenshot(page, f"form-{suffix}")
    page.fill("#prompt", "x")
    open_advanced(page)
    page.fill("#metadata", "[1]")
    page.click("[data-submit]")
    page.wait_for_selector("[data-error-summary]")
    assert_no_sideways_scroll(page, "the form with errors")
    screenshot(page, f"form-errors-{suffix}")
    page.fill("#metadata", "")
    page.fill("#prompt", "A very long prompt " * 20)
    page.fill("#width", "320")
    page.fill("#height", "240")
    page.fill("#duration", "1")
    page.click("[data-submit]")
    page.wait_for_url(re.compile(r"/jobs/"))
    assert_no_sideways_scroll(page, "a running job")
    page.wait_for_selector("[data-job-card][data-settled='true']", timeout=60000)
    assert_no_sideways_scroll(page, "a finished job")
    if scheme == "dark":
        assert_accessible(page, f"a finished job, dark, {width} px")
    screenshot(page, f"job-{suffix}")
    page.goto("/jobs")
    assert_no_sideways_scroll(page, "history")
    if scheme == "dark":
        assert_accessible(page, f"history, dark, {width} px")
    screenshot(page, f"history-{suffix}")
    context.close()


def test_a_portrait_video_is_shown_at_its_own_shape(page):
    page.goto("/")
    page.fill("#prompt", "A waterfall, filmed upright")
    small_job(page, width=180, height=320)
    page.click("[data-submit]")
    page.wait_for_url(re.compile(r"/jobs/video_[0-9a-f]+$"))
    video = page.locator("video[data-video]")
    video.wait_for(timeout=60000)
    page.wait_for_function("v => v.readyState >= 1", arg=video.element_handle(), timeout=10000)
    box = video.bounding_box()
    # The box has the video's 9:16 shape and a useful size, not a 16:9 frame with a sliver of picture.
    assert abs(box["width"] / box["height"] - 180 / 320) < 0.03, box
    assert box["height"] > 500, box
    screenshot(page, "job-portrait-1440")


def test_static_assets_are_cached_and_nothing_comes_from_elsewhere(page, stack):
    import requests

    html = requests.get(stack.base_url + "/", timeout=10).text
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    assert len(assets) == 3
    for asset in assets:
        resp = requests.get(stack.base_url + asset, timeout=10)
        assert resp.status_code == 200 and "max-age=31536000" in resp.headers["Cache-Control"]
    assert not re.search(r'(?:href|src)="(?:https?:)?//', html), "a page loads something from another host"
    external = []
    page.on(
        "request", lambda r: None if r.url.startswith((stack.base_url, "blob:", "data:")) else external.append(r.url)
    )
    page.goto("/")
    page.goto("/jobs")
    assert external == []


def test_the_login_page_is_accessible_and_lets_the_team_in(browser, tmp_path, stack):
    locked = AppProcess(
        tmp_path / "locked", {"VIDEO_API_BASE_URL": "http://127.0.0.1:9", "APP_PASSWORD": "open sesame"}
    ).start()
    try:
        for width in (375, 1440):
            context = browser.new_context(viewport={"width": width, "height": 900}, base_url=locked.base_url)
            page = context.new_page()
            page.goto("/jobs")
            assert "/login" in page.url
            assert_accessible(page, f"the login page at {width} px")
            assert_no_sideways_scroll(page, "the login page")
            screenshot(page, f"login-{width}")
            page.fill("#name", "Ana")
            page.fill("#password", "wrong")
            page.click(".login-card button[type=submit]")
            page.wait_for_selector("[data-error-summary]")
            page.wait_for_load_state("domcontentloaded")  # the page's modules have run
            assert page.evaluate("document.activeElement.hasAttribute('data-error-summary')")
            assert "That is not the team password." in page.inner_text("#password-error")
            assert_accessible(page, f"the login page with an error at {width} px")
            page.fill("#password", "open sesame")
            page.click(".login-card button[type=submit]")
            page.wait_for_url(re.compile(r"/jobs$"))
            assert "Signed in as Ana" in page.inner_text("header")
            assert_accessible(page, f"history when signed in at {width} px")
            screenshot(page, f"history-signed-in-{width}")
            context.close()
    finally:
        locked.stop()


def test_a_compare_of_three_seeds_follows_to_three_videos_on_one_page(page):
    compare_seeds(page, "A lighthouse beam sweeping over fog", "1, 2, 3")
    page.evaluate("window.__sameDocument = true")
    assert page.locator("[data-job-card]").count() == 3
    deadline = time.monotonic() + 90
    while page.locator("video[data-video]").count() < 3 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert page.locator("video[data-video]").count() == 3, "not every card reached its video"
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    assert page.locator("[data-variant]").all_inner_texts() == ["Seed 1", "Seed 2", "Seed 3"]  # each card's heading
    for summary in page.locator("[data-job-card] .card-details > summary").all():
        summary.click()  # the seed each job used, as the API said, is under Details
    seeds = sorted(page.locator("[data-job-card] dt:text-is('Seed used') + dd").all_inner_texts())
    assert seeds == ["1", "2", "3"]
    page.click("[data-play-all]")
    page.wait_for_function("() => [...document.querySelectorAll('video[data-video]')].every(v => !v.paused)")
    assert_accessible(page, "a comparison")
    assert_no_sideways_scroll(page, "a comparison")
    screenshot(page, "compare-1440")


def test_the_form_knows_kling_and_leaves_an_unknown_model_free(page):
    page.goto("/")
    page.fill("#model", "kling-v1")
    assert page.inner_text("[data-profile-hint]").startswith("Kling: 5 or 10 s")
    assert page.get_attribute("#duration", "list") == "duration-options"
    assert "is-unsupported" not in page.get_attribute("[data-preset-width='1280'][data-preset-height='720']", "class")
    page.fill("#prompt", "A kite over the dunes")
    page.fill("#duration", "7")
    page.fill("#width", "640")
    page.fill("#height", "360")
    page.click("[data-submit]")
    page.wait_for_selector("[data-error-summary]")
    assert_error_by_field(page, "duration", "Kling makes videos of 5 or 10 seconds.")
    assert_error_by_field(page, "width", "Kling takes these sizes")
    assert page.input_value("#duration") == "7" and page.input_value("#prompt") == "A kite over the dunes"
    page.fill("#model", "my-relay-model")
    assert page.inner_text("[data-profile-hint]") == "No profile for this model: every field is free."
    assert page.get_attribute("#duration", "list") is None
    screenshot(page, "form-kling-limits-1440")
