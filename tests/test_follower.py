"""The follower: every job the app created is taken to its end on the server, whether anyone watches or not,
through restarts, with one status read and one fetch at a time across workers; pages never wait on the API."""

import sqlite3
import threading
import time

import pytest
import requests
from werkzeug.wrappers import Response

from app.jobs.follower import ARCHIVE_TRIES_PAST_EXPIRY
from app.upstream import Job
from support.client import submit
from support.pages import hidden_value
from support.servers import AppProcess, DemoAPIProcess
from support.upstreams import ScriptedUpstream, job_body, json_response
from support.waiting import wait_for


def send_form(app, **fields):
    """Submit the form as a browser would, but never open the job page afterwards."""
    browser = requests.Session()
    token = hidden_value(browser.get(app.base_url + "/", timeout=10).text)
    data = {
        "csrf_token": token,
        "prompt": "A heron standing in a misty pond",
        "duration": "1",
        "width": "160",
        "height": "96",
        "fps": "8",
        **fields,
    }
    resp = browser.post(app.base_url + "/jobs", data=data, allow_redirects=False, timeout=30)
    assert resp.status_code == 303, resp.text[:300]
    return resp.headers["Location"].rsplit("/", 1)[1]


def stored(app, job_id):
    """The job's row read straight from the app's SQLite file (no page asked for anything)."""
    with sqlite3.connect(f"{app.data_dir}/jobs.sqlite3") as db:
        db.row_factory = sqlite3.Row
        return db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()


@pytest.fixture
def demo(tmp_path):
    server = DemoAPIProcess(tmp_path / "demo", min_render_seconds=2).start()
    yield server
    server.stop()


def demo_env(demo):
    return {"VIDEO_API_BASE_URL": demo.base_url, "VIDEO_API_KEY": demo.key}


def test_a_job_nobody_opens_is_archived_within_seconds_of_completing(demo, tmp_path):
    app = AppProcess(tmp_path / "app", demo_env(demo)).start()
    try:
        job_id = send_form(app)
        row = wait_for(
            lambda: (r := stored(app, job_id)) and r["archive"] == "archived" and r,
            what="archiving a job nobody looked at",
        )
        assert row["status"] == "completed"
        finished_upstream = requests.get(
            f"{demo.base_url}/v1/videos/{job_id}", timeout=5, headers={"Authorization": "Bearer demo"}
        ).json()["completed_at"]
        assert row["archived_at"] - finished_upstream < 10  # seconds after completing, not on a page view
        videos = list((tmp_path / "app" / "archive").rglob("*.mp4"))
        assert len(videos) == 1 and videos[0].stat().st_size > 1000
        log = app.log()
        assert f"GET /jobs/{job_id}" not in log  # nobody opened it
    finally:
        app.stop()


def test_a_job_whose_app_restarted_mid_render_is_still_archived(demo, tmp_path):
    app = AppProcess(tmp_path / "app", demo_env(demo)).start()
    job_id = send_form(app, duration="2")
    app.stop()  # gone while the video is being made
    auth = {"Authorization": "Bearer demo"}
    wait_for(
        lambda: (
            requests.get(f"{demo.base_url}/v1/videos/{job_id}", headers=auth, timeout=5).json()["status"] == "completed"
        ),
        what="the render",
    )
    assert stored(app, job_id)["archive"] == "none"
    app = AppProcess(tmp_path / "app", demo_env(demo), port=app.port).start()
    try:
        row = wait_for(
            lambda: (r := stored(app, job_id)) and r["archive"] == "archived" and r, what="archiving after the restart"
        )
        assert row["status"] == "completed"
    finally:
        app.stop()


def test_with_the_status_call_hanging_and_people_watching_the_form_still_loads(tmp_path):
    release = threading.Event()

    def handler(req):
        if req.method == "POST":
            return json_response(job_body("video_hang"))
        if req.path == "/v1/videos/video_hang":
            release.wait(60)  # the upstream hangs on status reads
        return json_response(job_body("video_hang", status="in_progress", progress=5))

    upstream = ScriptedUpstream(handler=handler)
    app = AppProcess(
        tmp_path / "app", {"VIDEO_API_BASE_URL": upstream.url, "VIDEO_API_KEY": "k", "VIDEO_API_TIMEOUT": "60"}
    ).start()
    try:
        job_id = send_form(app)
        wait_for(lambda: any(r.path == "/v1/videos/video_hang" for r in upstream.requests), what="a status read")
        stop, answers, failures = time.monotonic() + 4, [], []

        def viewer():
            with requests.Session() as s:
                while time.monotonic() < stop:
                    try:
                        answers.append(s.get(f"{app.base_url}/jobs/{job_id}/status", timeout=5).status_code)
                        answers.append(s.get(f"{app.base_url}/jobs/{job_id}", timeout=5).status_code)
                    except requests.RequestException as exc:
                        failures.append(exc)

        viewers = [threading.Thread(target=viewer) for _ in range(12)]
        for v in viewers:
            v.start()
        forms = []
        while time.monotonic() < stop:
            forms.append(requests.get(app.base_url + "/", timeout=5).status_code)
            time.sleep(0.2)
        for v in viewers:
            v.join()
        assert forms and set(forms) == {200}, forms
        assert not failures and len(answers) > 100 and set(answers) == {200}
        hanging = [r for r in upstream.requests if r.path == "/v1/videos/video_hang"]
        assert len(hanging) == 1  # one status read in flight, however many people watch
    finally:
        release.set()
        app.stop()
        upstream.stop()


def test_one_status_read_and_one_fetch_at_a_time_across_two_workers(tmp_path, tiny_mp4):
    lock, in_flight, most, reads, fetches = threading.Lock(), {}, {}, {}, {}

    def handler(req):
        if req.method == "POST":
            job_id = f"video_{len([r for r in upstream.requests if r.method == 'POST'])}"
            return json_response(job_body(job_id))
        if req.path == "/v1/models":
            return json_response({"data": []})
        job_id = req.path.split("/")[3]
        if req.path.endswith("/content"):
            if req.args.get("variant") == "thumbnail":
                return Response("none", 404)
            with lock:
                fetches[job_id] = fetches.get(job_id, 0) + 1
            time.sleep(0.5)
            return Response(tiny_mp4, mimetype="video/mp4")
        with lock:
            in_flight[job_id] = in_flight.get(job_id, 0) + 1
            most[job_id] = max(most.get(job_id, 0), in_flight[job_id])
            reads[job_id] = reads.get(job_id, 0) + 1
            done = reads[job_id] >= 4
        time.sleep(0.3)
        with lock:
            in_flight[job_id] -= 1
        return json_response(
            job_body(job_id, status="completed" if done else "in_progress", progress=25 * reads[job_id])
        )

    upstream = ScriptedUpstream(handler=handler)
    app = AppProcess(
        tmp_path / "app",
        {"VIDEO_API_BASE_URL": upstream.url, "VIDEO_API_KEY": "k", "WEB_WORKERS": "2", "STATUS_CACHE_SECONDS": "0"},
    ).start()
    try:
        ids = [send_form(app, prompt=f"job {i}") for i in range(3)]
        for job_id in ids:
            wait_for(lambda j=job_id: stored(app, j)["archive"] == "archived", what=f"archiving {job_id}")
        time.sleep(1)  # any duplicate work would show up now
        assert set(most) == set(ids) and max(most.values()) == 1, most
        assert fetches == dict.fromkeys(ids, 1), fetches
    finally:
        app.stop()
        upstream.stop()


# --- pacing, stalls and archive retries, one follower round at a time -----------------------------------


def running_upstream(progress=10, hint=None):
    def handler(req):
        if req.method == "GET" and req.path.startswith("/v1/videos/"):
            headers = {"openai-poll-after-ms": str(hint)} if hint else None
            return json_response(
                job_body(req.path.rsplit("/", 1)[1], status="in_progress", progress=progress), headers=headers
            )
        return json_response({"data": []})

    return handler


def test_the_upstreams_poll_hint_is_honoured_and_old_jobs_are_read_less_often(make_app, upstream):
    upstream.handler = running_upstream(hint=7000)
    app = make_app(upstream.url, follow=False)
    store, follower = app.extensions["studio"].store, app.extensions["studio"].follower
    store.add(Job(id="video_fresh", status="queued"), {"prompt": "fresh"})
    store.add(Job(id="video_old", status="queued"), {"prompt": "old"})
    store.db.execute("UPDATE jobs SET submitted_at = submitted_at - 7200 WHERE id = 'video_old'")
    upstream.handler = running_upstream(hint=None)
    now = time.time()
    follower.clock = lambda: now  # the follower's clock stands still: intervals are exact
    follower.run_once()
    fresh, old = store.get("video_fresh"), store.get("video_old")
    assert fresh.job.progress == 10 and old.job.progress == 10
    assert _next(store, "video_fresh") - now == 1.0  # a new job: once a second
    assert 30 * 0.85 <= _next(store, "video_old") - now <= 30 * 1.15  # two hours old: every 30 s, give or take
    store.db.execute("UPDATE jobs SET next_check_at = 0")
    upstream.handler = running_upstream(hint=7000)
    follower.run_once()
    assert 7 * 0.85 <= _next(store, "video_fresh") - now <= 7 * 1.15  # the upstream asked for 7 s


def _next(store, job_id):
    with store.db.connect() as db:
        return db.execute("SELECT next_check_at FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]


def test_a_job_that_stops_changing_is_marked_stalled_and_can_be_checked_again(make_app, upstream):
    upstream.handler = running_upstream(progress=40)
    app = make_app(upstream.url, follow=False, stall_after_minutes=1)
    store, follower, client = app.extensions["studio"].store, app.extensions["studio"].follower, app.test_client()
    clock = [time.time()]
    store.clock = follower.clock = lambda: clock[0]  # one clock for both: two minutes pass in no time
    store.add(Job(id="video_stuck", status="in_progress", progress=40), {"prompt": "stuck"})
    follower.run_once()
    assert "seems stuck" not in client.get("/jobs/video_stuck").get_data(as_text=True)
    clock[0] += 120  # two minutes without a change
    follower.run_once()
    page = client.get("/jobs/video_stuck").get_data(as_text=True)
    assert "This job seems stuck" in page and "Check again" in page
    assert client.get("/jobs/video_stuck/status").get_json()["stalled"] is True
    assert "seems stuck" in client.get("/jobs").get_data(as_text=True)
    assert _next(store, "video_stuck") - clock[0] > 50  # and it is asked less often
    token = hidden_value(page)
    resp = client.post("/jobs/video_stuck/check", data={"csrf_token": token})
    assert resp.status_code == 303
    assert client.get("/jobs/video_stuck/status").get_json()["stalled"] is False
    assert _next(store, "video_stuck") == 0  # read again at the next round


def test_a_job_the_api_stops_answering_about_is_marked_stalled_too(make_app, upstream):
    upstream.handler = lambda req: json_response({"error": {"message": "upstream maintenance"}}, 503)
    app = make_app(upstream.url, follow=False, stall_after_minutes=1)
    store, follower, client = app.extensions["studio"].store, app.extensions["studio"].follower, app.test_client()
    store.add(Job(id="video_quiet", status="in_progress", progress=40), {"prompt": "quiet"})
    store.db.execute("UPDATE jobs SET answered_at = answered_at - 120, submitted_at = submitted_at - 120")
    follower.run_once()
    state = client.get("/jobs/video_quiet/status").get_json()
    assert state["stalled"] is True and "upstream maintenance" in state["check_error"]
    assert "has not answered" in state["card_html"] and "upstream maintenance" in state["card_html"]


def failing_content(tiny_mp4, fail):
    def handler(req):
        if req.path.endswith("/content"):
            if fail["on"]:
                return Response("<html><title>502 Bad Gateway</title></html>", 502, content_type="text/html")
            if req.args.get("variant") == "thumbnail":
                return Response("none", 404)
            return Response(tiny_mp4, mimetype="video/mp4")
        return json_response(job_body("x"))

    return handler


def test_a_failed_archive_is_retried_with_backoff_until_the_api_copy_expires(make_app, upstream, tiny_mp4):
    fail = {"on": True}
    upstream.handler = failing_content(tiny_mp4, fail)
    app = make_app(upstream.url, follow=False)
    store, follower, client = app.extensions["studio"].store, app.extensions["studio"].follower, app.test_client()
    store.add(
        Job(id="video_retry", status="completed", progress=100, expires_at=int(time.time()) + 3600), {"prompt": "r"}
    )
    now = time.time()
    follower.clock = lambda: now
    follower.run_once()
    first = store.get("video_retry")
    assert first.archive == "retrying" and "502" in first.archive_error
    assert 15 * 0.85 <= first.archive_next_at - now <= 15 * 1.15
    store.db.execute("UPDATE jobs SET archive_next_at = 0 WHERE id = 'video_retry'")
    follower.run_once()
    second = store.get("video_retry")
    assert second.archive == "retrying" and 30 * 0.85 <= second.archive_next_at - now <= 30 * 1.15  # backing off
    fail["on"] = False
    store.db.execute("UPDATE jobs SET archive_next_at = 0 WHERE id = 'video_retry'")
    follower.run_once()
    assert store.get("video_retry").archive == "archived"
    assert client.get("/jobs/video_retry/video/0.mp4").data == tiny_mp4


def test_after_the_api_copy_expired_the_app_gives_up_and_offers_fetch_again(make_app, upstream, tiny_mp4):
    fail = {"on": True}
    upstream.handler = failing_content(tiny_mp4, fail)
    app = make_app(upstream.url, follow=False)
    store, follower, client = app.extensions["studio"].store, app.extensions["studio"].follower, app.test_client()
    now = time.time()
    store.add(Job(id="video_gone", status="completed", progress=100, expires_at=int(now) + 5), {"prompt": "g"})
    store.clock = follower.clock = lambda: now + 10  # the API's copy expired five seconds ago
    # An expiry may be the API's clock, not ours: a few tries all the same, then the app stops.
    for _ in range(ARCHIVE_TRIES_PAST_EXPIRY - 1):
        follower.run_once()
        assert store.get("video_gone").archive == "retrying"
        store.db.execute("UPDATE jobs SET archive_next_at = 0 WHERE id = 'video_gone'")
    follower.run_once()
    state = client.get("/jobs/video_gone/status").get_json()
    assert state["archive"] == "failed" and state["finished"] is True
    assert "stopped trying" in state["card_html"] and "Fetch again" in state["card_html"]
    fail["on"] = False
    page = client.get("/jobs/video_gone").get_data(as_text=True)
    assert client.post("/jobs/video_gone/fetch", data={"csrf_token": hidden_value(page)}).status_code == 303
    follower.run_once()
    assert client.get("/jobs/video_gone/status").get_json()["archive"] == "archived"


def test_uploads_unused_for_longer_than_the_keep_period_are_deleted(make_app, upstream, tmp_path):
    import os

    from support.media import make_png

    app = make_app(upstream.url, follow=False, upload_keep_days=7)
    client = app.test_client()
    import io

    resp = submit(client, {"prompt": "with a picture"}, files={"image_file": (io.BytesIO(make_png()), "p.png")})
    assert resp.status_code == 303
    folder = tmp_path / "data" / "uploads"
    kept = list(folder.iterdir())
    assert len(kept) == 1
    old = folder / ("0" * 32 + ".png")
    old.write_bytes(make_png(320, 320))
    month_ago = time.time() - 30 * 86400
    os.utime(old, (month_ago, month_ago))
    abandoned, arriving = folder / "tmpabandoned.upload", folder / "tmparriving.upload"
    for partial, age in ((abandoned, 2 * 3600), (arriving, 60)):  # a killed worker's spool, and a live one
        partial.write_bytes(b"\x89PNG half of it")
        os.utime(partial, (time.time() - age, time.time() - age))
    app.extensions["studio"].follower.housekeeping()
    assert not old.exists() and kept[0].exists()
    assert not abandoned.exists() and arriving.exists()


def _dead_pid():
    import subprocess

    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_fetch_whose_worker_died_is_taken_over_at_once_and_its_part_files_removed(make_app, upstream, tiny_mp4):
    import os

    from app.core.instance import instance_id

    upstream.handler = failing_content(tiny_mp4, {"on": False})
    app = make_app(upstream.url, follow=False)
    store, follower = app.extensions["studio"].store, app.extensions["studio"].follower
    store.add(Job(id="video_orphan", status="completed", progress=100), {"prompt": "o"})
    dead = _dead_pid()
    assert store.claims.claim_archive("video_orphan", 600, holder=f"{instance_id()}:{dead}")  # a 10-minute lease...
    archive = app.extensions["studio"].archive
    folder = archive.job_dir("video_orphan")
    os.makedirs(folder, exist_ok=True)
    left = os.path.join(folder, f"0.mp4.{dead}.1234.part")
    with open(left, "wb") as fh:
        fh.write(b"half a video")
    live = os.path.join(folder, f"1.mp4.{os.getpid()}.1234.part")
    with open(live, "wb") as fh:
        fh.write(b"being written")
    follower.run_once()  # ...broken at once: its worker is gone
    assert store.get("video_orphan").archive == "archived"
    follower.housekeeping()
    assert not os.path.exists(left) and os.path.exists(live)  # a live worker's download is left alone


def test_a_job_whose_api_clock_is_ahead_shows_the_time_since_it_was_sent(make_app, upstream):
    upstream.handler = lambda req: json_response({"data": []})
    app = make_app(upstream.url, follow=False)
    store = app.extensions["studio"].store
    store.add(
        Job(id="video_ahead", status="in_progress", progress=10, created_at=int(time.time()) + 3600),
        {"prompt": "ahead"},
    )
    store.db.execute("UPDATE jobs SET submitted_at = ? WHERE id = 'video_ahead'", (time.time() - 150,))
    card = app.test_client().get("/jobs/video_ahead").get_data(as_text=True)
    assert "Running for" in card and "2 min" in card


def test_an_overloaded_api_is_left_alone_by_every_job_for_as_long_as_it_asks(make_app, upstream):
    """429 with Retry-After: 60 on a status read pauses every job's reads (one pause, shared through the
    store), and the job that heard it waits at least that long."""
    reads = []

    def handler(req):
        if req.method == "GET" and req.path.startswith("/v1/videos/"):
            reads.append(req.path)
            return json_response(
                {"error": {"message": "busy, try later", "type": "rate_limit"}}, 429, headers={"Retry-After": "60"}
            )
        return json_response({"data": []})

    upstream.handler = handler
    app = make_app(upstream.url, follow=False)
    store, follower = app.extensions["studio"].store, app.extensions["studio"].follower
    for n in range(5):
        store.add(Job(id=f"video_{n}", status="queued"), {"prompt": f"job {n}"})
    now = time.time()
    follower.clock = lambda: now
    for _ in range(3):
        follower.run_once()
    assert len(reads) == 1  # one read heard "wait", nobody asked again
    asked = reads[0].rsplit("/", 1)[1]
    assert _next(store, asked) - now >= 60
    assert store.claims.upstream_paused_until() == now + 60  # every worker sees the pause
    other = app.extensions["studio"].follower.__class__(
        app.extensions["studio"].api, store, app.extensions["studio"].archive
    )
    other.clock = lambda: now + 30
    other.run_once()  # another worker, half-way through the pause
    assert len(reads) == 1
    other.clock = lambda: now + 61
    upstream.handler = running_upstream()
    other.run_once()
    assert {store.get(f"video_{n}").job.progress for n in range(5)} >= {10}


def test_retry_after_on_one_job_delays_only_that_job(make_app, upstream):
    def handler(req):
        if req.path == "/v1/videos/video_slow":
            return Response("not yet", 404, headers={"Retry-After": "45"})
        return running_upstream()(req)

    upstream.handler = handler
    app = make_app(upstream.url, follow=False)
    store, follower = app.extensions["studio"].store, app.extensions["studio"].follower
    store.add(Job(id="video_slow", status="queued"), {"prompt": "slow"})
    store.add(Job(id="video_quick", status="queued"), {"prompt": "quick"})
    now = time.time()
    follower.clock = lambda: now
    follower.run_once()
    assert _next(store, "video_slow") - now >= 45 and _next(store, "video_quick") - now == 1.0
    assert store.claims.upstream_paused_until() == 0.0
