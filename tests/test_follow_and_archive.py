"""Following a job to its video against the demo API: archive, playback with Range, and survival of
an upstream that goes away and an app that restarts."""

import io
import re
import time

import av
import pytest
import requests

from support.pages import Page, hidden_value
from support.servers import AppProcess, DemoAPIProcess


def app_env(demo):
    return {"VIDEO_API_BASE_URL": demo.base_url, "VIDEO_API_KEY": demo.key}


@pytest.fixture
def demo(tmp_path):
    server = DemoAPIProcess(tmp_path / "demo", min_render_seconds=1.5).start()
    yield server
    server.stop()


def submit(app, **fields):
    browser = requests.Session()
    form = browser.get(app.base_url + "/", timeout=10).text
    token = hidden_value(form)
    data = {
        "csrf_token": token,
        "prompt": "A paper boat on a rainy street",
        "duration": "1",
        "width": "320",
        "height": "180",
        "fps": "10",
        **fields,
    }
    resp = browser.post(app.base_url + "/jobs", data=data, timeout=30)
    assert resp.status_code == 200, resp.text[:300]
    return browser, resp.url.rsplit("/", 1)[1]


def follow(browser, app, job_id, timeout=60):
    """Poll the status endpoint as the page's script does, until nothing more will change."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = browser.get(f"{app.base_url}/jobs/{job_id}/status", timeout=10).json()
        seen.append((state["status"], state["progress"], state["archive"]))
        if state["finished"]:
            return state, seen
        time.sleep(0.2)
    raise AssertionError(f"job never settled: {seen[-3:]}")


def test_follow_to_completed_archive_and_play_even_after_the_upstream_is_gone(demo, tmp_path):
    app = AppProcess(tmp_path / "app", app_env(demo)).start()
    try:
        browser, job_id = submit(app)
        state, seen = follow(browser, app, job_id)
        assert state["status"] == "completed" and state["archive"] == "archived"
        # What the page saw only moves forward (how many polls caught each state depends on the machine's
        # load, so it is not asserted: a busy follower may read "queued", then "completed").
        order = {"sending": 0, "queued": 1, "in_progress": 2, "completed": 3}
        steps = [order[s] for s, _, _ in seen]
        assert steps == sorted(steps), f"the status went backwards: {seen}"
        progress = [p for _, p, _ in seen]
        assert progress == sorted(progress), f"progress went backwards: {progress}"
        assert "<video" in state["card_html"]

        page = browser.get(f"{app.base_url}/jobs/{job_id}", timeout=10).text
        video_url = Page(page).find("source", type="video/mp4")[0].attrs["src"]
        poster_url = Page(page).find("video")[0].attrs["poster"]
        video = browser.get(app.base_url + video_url, timeout=10)
        assert video.status_code == 200 and video.headers["Content-Type"] == "video/mp4"
        with av.open(io.BytesIO(video.content)) as container:
            stream = container.streams.video[0]
            assert (stream.codec_context.width, stream.codec_context.height) == (320, 180)
            assert sum(1 for _ in container.decode(stream)) == 10
        # Ranges under gunicorn (sent with sendfile from the seeked offset), one after another on the same
        # keep-alive connection: a byte too many would corrupt the next answer.
        size = len(video.content)
        for header, want in [
            ("bytes=1000-1999", video.content[1000:2000]),
            ("bytes=-300", video.content[-300:]),
            (f"bytes={size - 700}-", video.content[-700:]),
            ("bytes=0-0", video.content[:1]),
            (f"bytes=5-{size * 2}", video.content[5:]),
        ]:
            part = browser.get(app.base_url + video_url, headers={"Range": header}, timeout=10)
            assert part.status_code == 206 and part.content == want, header
            assert int(part.headers["Content-Length"]) == len(want)
        assert browser.get(app.base_url + poster_url, timeout=10).headers["Content-Type"] == "image/jpeg"
        download = browser.get(app.base_url + video_url + "?download=1", timeout=10)
        assert re.search(
            r"attachment; filename=a_paper_boat_on_a_rainy_street-[0-9a-f]{8}\.mp4",
            download.headers["Content-Disposition"],
        )

        demo.stop()  # the upstream goes away: the archived copy keeps playing
        assert browser.get(app.base_url + video_url, timeout=10).content == video.content
        assert browser.get(f"{app.base_url}/jobs/{job_id}", timeout=10).status_code == 200
    finally:
        app.stop()

    again = AppProcess(tmp_path / "app", app_env(demo)).start()  # an app restart, upstream still down
    try:
        history = requests.get(f"{again.base_url}/jobs", timeout=10).text
        assert job_id in history and "A paper boat on a rainy street" in history
        assert requests.get(again.base_url + video_url, timeout=10).content == video.content
    finally:
        again.stop()


def test_a_failed_job_shows_the_upstream_error_and_offers_try_again(demo, tmp_path):
    app = AppProcess(tmp_path / "app", app_env(demo)).start()
    try:
        browser, job_id = submit(app, metadata='{"demo_fail": "content_policy_violation"}')
        state, _ = follow(browser, app, job_id)
        assert state["status"] == "failed"
        page = browser.get(f"{app.base_url}/jobs/{job_id}", timeout=10).text
        assert "The job failed" in page and "content_policy_violation" in page
        assert f'href="/?from={job_id}">Try again</a>' in page
    finally:
        app.stop()


def test_n_variants_are_all_archived_and_shown(demo, tmp_path):
    app = AppProcess(tmp_path / "app", app_env(demo)).start()
    try:
        browser, job_id = submit(app, n="2", seed="5")
        state, _ = follow(browser, app, job_id)
        assert state["archive"] == "archived"
        page = browser.get(f"{app.base_url}/jobs/{job_id}", timeout=10).text
        sources = [e.attrs["src"] for e in Page(page).find("source", type="video/mp4")]
        assert len(sources) == 2 and "Variant 2 of 2" in page
        bodies = [browser.get(app.base_url + s, timeout=10).content for s in sources]
        assert bodies[0] != bodies[1]
    finally:
        app.stop()
