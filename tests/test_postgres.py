"""DATABASE_URL: the history, claims, spending guard, sessions and sign-in counters in a real PostgreSQL 15
(started by the suite on loopback), with racing processes where correctness depends on it."""

import subprocess
import sys
import textwrap
import threading
import time

import pytest
import requests
from test_history_and_archive import lifecycle, wait_settled
from werkzeug.wrappers import Response

from app.jobs.database import NEW_WORK
from app.jobs.store import JobStore
from app.storage.postgres import PostgresDatabase
from app.upstream import Job
from support.client import submit
from support.object_store import SeaweedS3
from support.pages import hidden_value
from support.postgres import PostgresServer
from support.servers import ROOT, AppProcess
from support.upstreams import ScriptedUpstream
from support.waiting import wait_for


@pytest.fixture(scope="module")
def pg():
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def database_url(pg, request):
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    return pg.fresh_database(name)


def run_racers(count, code, timeout=120):
    """Start `count` Python processes running code together: each gets the same start time (argv[1]) a few
    seconds ahead, past its imports and connections, and waits for it. Their outputs, in order."""
    start = str(time.time() + 6)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), start],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(count)
    ]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, err[-2000:]
        outputs.append(out)
    return outputs


def test_a_job_is_recorded_followed_archived_searched_and_deleted(make_app, upstream, tiny_mp4, database_url):
    app = make_app(upstream.url, database_url=database_url, secret_key_given=True)
    client = app.test_client()
    upstream.handler = lifecycle(tiny_mp4)
    job_id = submit(client, {"prompt": "A Red Kite over the dunes"}).headers["Location"].rsplit("/", 1)[1]
    state = wait_settled(client, job_id)
    assert state["archive"] == "archived"
    assert client.get(f"/jobs/{job_id}/video/0.mp4").data == tiny_mp4
    record = app.extensions["studio"].store.get(job_id)
    assert abs(record.submitted_at - time.time()) < 120, "times keep every digit (DOUBLE PRECISION, not REAL)"
    assert record.submitted_at != round(record.submitted_at, -3)
    history = client.get("/jobs?q=red+kite").get_data(as_text=True)
    assert "A Red Kite over the dunes" in history, "the search ignores case, as on SQLite"
    assert "A Red Kite" not in client.get("/jobs?q=50%25").get_data(as_text=True)
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert client.post(f"/jobs/{job_id}/delete", data={"csrf_token": hidden_value(page)}).status_code == 303
    assert client.get(f"/jobs/{job_id}").status_code == 404
    assert PostgresDatabase(database_url).execute("DELETE FROM jobs") == 0


def test_racing_processes_claim_each_due_status_read_once(database_url):
    store = JobStore(PostgresDatabase(database_url), journal_dir="/tmp")
    for i in range(300):
        store.add(Job(id=f"video_{i:03d}", status="queued"), {"prompt": f"job {i}"})
    outputs = run_racers(
        6,
        f"""
        import sys, time
        from app.jobs.store import JobStore
        from app.storage.postgres import PostgresDatabase
        store = JobStore(PostgresDatabase({database_url!r}), journal_dir="/tmp")
        while time.time() < float(sys.argv[1]):
            time.sleep(0.001)
        mine = []
        while True:
            got = store.claims.claim_due_status_reads(time.time(), 600, 7)
            if not got:
                break
            mine += got
        print("\\n".join(mine))
        """,
    )
    claimed = [line for out in outputs for line in out.split()]
    assert len(claimed) == 300 and len(set(claimed)) == 300, "every due read claimed once, by one process"


def test_the_spending_guard_holds_its_limit_under_racing_processes(database_url):
    outputs = run_racers(
        8,
        f"""
        import sys, time
        from app.jobs.spending_guard import Allowance, LimitReached, rules_from
        from app.storage.postgres import PostgresDatabase
        guard = Allowance(PostgresDatabase({database_url!r}), rules_from("10 per minute", 0))
        guard.release(0)  # connected and ready
        while time.time() < float(sys.argv[1]):
            time.sleep(0.001)
        taken = 0
        for _ in range(5):
            try:
                guard.reserve("ana")
                taken += 1
            except LimitReached:
                pass
        print(taken)
        """,
    )
    assert sum(int(out) for out in outputs) == 10, outputs


def test_a_relay_that_reuses_an_id_replaces_the_older_row(database_url):
    store = JobStore(PostgresDatabase(database_url), journal_dir="/tmp")
    store.add(Job(id="video_same", status="completed"), {"prompt": "first"})
    store.add_sending("local-two", {"prompt": "second"})
    store.created("local-two", Job(id="video_same", status="queued"))
    record = store.get("video_same")
    assert record.params["prompt"] == "second" and record.status == "queued"
    assert store.history.search()[1] == 1


def test_two_hosts_share_the_history_the_videos_the_sessions_and_the_limits(pg, tiny_mp4, tmp_path):
    """Two gunicorn apps with their own DATA_DIRs and ports, one PostgreSQL and one S3 bucket: signed in on
    A is signed in on B; a job created on A is followed and archived once and plays with Range on B; a
    limit of 3 a minute holds across both."""
    s3 = SeaweedS3(tmp_path / "s3").start()
    upstream = ScriptedUpstream(handler=lifecycle(tiny_mp4))
    shared = {
        "VIDEO_API_BASE_URL": upstream.url,
        "VIDEO_API_KEY": "sk-two-hosts",
        "DATABASE_URL": pg.fresh_database("two_hosts"),
        "OBJECT_STORE_URL": f"s3://{s3.bucket}/two-hosts",
        "APP_PASSWORD": "team password",
        "SUBMIT_RATE_LIMIT": "3 per minute",
        **s3.env,
    }
    hosts = [AppProcess(tmp_path / name, {**shared, "INSTANCE_ID": name}) for name in ("host-a", "host-b")]
    try:
        a, b = (host.start() for host in hosts)
        with requests.Session() as browser:
            token = hidden_value(browser.get(a.base_url + "/login", timeout=30).text)
            signed_in = browser.post(
                a.base_url + "/login",
                data={"csrf_token": token, "name": "Ana", "password": "team password"},
                timeout=30,
            )
            assert signed_in.status_code == 200 and "Signed in as" in signed_in.text
            on_b = browser.get(b.base_url + "/", timeout=30)  # the same cookie, the other host
            assert "/login" not in on_b.url and "Ana" in on_b.text, "the session is known on B"

            def create(host, prompt):
                token = hidden_value(browser.get(host.base_url + "/", timeout=30).text)
                return browser.post(host.base_url + "/jobs", data={"csrf_token": token, "prompt": prompt}, timeout=60)

            first = create(a, "made on A")
            assert first.status_code == 200, first.text[:300]
            job_id = first.url.rsplit("/", 1)[1]

            def archived_on_b():
                state = browser.get(f"{b.base_url}/jobs/{job_id}/status", timeout=30).json()
                return state if state["archive"] == "archived" else None

            wait_for(archived_on_b, timeout=90, what="the job archived, as B sees it")
            whole = browser.get(f"{b.base_url}/jobs/{job_id}/video/0.mp4", timeout=30)
            assert whole.status_code == 200 and whole.content == tiny_mp4
            part = browser.get(f"{b.base_url}/jobs/{job_id}/video/0.mp4", headers={"Range": "bytes=10-99"}, timeout=30)
            assert part.status_code == 206 and part.content == tiny_mp4[10:100]
            assert "made on A" in browser.get(b.base_url + "/jobs", timeout=30).text
            assert len([k for k in s3.keys("two-hosts/archive/") if k.endswith(".mp4")]) == 1
            fetches = [r for r in upstream.requests if r.path.endswith("/content") and not r.args.get("variant")]
            assert len(fetches) == 1, "fetched once, by one host"

            assert create(b, "second, on B").status_code == 200
            assert create(a, "third, on A").status_code == 200
            refused = create(b, "fourth, on B")
            assert refused.status_code == 429 and "3 per minute" in refused.text, refused.text[:500]

        # Guessing the team password: 20 tries a minute from one address, counted across both hosts (the
        # sign-in above was the first).
        with requests.Session() as guesser:
            answers = []
            for attempt in range(20):
                host = hosts[attempt % 2]
                token = hidden_value(guesser.get(host.base_url + "/login", timeout=30).text)
                answers.append(
                    guesser.post(
                        host.base_url + "/login",
                        data={"csrf_token": token, "name": "Eve", "password": f"guess {attempt}"},
                        timeout=30,
                    ).status_code
                )
            assert answers[:19] == [401] * 19 and answers[19] == 429, answers
    finally:
        for host in hosts:
            host.stop()
        upstream.stop()
        s3.stop()


def test_a_host_killed_mid_fetch_is_taken_over_by_the_other(pg, tiny_mp4, tmp_path):
    """Host A is fetching a video when it is killed (SIGKILL: no goodbye). Its lease stops being renewed;
    once it runs out, host B takes the fetch over and the video plays from B."""
    s3 = SeaweedS3(tmp_path / "s3").start()
    first_fetch = threading.Event()

    def trickle():  # the first download hangs after a few bytes, as if the provider were slow
        yield tiny_mp4[:1000]
        first_fetch.set()
        for _ in range(300):
            time.sleep(1)
            yield b""

    normal = lifecycle(tiny_mp4)

    def handler(req):
        if req.path.endswith("/content") and not req.args.get("variant") and not first_fetch.is_set():
            return Response(trickle(), mimetype="video/mp4")
        return normal(req)

    upstream = ScriptedUpstream(handler=handler)
    shared = {
        "VIDEO_API_BASE_URL": upstream.url,
        "VIDEO_API_KEY": "sk-two-hosts",
        "DATABASE_URL": pg.fresh_database("killed_mid_fetch"),
        "OBJECT_STORE_URL": f"s3://{s3.bucket}/killed",
        **s3.env,
    }
    a = AppProcess(tmp_path / "host-a", {**shared, "INSTANCE_ID": "host-a"})
    b = AppProcess(tmp_path / "host-b", {**shared, "INSTANCE_ID": "host-b"})
    try:
        a.start()
        with requests.Session() as browser:
            token = hidden_value(browser.get(a.base_url + "/", timeout=30).text)
            sent = browser.post(a.base_url + "/jobs", data={"csrf_token": token, "prompt": "cut off"}, timeout=60)
            job_id = sent.url.rsplit("/", 1)[1]
            assert first_fetch.wait(90), "host A began the fetch"
            a.proc.kill()  # SIGKILL to gunicorn's master; its follower process dies with it (parent-death signal)
            a.proc.wait(30)
            b.start()

            def archived_on_b():
                state = browser.get(f"{b.base_url}/jobs/{job_id}/status", timeout=30).json()
                return state if state["archive"] == "archived" else None

            wait_for(archived_on_b, timeout=240, what="host B finishing the fetch A began")
            assert browser.get(f"{b.base_url}/jobs/{job_id}/video/0.mp4", timeout=30).content == tiny_mp4
            assert len([k for k in s3.keys("killed/archive/") if k.endswith(".mp4")]) == 1
    finally:
        for host in (a, b):
            host.stop()
        upstream.stop()
        s3.stop()


def test_a_job_created_on_any_host_wakes_every_follower(database_url):
    """LISTEN/NOTIFY: a follower hears of a job created through another connection (another host) when it
    is recorded, and of a person's nudge, without waiting for its next round."""
    database = PostgresDatabase(database_url)
    store = JobStore(database, journal_dir="/tmp")
    heard, stop = [], threading.Event()
    listener = threading.Thread(target=database.listen, args=(NEW_WORK, lambda: heard.append(1), stop), daemon=True)
    listener.start()
    try:
        wait_for(lambda: heard, timeout=30, what="the listener connected")  # once when it starts listening
        other_host = JobStore(PostgresDatabase(database_url), journal_dir="/tmp")
        other_host.add_sending("local-1", {"prompt": "made elsewhere"})
        assert len(heard) == 1, "a row being sent is no work yet"
        other_host.created("local-1", Job(id="video_elsewhere", status="queued"))
        wait_for(lambda: len(heard) == 2, timeout=30, what="the NOTIFY of the created job")
        assert other_host.claims.check_now("video_elsewhere")
        wait_for(lambda: len(heard) == 3, timeout=30, what="the NOTIFY of the nudge")
        assert not other_host.claims.check_now("video_nobody")
        assert store.get("video_elsewhere").status == "queued"
    finally:
        stop.set()
        listener.join(timeout=10)
