"""Under gunicorn one process of its own follows the jobs (FOLLOWER=process): it follows them while the
workers serve pages, is started again when it dies, and never outlives the server, even one killed with
kill -9."""

import contextlib
import os
import signal
import subprocess
import sys
import threading

import requests

from support.pages import hidden_value
from support.servers import AppProcess
from support.upstreams import ScriptedUpstream, job_body, json_response
from support.waiting import wait_for


def gated_upstream():
    """Jobs stay in progress until done is set; each status read is counted by job."""
    done, reads = threading.Event(), {}

    def handler(req):
        if req.path == "/v1/models":
            return json_response({"data": [{"id": "kling-v1"}]})
        if req.method == "POST":
            return json_response(job_body("video_followed", status="queued"))
        job_id = req.path.split("/")[3]
        reads[job_id] = reads.get(job_id, 0) + 1
        return json_response(
            job_body(
                job_id, status="completed" if done.is_set() else "in_progress", progress=100 if done.is_set() else 30
            )
        )

    return ScriptedUpstream(handler=handler), done, reads


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


def _status(app, job_id):
    try:
        return requests.get(f"{app.base_url}/jobs/{job_id}/status", timeout=10).json()
    except (requests.RequestException, ValueError):
        return {}


def test_the_follower_process_follows_is_restarted_after_a_kill_and_dies_with_the_server(tmp_path):
    upstream, done, reads = gated_upstream()
    app = AppProcess(
        tmp_path / "app", {"VIDEO_API_BASE_URL": upstream.url, "VIDEO_API_KEY": "k", "VIDEO_API_FLAVOR": "relay"}
    )
    started = []
    try:
        app.start()
        first = wait_for(app.follower_pid, timeout=60, what="the follower process")
        wait_for(lambda: len(app.worker_pids()) == 2, timeout=60, what="two workers beside it")
        browser = requests.Session()
        token = hidden_value(browser.get(app.base_url + "/", timeout=30).text)
        browser.post(app.base_url + "/jobs", data={"csrf_token": token, "prompt": "followed"}, timeout=60)
        wait_for(
            lambda: _status(app, "video_followed").get("progress") == 30,
            timeout=60,
            what="the job read by the follower",
        )

        os.kill(first, signal.SIGKILL)  # the follower dies...
        try:
            second = wait_for(
                lambda: (pid := app.follower_pid()) not in (None, first) and pid, timeout=60, what="a new follower"
            )
        except AssertionError as exc:  # say what the server said meanwhile
            raise AssertionError(f"{exc}; the app's log ends:\n{app.log()[-3000:]}") from None
        done.set()  # ...and its successor sees the job finish
        wait_for(
            lambda: _status(app, "video_followed").get("status") == "completed",
            timeout=60,
            what="the job completed on its card",
        )
        assert "following jobs in" in app.log() and "the follower process (pid" in app.log()

        started = app.children()
        os.kill(app.proc.pid, signal.SIGKILL)  # the whole server, without warning
        wait_for(lambda: not _alive(second), timeout=30, what="the follower process stopping with the master")
    finally:
        app.stop()
        upstream.stop()
        for pid in started:  # whatever outlived the master, should a check above fail
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_the_follower_process_stops_on_sigterm_however_many_arrive(tmp_path):
    """A stop signal is only noted in its handler: one that took a lock while the main thread held it
    (an Event's, inside Event.wait) waited for ever, and orphaned followers piled up."""
    upstream = ScriptedUpstream()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEO_API_")}
    env.update(VIDEO_API_BASE_URL=upstream.url, VIDEO_API_KEY="k", DATA_DIR=str(tmp_path), SECRET_KEY="s")
    log = open(tmp_path / "follower.log", "wb")  # noqa: SIM115 - closed below, after the process
    proc = subprocess.Popen([sys.executable, "-m", "app.jobs.follower_process"], env=env, stdout=log, stderr=log)
    try:
        wait_for(
            lambda: b"following jobs in" in (tmp_path / "follower.log").read_bytes(),
            timeout=60,
            what="the follower process starting",
        )
        for _ in range(20):  # the server stopping, a supervisor, a person pressing Ctrl-C
            proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        assert b"stopped" in (tmp_path / "follower.log").read_bytes()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        upstream.stop()


def test_stopping_the_server_stops_its_follower(tmp_path):
    upstream = ScriptedUpstream()
    app = AppProcess(tmp_path / "app", {"VIDEO_API_BASE_URL": upstream.url, "VIDEO_API_KEY": "k"})
    follower = None
    try:
        app.start()
        follower = wait_for(app.follower_pid, timeout=60, what="the follower process")
        app.stop()  # SIGTERM to gunicorn, as systemd or make run's Ctrl-C does
        wait_for(lambda: not _alive(follower), timeout=60, what="the follower stopping with the server")
    finally:
        app.stop()
        upstream.stop()
        if follower is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(follower, signal.SIGKILL)
