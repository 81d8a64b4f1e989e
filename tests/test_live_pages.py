"""Live pages tell the truth, in a real Chromium: the job page and the history update in place as the
follower learns things, say when the API is not answering, follow the status in the tab title, offer
"Try again" and "Fetch again" when they apply, and stop asking once a job is gone."""

import re
import threading
import time

import pytest
import requests
from werkzeug.wrappers import Response

from support.browser import CHROMIUM, CHROMIUM_ARGS, assert_accessible, require_browser, screenshot
from support.pages import hidden_value
from support.servers import AppProcess
from support.upstreams import ScriptedUpstream, job_body, json_response

pytestmark = pytest.mark.browser


class ControlledUpstream:
    """A loopback upstream whose jobs do whatever the test sets in `jobs`, `status_down` and `content_down`."""

    def __init__(self, video):
        self.video, self.jobs, self.lock = video, {}, threading.Lock()
        self.status_down, self.content_down = None, False
        self.server = ScriptedUpstream(handler=self.handle)
        self.url = self.server.url

    def handle(self, req):
        if req.path == "/v1/models":
            return json_response({"data": [{"id": "kling-v1"}]})
        if req.method == "POST":
            with self.lock:
                job_id = f"video_live{len(self.jobs) + 1}"
                self.jobs[job_id] = {"status": "queued", "progress": 0}
            return json_response(job_body(job_id))
        job_id = req.path.split("/")[3]
        if req.path.endswith("/content"):
            if self.content_down:
                return Response("<html><title>502 Bad Gateway</title></html>", 502, content_type="text/html")
            if req.args.get("variant") == "thumbnail":
                return Response("", 404)
            return Response(self.video, mimetype="video/mp4")
        if self.status_down:
            return json_response({"error": {"message": self.status_down}}, 503)
        return json_response(job_body(job_id, **self.jobs.get(job_id, {"status": "queued"})))

    def set(self, job_id, **state):
        with self.lock:
            self.jobs[job_id] = state


@pytest.fixture(scope="module")
def live(tmp_path_factory, tiny_mp4):
    require_browser()
    from playwright.sync_api import sync_playwright

    upstream = ControlledUpstream(tiny_mp4)
    app = AppProcess(
        tmp_path_factory.mktemp("live") / "app",
        {"VIDEO_API_BASE_URL": upstream.url, "VIDEO_API_KEY": "k", "STATUS_CACHE_SECONDS": "0"},
    ).start()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield app, upstream, browser
        browser.close()
    app.stop()
    upstream.server.stop()


@pytest.fixture
def page(live):
    app, _, browser = live
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=app.base_url)
    page = context.new_page()
    yield page
    context.close()


def send(page, prompt):
    page.goto("/")
    page.fill("#prompt", prompt)
    page.click("[data-submit]")
    page.wait_for_url(re.compile(r"/jobs/video_live\d+$"))
    page.evaluate("window.__sameDocument = true")
    return page.url.rsplit("/", 1)[1]


def until(page, check, what, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    screenshot(page, "live-" + re.sub(r"\W+", "-", what))
    raise AssertionError(f"the page never showed {what}")


def card_text(page):
    return page.inner_text("[data-job-card]")


def test_the_job_page_follows_the_api_going_quiet_and_the_job_failing_without_a_reload(live, page):
    _, upstream, _ = live
    job_id = send(page, "A kite over the dunes")
    upstream.set(job_id, status="in_progress", progress=40)
    until(page, lambda: page.get_attribute("[data-progress]", "value") == "40", "40 % progress")
    assert page.title().startswith("In progress · A kite over the dunes")
    assert "Last checked" in card_text(page)

    upstream.status_down = "服务维护中 maintenance window"
    until(page, lambda: "not answering status checks" in card_text(page), "the API going quiet")
    assert "服务维护中 maintenance window" in card_text(page)
    screenshot(page, "job-api-not-answering-1440")
    assert_accessible(page, "a job whose API is not answering")

    upstream.status_down = None
    upstream.set(
        job_id,
        status="failed",
        progress=40,
        error={"message": "Content policy: the prompt was blocked", "code": "policy"},
    )
    until(page, lambda: page.get_attribute("[data-job-card]", "data-status") == "failed", "the failure")
    assert "Content policy: the prompt was blocked" in card_text(page)
    assert page.locator("[data-job-card] >> text=Try again").is_visible()
    assert page.locator("text=Use these settings again").count() == 0
    assert page.title().startswith("Failed · A kite over the dunes")
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    screenshot(page, "job-failed-live-1440")


def test_a_failed_fetch_keeps_the_page_following_and_fetch_again_brings_the_video(live, page):
    _, upstream, _ = live
    upstream.content_down = True
    job_id = send(page, "A tram in the snow")
    upstream.set(job_id, status="completed", progress=100)
    until(page, lambda: "could not be fetched yet" in card_text(page), "the failed fetch")
    assert "502" in card_text(page) and page.locator("text=Fetch again").is_visible()
    assert page.title().startswith("Completed")
    assert page.get_attribute("[data-job-card]", "data-settled") == "false"  # still following
    screenshot(page, "job-fetch-failed-1440")
    upstream.content_down = False
    page.click("text=Fetch again")
    page.locator("video[data-video]").wait_for(timeout=20000)
    assert "The video will be fetched again now." in page.inner_text("main")


def test_history_rows_of_unfinished_jobs_update_in_place(live, page):
    _, upstream, _ = live
    job_id = send(page, "A lantern festival on the river")
    upstream.set(job_id, status="in_progress", progress=10)
    page.goto("/jobs")
    page.evaluate("window.__sameDocument = true")
    row = page.locator(f"[data-history-row][data-job-id='{job_id}']")
    until(page, lambda: "10%" in row.inner_text(), "the running row")
    upstream.set(job_id, status="completed", progress=100)
    until(page, lambda: "Completed" in row.locator(".badge").inner_text(), "the row completing")
    until(
        page, lambda: row.locator("img").count() == 1 or row.get_attribute("data-live") == "false", "the row settling"
    )
    assert page.evaluate("window.__sameDocument") is True, "the history reloaded"
    video = row.locator("video[data-hover-play]")
    until(page, lambda: video.count() == 1, "the replaced row's video")
    row.hover()  # the row was replaced in place: it plays on hover like the ones the page came with
    until(page, lambda: video.evaluate("v => !v.paused && v.currentTime > 0"), "the replaced row playing on hover")
    assert_accessible(page, "history with live rows")


def test_the_page_stops_asking_once_the_job_is_deleted_elsewhere(live, page):
    app, upstream, _ = live
    job_id = send(page, "A job deleted in another tab")
    upstream.set(job_id, status="in_progress", progress=20)
    until(page, lambda: page.get_attribute("[data-progress]", "value") == "20", "the running job")
    other = requests.Session()
    token = hidden_value(other.get(f"{app.base_url}/jobs/{job_id}", timeout=10).text)
    assert other.post(f"{app.base_url}/jobs/{job_id}/delete", data={"csrf_token": token}, timeout=10).ok
    until(page, lambda: page.is_visible("[data-live-problem]"), "the deletion")
    assert "no longer in the history" in page.inner_text("[data-live-problem]")
    asked = []
    page.on("request", lambda r: asked.append(r.url) if r.url.endswith("/status") else None)
    time.sleep(3)
    assert asked == [], f"the page kept polling a deleted job: {asked}"


def test_history_cards_play_their_video_on_hover(live, page):
    _, upstream, _ = live
    job_id = send(page, "A heron taking off")
    upstream.set(job_id, status="completed", progress=100)
    page.locator("video[data-video]").wait_for(timeout=20000)
    page.goto("/jobs")
    card = page.locator(f"[data-history-row][data-job-id='{job_id}']")
    video = card.locator("video[data-hover-play]")
    assert video.evaluate("v => v.paused") is True
    card.hover()
    until(page, lambda: video.evaluate("v => !v.paused && v.currentTime > 0"), "the video playing on hover")
    page.mouse.move(0, 0)
    until(page, lambda: video.evaluate("v => v.paused"), "the video pausing when the pointer leaves")
    screenshot(page, "history-gallery-1440")
    assert_accessible(page, "the history gallery")
