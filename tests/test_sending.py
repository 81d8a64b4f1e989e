"""Nothing paid for disappears: a job is recorded before it is sent, and a send whose outcome cannot be known
stays in the history as "may have been created"; sending that form again asks first."""

import contextlib
import os
import signal
import sqlite3
import threading
import time

import requests
from werkzeug.wrappers import Response

from support.client import submit
from support.pages import Page, hidden_value
from support.servers import AppProcess
from support.upstreams import ScriptedUpstream, job_body, json_response, slow


def test_a_job_is_in_the_history_while_it_is_being_sent(app, client, upstream):
    release = threading.Event()

    def handler(req):
        if req.method == "POST":
            release.wait(10)
            return json_response(job_body("video_sent"))
        return json_response(job_body("video_sent", status="in_progress", progress=3))

    upstream.handler = handler
    result = {}
    sender = threading.Thread(target=lambda: result.setdefault("resp", submit(app.test_client(), {"prompt": "a fox"})))
    sender.start()
    try:
        deadline = time.monotonic() + 10
        while not upstream.creates and time.monotonic() < deadline:
            time.sleep(0.05)
        history = client.get("/jobs").get_data(as_text=True)
        assert "a fox" in history and "Sending" in history  # recorded before the answer came
        (row,) = Page(history).find("li", data_history_row="")
        local_id = row.attrs["data-job-id"]
        assert local_id.startswith("local-")
    finally:
        release.set()
        sender.join()
    assert result["resp"].headers["Location"].endswith("/jobs/video_sent")
    moved = client.get(f"/jobs/{local_id}")  # the id it had while sending still works
    assert moved.status_code == 301 and moved.headers["Location"].endswith("/jobs/video_sent")
    history = client.get("/jobs").get_data(as_text=True)
    assert history.count("a fox") == 1 and "/jobs/local-" not in history


def test_a_refused_job_leaves_no_row(client, upstream):
    refusal = {"error": {"message": "prompt is not allowed", "param": "prompt"}}
    upstream.handler = lambda req: json_response(refusal, 400)
    resp = submit(client, {"prompt": "refused one"})
    assert resp.status_code == 400 and "Nothing was created" in resp.get_data(as_text=True)
    assert "No jobs yet" in client.get("/jobs").get_data(as_text=True)


def test_a_create_that_times_out_is_kept_as_may_have_been_created_and_resending_asks_first(make_app, upstream):
    upstream.handler = slow(2, json_response(job_body("video_late")))
    client = make_app(upstream.url, video_api_timeout=0.5).test_client()
    token = hidden_value(client.get("/").get_data(as_text=True))
    form = {"csrf_token": token, "prompt": "a slow relay", "submission_id": "f" * 32}
    first = client.post("/jobs", data=form)
    page = first.get_data(as_text=True)
    assert first.status_code == 504
    assert "may have been created" in page and "Nothing was created" not in page
    history = client.get("/jobs").get_data(as_text=True)
    assert "a slow relay" in history and "May have been created" in history
    job_url = Page(history).find("a", class_="history-thumb")[0].attrs["href"]
    assert job_url.startswith("/jobs/local-")
    card = client.get(job_url).get_data(as_text=True)
    assert "This job may have been created" in card and "did not answer within 0.5 s" in card

    again = client.post("/jobs", data=form)  # the same filled form, sent again
    assert again.status_code == 409 and len(upstream.creates) == 1  # nothing sent: it asks first
    text = again.get_data(as_text=True)
    assert "This form was sent before, and that job may exist" in text and "Send it again anyway" in text
    assert "a slow relay</textarea>" in text

    upstream.handler = lambda req: json_response(job_body("video_second"))
    confirmed = client.post("/jobs", data={**form, "resend": "1"})
    assert confirmed.status_code == 303 and confirmed.headers["Location"].endswith("/jobs/video_second")
    assert len(upstream.creates) == 2


def test_a_200_without_a_usable_id_is_kept_as_may_have_been_created(client, upstream):
    upstream.handler = lambda req: json_response({"object": "video", "status": "queued"})
    resp = submit(client, {"prompt": "no id came back"})
    assert resp.status_code == 502 and "may have been created" in resp.get_data(as_text=True)
    assert "May have been created" in client.get("/jobs?status=uncertain").get_data(as_text=True)


def test_a_worker_killed_mid_submit_leaves_the_job_as_may_have_been_created(tmp_path):
    created = []

    def handler(req):
        if req.method == "POST":
            created.append(req)  # the upstream makes the job (and will charge for it)...
            time.sleep(30)  # ...and the worker is killed before the answer arrives
            return json_response(job_body("video_lost"))
        return json_response({"data": []})

    upstream = ScriptedUpstream(handler=handler)
    app = AppProcess(
        tmp_path / "app",
        {"VIDEO_API_BASE_URL": upstream.url, "VIDEO_API_KEY": "k", "WEB_WORKERS": "1", "VIDEO_API_TIMEOUT": "60"},
    ).start()
    try:
        browser = requests.Session()
        token = hidden_value(browser.get(app.base_url + "/", timeout=10).text)
        sender = threading.Thread(
            target=lambda: _ignore(
                lambda: browser.post(
                    app.base_url + "/jobs", data={"csrf_token": token, "prompt": "paid for, then killed"}, timeout=40
                )
            )
        )
        sender.start()
        deadline = time.monotonic() + 10
        while not created and time.monotonic() < deadline:
            time.sleep(0.05)
        assert created, "the create never reached the upstream"
        (worker,) = app.worker_pids()
        os.kill(worker, signal.SIGKILL)
        deadline, history = time.monotonic() + 30, ""
        while time.monotonic() < deadline:
            try:
                history = requests.get(app.base_url + "/jobs", timeout=5).text
            except requests.RequestException:
                history = ""
            if "May have been created" in history:
                break
            time.sleep(0.3)
        assert "paid for, then killed" in history and "May have been created" in history
        sender.join(timeout=45)
    finally:
        app.stop()
        upstream.stop()


def _ignore(call):
    with contextlib.suppress(requests.RequestException):
        call()


def test_a_resent_form_does_not_count_against_the_rate_limit(make_app, upstream):
    client = make_app(upstream.url, submit_rate_limit="2 per minute").test_client()
    token = hidden_value(client.get("/").get_data(as_text=True))
    form_a = {"csrf_token": token, "prompt": "form A", "submission_id": "a" * 32}
    assert client.post("/jobs", data=form_a).status_code == 303
    assert client.post("/jobs", data=form_a).status_code == 303  # the same form again: its earlier job
    assert len(upstream.creates) == 1
    form_b = {"csrf_token": token, "prompt": "form B", "submission_id": "b" * 32}
    assert client.post("/jobs", data=form_b).status_code == 303  # the second real job is allowed
    assert len(upstream.creates) == 2
    form_c = {"csrf_token": token, "prompt": "form C", "submission_id": "c" * 32}
    assert client.post("/jobs", data=form_c).status_code == 429  # the third is not
    assert len(upstream.creates) == 2


def test_an_anonymous_post_under_a_team_password_is_sent_to_sign_in(make_app, upstream):
    client = make_app(upstream.url, app_password="s3cret-team").test_client()
    resp = client.post("/jobs", data={"prompt": "from a page left open"})
    assert resp.status_code == 303 and "/login?next=" in resp.headers["Location"]
    assert not upstream.creates


def test_a_history_that_cannot_be_written_sends_nothing_and_says_so(make_app, upstream, tmp_path):
    app = make_app(upstream.url, follow=False)
    client = app.test_client()
    token = hidden_value(client.get("/").get_data(as_text=True))
    database = tmp_path / "data" / "jobs.sqlite3"
    for path in (database, tmp_path / "data" / "jobs.sqlite3-wal", tmp_path / "data" / "jobs.sqlite3-shm"):
        if path.exists():
            path.unlink()
    database.mkdir()  # the history file cannot be opened (as with a broken or full disk)
    resp = client.post("/jobs", data={"csrf_token": token, "prompt": "no room", "submission_id": "d" * 32})
    text = resp.get_data(as_text=True)
    assert resp.status_code == 503 and "nothing was sent" in text and "no room</textarea>" in text
    assert not upstream.creates


def test_content_is_fetched_with_an_accept_header_asking_for_video(client, upstream, tiny_mp4):
    """An upstream that picks the format from Accept (JSON unless video is asked for)."""

    def handler(req):
        if req.method == "POST":
            return json_response(job_body("video_accept"))
        if req.path.endswith("/content"):
            if "video/" not in req.headers.get("Accept", "") or req.args.get("variant") == "thumbnail":
                return json_response({"id": "video_accept", "url": "https://expired.example/v.mp4"})
            return Response(tiny_mp4, mimetype="video/mp4")
        return json_response(job_body("video_accept", status="completed", progress=100))

    upstream.handler = handler
    assert submit(client, {"prompt": "accept"}).status_code == 303
    _wait_archive(client, "video_accept")
    assert client.get("/jobs/video_accept/video/0.mp4").data == tiny_mp4


def test_a_status_answer_carrying_another_id_updates_the_job_asked_for(client, upstream, tiny_mp4):
    def handler(req):
        if req.method == "POST":
            return json_response(job_body("video_asked"))
        if req.path.endswith("/content"):
            if req.args.get("variant") == "thumbnail":
                return Response("", 404)
            return Response(tiny_mp4, mimetype="video/mp4")
        return json_response({"task_id": "task_987", "status": "SUCCESS", "progress": "100%"})  # another id

    upstream.handler = handler
    assert submit(client, {"prompt": "relay ids"}).status_code == 303
    state = _wait_archive(client, "video_asked")
    assert state["status"] == "completed"
    assert "task_987" not in client.get("/jobs").get_data(as_text=True)


def _wait_archive(client, job_id, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(f"/jobs/{job_id}/status").get_json()
        if state["archive"] == "archived":
            return state
        time.sleep(0.1)
    raise AssertionError(f"{job_id} was never archived: {state}")


def test_a_created_job_whose_id_the_database_refuses_is_kept_in_the_journal_and_recorded_later(make_app, upstream):
    """The API made the job; SQLite is locked by another writer when its id should be written: the person is
    sent to the job all the same, and the follower records the id once the lock is gone."""
    app = make_app(upstream.url, follow=False)
    store = app.extensions["studio"].store
    store.db.database.busy_seconds = 0.1  # a write waits this long for the lock, then fails
    holder = {}

    def handler(req):
        if req.method == "POST":  # the row is written as "sending"; now another writer holds the file
            db = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
            db.execute("BEGIN EXCLUSIVE")
            holder["db"] = db
            return json_response(job_body("video_kept"))
        return json_response(job_body("video_kept", status="in_progress", progress=5))

    upstream.handler = handler
    client = app.test_client()
    resp = submit(client, {"prompt": "paid for while the database was busy"})
    assert resp.status_code == 303 and "/jobs/local-" in resp.headers["Location"]
    assert list(store.journal.pending().values())[0]["id"] == "video_kept"
    holder["db"].execute("ROLLBACK")
    holder["db"].close()
    app.extensions["studio"].follower.run_once()
    assert store.journal.pending() == {}
    assert store.get("video_kept") is not None
    page = client.get(resp.headers["Location"])
    assert page.status_code == 301 and page.headers["Location"].endswith("/jobs/video_kept")
    assert "paid for while the database was busy" in client.get("/jobs/video_kept").get_data(as_text=True)


def test_a_resend_after_its_worker_died_answers_at_once_with_the_choice_to_send_again(make_app, upstream):
    import subprocess

    from app.core.instance import instance_id

    dead = subprocess.Popen(["true"])
    dead.wait()
    app = make_app(upstream.url, follow=False)
    store = app.extensions["studio"].store
    store.add_sending("local-dead", {"prompt": "sent by a worker that died"}, sender=f"{instance_id()}:{dead.pid}")
    token = "d" * 32
    store.claim_submission(token)
    store.finish_submission(token, "local-dead")
    client = app.test_client()
    resp = client.post(
        "/jobs",
        data={
            "csrf_token": hidden_value(client.get("/").get_data(as_text=True)),
            "prompt": "sent by a worker that died",
            "submission_id": token,
        },
    )
    page = resp.get_data(as_text=True)
    assert resp.status_code == 409 and "Send it again anyway" in page
    assert store.get("local-dead").status == "uncertain" and upstream.creates == []


def test_another_instance_on_the_same_host_is_never_taken_for_a_dead_worker_of_ours(make_app, upstream, monkeypatch):
    """INSTANCE_ID: two instances with one host name. A row being sent by the other one, whose pid is not
    alive here, is its business: this instance neither settles it as lost nor offers to send it again."""
    import subprocess

    from app.core.instance import instance_id

    dead = subprocess.Popen(["true"])
    dead.wait()
    monkeypatch.setenv("INSTANCE_ID", "studio-a")
    app = make_app(upstream.url, follow=False, instance_id="studio-a")
    assert instance_id() == "studio-a"
    store = app.extensions["studio"].store
    store.add_sending("local-b", {"prompt": "sent by instance b"}, sender=f"studio-b:{dead.pid}")
    store.add_sending("local-a", {"prompt": "sent by a worker of ours that died"}, sender=f"studio-a:{dead.pid}")
    app.extensions["studio"].follower.run_once()
    assert store.get("local-b").status == "sending", "instance b's send is left to instance b"
    assert store.get("local-a").status == "uncertain", "our own dead worker's send is settled"
