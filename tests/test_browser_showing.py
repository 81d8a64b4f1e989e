"""Showing work in Chromium: players of the video's shape, a share link opened by someone signed out,
presentation mode with the arrow keys, and screenshots of the new pages (1440 and 375 px, light and dark,
English and Chinese) for docs/screenshots. Against the app under gunicorn in team-password mode and the
demo video API, which renders each job at the size asked for."""

import re
import time

import pytest

from support.browser import (
    assert_no_sideways_scroll,
    launched_chromium,
    require_browser,
    screenshot,
    small_job,
)
from support.servers import demo_stack
from support.waiting import wait_for

pytestmark = pytest.mark.browser
PASSWORD = "a lantern for the demo"
SHAPES = {"16:9": (640, 360), "9:16": (360, 640), "1:1": (480, 480), "4:3": (640, 480)}


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    require_browser()
    with demo_stack(tmp_path_factory.mktemp("showing"), {"APP_PASSWORD": PASSWORD}) as app:
        yield app


@pytest.fixture(scope="module")
def chromium(team):
    yield from launched_chromium()


def member_page(chromium, team, width=1440, height=900, **context):
    page = chromium.new_context(
        viewport={"width": width, "height": height}, base_url=team.base_url, **context
    ).new_page()
    page.goto("/login")
    page.fill("#name", "Ana")
    page.fill("#password", PASSWORD)
    page.click(".login-card button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))
    return page


def make_job(page, prompt, width, height):
    page.goto("/")
    page.fill("#prompt", prompt)
    small_job(page, width=width, height=height)
    page.click("button[data-submit]")
    page.wait_for_url(re.compile(r"/jobs/[^/]+$"))
    return page.url


def wait_for_video(page, url):
    page.goto(url)

    def ready():
        if page.locator("[data-job-card] video[data-video]").count() == 0:
            page.reload()
            return False
        return page.evaluate("() => document.querySelector('[data-job-card] video').readyState >= 1")

    wait_for(ready, timeout=120, what=f"the video of {url}", every=1)


@pytest.fixture(scope="module")
def finished(chromium, team):
    """One finished job of each shape: {shape: job page url}."""
    page = member_page(chromium, team)
    urls = {
        shape: make_job(page, f"A {shape} test card with a circle in the middle", *size)
        for shape, size in SHAPES.items()
    }
    for url in urls.values():
        wait_for_video(page, url)
    page.context.close()
    return urls


def player_box(page):
    return page.evaluate(
        """() => { const v = document.querySelector('[data-job-card] video, .shared video');
                   const r = v.getBoundingClientRect();
                   return {w: r.width, h: r.height, vw: v.videoWidth, vh: v.videoHeight}; }"""
    )


@pytest.mark.parametrize("width,height", [(1440, 900), (375, 740)])
def test_the_player_has_the_videos_shape_at_every_width(chromium, team, finished, width, height):
    page = member_page(chromium, team, width, height)
    for shape, url in finished.items():
        page.goto(url)
        wait_for(lambda: player_box(page)["vw"] > 0, timeout=30, what="the video's own size")
        box = player_box(page)
        want = SHAPES[shape][0] / SHAPES[shape][1]
        assert box["vw"] / box["vh"] == pytest.approx(want, rel=0.01), "the demo API rendered another size"
        assert box["w"] / box["h"] == pytest.approx(want, rel=0.02), f"{shape} at {width} px plays in {box}"
        assert box["h"] <= height * 0.8 + 1, f"{shape} at {width} px is taller than the screen: {box}"
        assert box["w"] >= min(width - 80, 300) or box["h"] >= height * 0.75, f"{shape} is needlessly small: {box}"
        assert_no_sideways_scroll(page, f"{shape} at {width}")
        screenshot(page, f"player-{shape.replace(':', 'x')}-{width}", full_page=False)
    page.context.close()


def test_a_share_link_plays_for_someone_signed_out_until_it_is_revoked(chromium, team, finished):
    page = member_page(chromium, team)
    page.goto(finished["16:9"])
    page.select_option("select[name=lifetime]", "day")
    page.check("input[name=allow_download]")
    page.click("[data-share]")
    link = page.inner_text("#share-url").strip()
    assert re.fullmatch(re.escape(team.base_url) + r"/s/[A-Za-z0-9_-]{32}", link)
    assert "downloads allowed" in page.inner_text("[data-share-list]")

    stranger = chromium.new_context(viewport={"width": 375, "height": 740})
    shared = stranger.new_page()
    shared.goto(link)
    assert "A 16:9 test card" in shared.inner_text("main")
    assert shared.locator("nav, #job-form, a[href='/jobs']").count() == 0, "the shared page shows the studio"
    wait_for(
        lambda: shared.evaluate("() => document.querySelector('video').readyState >= 2"),
        timeout=30,
        what="the shared video",
    )
    shared.evaluate("() => { const v = document.querySelector('video'); v.muted = true; return v.play(); }")
    wait_for(
        lambda: shared.evaluate("() => document.querySelector('video').currentTime > 0"), timeout=30, what="playback"
    )
    assert shared.locator("a[download]").count() == 1
    screenshot(shared, "shared-signed-out-375")

    page.click("[data-share-list] button:text('Revoke')")
    page.wait_for_load_state()
    assert page.locator("[data-share-list]").count() == 0
    response = shared.goto(link)
    assert response.status == 404 and "does not open anything" in shared.inner_text("main")
    stranger.close()
    page.context.close()


def test_presentation_mode_moves_with_the_arrow_keys_on_a_projector_and_a_phone(chromium, team, finished):
    page = member_page(chromium, team, 1920, 1080)
    page.goto("/jobs")
    for box in page.locator("input[data-pick]").all()[:3]:
        box.check()
    page.select_option("#present-form select[name=layout]", "one")
    page.click("[data-present-picked]")
    page.wait_for_url(re.compile(r"/present\?"))
    visible = "() => [...document.querySelectorAll('[data-slide]')].findIndex(s => !s.hidden)"
    assert page.evaluate(visible) == 0 and page.inner_text("[data-present-count]") == "1 of 3"
    first_prompt = page.locator("[data-slide]:not([hidden]) .slide-prompt").inner_text()
    assert "test card" in first_prompt
    font = page.evaluate(
        "() => parseFloat(getComputedStyle("
        "document.querySelector('[data-slide]:not([hidden]) .slide-prompt')).fontSize)"
    )
    assert font >= 28, f"the prompt is in {font}px type on a projector"
    page.keyboard.press("ArrowRight")
    wait_for(lambda: page.evaluate(visible) == 1, timeout=10, what="the next video")
    assert page.inner_text("[data-present-count]") == "2 of 3" and "at=1" in page.url
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    wait_for(lambda: page.evaluate(visible) == 2, timeout=10, what="the last video, going round")
    screenshot(page, "present-one-1920", full_page=False)
    page.set_viewport_size({"width": 375, "height": 740})
    assert_no_sideways_scroll(page, "presentation on a phone")
    box = page.evaluate(
        "() => document.querySelector('[data-slide]:not([hidden]) video').getBoundingClientRect().bottom"
    )
    assert box <= 740, "the video is below the phone's screen"
    page.context.close()


def test_screenshots_of_the_new_pages_in_both_languages_and_schemes(chromium, team, finished):
    """docs/screenshots: the job card, the shared page, a presentation, at 1440 and 375 px, light and dark,
    English and Chinese. Each page is checked for sideways scrolling as it is taken."""
    page = member_page(chromium, team)
    page.goto(finished["1:1"])
    page.click("[data-share]")
    link = page.inner_text("#share-url").strip()
    ids = [url.rsplit("/", 1)[1] for url in finished.values()]
    present = "/present?" + "&".join(f"id={i}" for i in ids[:3])
    page.context.close()
    for lang in ("en", "zh"):
        for scheme in ("light", "dark"):
            for width, height in ((1440, 900), (375, 740)):
                member = member_page(chromium, team, width, height, color_scheme=scheme)
                member.context.add_cookies([{"name": "lang", "value": lang, "url": team.base_url}])
                for name, url in (
                    ("job", finished["1:1"]),
                    ("present-side", present + "&layout=side"),
                    ("present-one", present + "&layout=one"),
                    ("history", "/jobs"),
                    ("usage", "/usage"),
                ):
                    member.goto(url)
                    time.sleep(0.3)
                    assert_no_sideways_scroll(member, f"{name} {lang} {scheme} {width}")
                    screenshot(
                        member,
                        f"showing-{name}-{lang}-{scheme}-{width}",
                        full_page=name not in ("present-side", "present-one"),
                    )
                member.goto(link)
                time.sleep(0.3)
                assert_no_sideways_scroll(member, f"shared {lang} {scheme} {width}")
                screenshot(member, f"showing-shared-{lang}-{scheme}-{width}")
                member.context.close()


def test_the_usage_page_adds_up_the_jobs_made_here(chromium, team, finished):
    page = member_page(chromium, team)
    page.goto("/usage?period=today")
    month = page.locator("[data-usage-period='month']").inner_text()
    assert "4 jobs" in month and "CN¥2.00" in month, month  # four 1 s demo jobs at CN¥0.50 a second
    assert "Ana" in page.locator("table[data-usage-person]").inner_text()
    assert_no_sideways_scroll(page, "the usage page")
    page.context.close()
