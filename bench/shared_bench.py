"""The shared set-up of several hosts (DATABASE_URL and OBJECT_STORE_URL) on a real PostgreSQL 15 and a
real S3 API (SeaweedFS), both started here on loopback as the tests start them:
- creates per second with two hosts (two gunicorn apps sharing the database) against one host alone;
- the history page and a prompt search with 100,000 jobs in PostgreSQL, against the same pages with the
  same rows in SQLite (goal: each page under 100 ms, as for SQLite's history);
- a 1 MiB Range of an archived video from the bucket, through the app and through nginx (X-Accel-Redirect
  to a presigned address), against the same read made directly to the store with a presigned GET.
On this machine every server shares the same 2 cores, so two hosts cannot add CPU: the two-host figure
shows what sharing the database costs, not how far it scales."""

import json
import os
import random
import sqlite3
import statistics
import tempfile
import threading
import time

import psycopg
import requests

from app.jobs.store import JobStore
from app.jobs.usage import period_starts
from app.storage.objects import ObjectStore
from app.storage.postgres import PostgresDatabase
from bench import static_server
from bench.range_bench import MIB, VideoUpstream
from bench.results import Result, run_alone
from bench.servers import default_app
from tests.support import nginx, postgres
from tests.support.object_store import SeaweedS3
from tests.support.pages import hidden_value
from tests.support.postgres import PostgresServer
from tests.support.upstreams import ScriptedUpstream, job_body, json_response

JOBS = 100_000
ROUNDS = 20
RANGE_ROUNDS = 30
CLIENTS = 16
SECONDS = 5.0
SEARCH = "harbour"
WORDS = ("a paper boat on a rainy street", "a fox in the snow at dawn", "a harbour at sunrise", "a city at night")
COLUMNS = "id, submitted_at, submitted_by, prompt, model, size, seconds, status, params, job, archive, cost, currency"


def rows(count):
    """count jobs, all since this week or month began (whichever is earlier): the usage page's worst case,
    every job of the history in the periods it adds up."""
    rng, now = random.Random(7), time.time()
    span = max(3600, int(now - min(period_starts(now, "UTC").values())))
    for i in range(count):
        created = now - rng.randrange(span)
        prompt = f"{rng.choice(WORDS)}, take {i}"
        job = {"id": f"video_hist_{i:06d}", "status": "completed", "progress": 100, "created_at": created}
        yield (
            job["id"], created, f"person-{i % 12}", prompt, "kling-v1", "1280x720", "5", "completed",
            json.dumps({"prompt": prompt}), json.dumps(job), "expired",
            2.5 if i % 5 else None, "CNY" if i % 5 else None,
        )  # fmt: skip


def fill_postgres(url):
    JobStore(PostgresDatabase(url), journal_dir=tempfile.mkdtemp())  # the tables, by the migrations
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as db:
        with db.cursor().copy(f"COPY jobs ({COLUMNS}) FROM STDIN") as copy:
            for row in rows(JOBS):
                copy.write_row(row)
        db.execute("ANALYZE jobs")


def fill_sqlite(data_dir):
    store = JobStore(os.path.join(data_dir, "jobs.sqlite3"))
    with sqlite3.connect(store.path) as db:
        db.executemany(f"INSERT INTO jobs ({COLUMNS}) VALUES ({','.join('?' * 13)})", rows(JOBS))


def page_times(base_url, query="", path="/jobs", expect="video_hist_"):
    session, times = requests.Session(), []
    url = base_url + path + (f"?q={query}" if query else "")
    session.get(url, timeout=60)  # warm
    for _ in range(ROUNDS):
        began = time.perf_counter()
        resp = session.get(url, timeout=60)
        times.append(time.perf_counter() - began)
        assert resp.status_code == 200 and expect in resp.text, resp.status_code
    return statistics.median(times) * 1000


def creates_per_second(hosts):
    """CLIENTS threads creating jobs for SECONDS, spread over the hosts; jobs created per second."""
    made, stop = [0] * CLIENTS, time.monotonic() + SECONDS

    def client(i):
        host = hosts[i % len(hosts)]
        with requests.Session() as session:
            token = hidden_value(session.get(host + "/", timeout=60).text)
            while time.monotonic() < stop:
                resp = session.post(
                    host + "/jobs",
                    data={"csrf_token": token, "prompt": f"bench {i}"},
                    timeout=60,
                    allow_redirects=False,
                )
                made[i] += resp.status_code == 303

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(made) / SECONDS


def range_ms(url, size, headers_for=None):
    session, rng, times = requests.Session(), random.Random(3), []
    for _ in range(RANGE_ROUNDS):
        offset = rng.randrange(0, size - MIB)
        headers = {"Range": f"bytes={offset}-{offset + MIB - 1}"}
        began = time.perf_counter()
        resp = session.get(url() if callable(url) else url, headers=headers, timeout=60)
        times.append(time.perf_counter() - began)
        assert resp.status_code == 206 and len(resp.content) == MIB, (resp.status_code, resp.text[:200])
    return statistics.median(times) * 1000


def wait_archived(base_url, job_id, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = requests.get(f"{base_url}/jobs/{job_id}/status", timeout=30).json()
        if state["archive"] == "archived":
            return
        time.sleep(0.5)
    raise RuntimeError(f"{job_id} was not archived in {timeout} s")


def main():
    result = Result(
        f"The shared set-up on PostgreSQL 15 and SeaweedFS (two gunicorn hosts, each in its default configuration; "
        f"{CLIENTS} clients creating jobs for {SECONDS:.0f} s; {JOBS:,} jobs in the history; 1 MiB Ranges)"
    )
    if not postgres.available():
        result.notes.append(
            "PostgreSQL 15 is not installed: the shared set-up is not measured (make bench installs it)"
        )
        return result
    pg, s3 = PostgresServer().start(), SeaweedS3(tempfile.mkdtemp(prefix="bench-s3-")).start()
    started = []
    try:
        creates = ScriptedUpstream(
            handler=lambda req: json_response(job_body(f"video_{os.urandom(6).hex()}", status="queued"))
        )
        started.append(creates)
        base = {
            "VIDEO_API_BASE_URL": creates.url,
            "VIDEO_API_KEY": "bench",
            "SECRET_KEY": "bench-secret",
            "SUBMIT_RATE_LIMIT": "off",
            "DAILY_SUBMIT_CAP": "0",
            "TEAM_DAILY_CAP": "0",
            "FOLLOWER": "off",
        }
        shared = {**base, "DATABASE_URL": pg.fresh_database("creates")}
        a = default_app("bench_shared_a_", {**shared, "INSTANCE_ID": "bench-a"})
        b = default_app("bench_shared_b_", {**shared, "INSTANCE_ID": "bench-b"})
        started += [a, b]
        alone = creates_per_second([a.base_url])
        both = creates_per_second([a.base_url, b.base_url])
        result.add("jobs created per second, two hosts sharing PostgreSQL", f"{both:.0f}/s", f"one host {alone:.0f}/s",
                   both / alone if alone else None)  # fmt: skip

        history_url = pg.fresh_database("history")
        fill_postgres(history_url)
        sqlite_dir = tempfile.mkdtemp(prefix="bench_sqlite_history_")
        fill_sqlite(sqlite_dir)
        on_pg = default_app("bench_pg_history_", {**base, "DATABASE_URL": history_url})
        on_sqlite = default_app("bench_sqlite_history_", {**base, "DATA_DIR": sqlite_dir})
        started += [on_pg, on_sqlite]
        for label, query in (("history page", ""), (f"history search “{SEARCH}”", SEARCH)):
            pg_ms, sqlite_ms = page_times(on_pg.base_url, query), page_times(on_sqlite.base_url, query)
            result.add(f"{label}, {JOBS:,} jobs, PostgreSQL", f"{pg_ms:.1f} ms", f"SQLite {sqlite_ms:.1f} ms",
                       pg_ms / sqlite_ms, "< 100 ms", pg_ms < 100)  # fmt: skip
        # The usage page sums the month (a third of the 90 days' jobs) by person, model and period.
        pg_ms = page_times(on_pg.base_url, path="/usage", expect="person-1")
        sqlite_ms = page_times(on_sqlite.base_url, path="/usage", expect="person-1")
        result.add(f"usage page, {JOBS:,} jobs, PostgreSQL", f"{pg_ms:.1f} ms", f"SQLite {sqlite_ms:.1f} ms",
                   pg_ms / sqlite_ms, "< 200 ms", pg_ms < 200)  # fmt: skip

        video = VideoUpstream()
        started.append(video)
        stored = {
            **base,
            "VIDEO_API_BASE_URL": video.url,
            "FOLLOWER": "thread",
            "DATABASE_URL": pg.fresh_database("ranges"),
            "OBJECT_STORE_URL": f"s3://{s3.bucket}/bench",
            **s3.env,
        }
        plain = default_app("bench_s3_plain_", {**stored, "INSTANCE_ID": "bench-plain"})
        started.append(plain)
        with requests.Session() as session:
            token = hidden_value(session.get(plain.base_url + "/", timeout=60).text)
            session.post(plain.base_url + "/jobs", data={"csrf_token": token, "prompt": "ranges"}, timeout=120)
        job_id = "video_range_bench"
        wait_archived(plain.base_url, job_id)
        size = len(video.video)
        key = next(k for k in s3.keys("bench/archive/") if k.endswith(".mp4"))
        for name, value in s3.env.items():
            os.environ[name] = value
        store = ObjectStore(f"s3://{s3.bucket}/bench")
        name = key[len("bench/") :]
        direct = range_ms(lambda: f"{s3.endpoint}/{store.presigned_path(name)}", size)
        through_app = range_ms(f"{plain.base_url}/jobs/{job_id}/video/0.mp4", size)
        result.add("1 MiB Range from the bucket through the app", f"{through_app:.1f} ms",
                   f"presigned GET to the store {direct:.1f} ms", through_app / direct)  # fmt: skip
        if static_server.available():
            accel = default_app(
                "bench_s3_accel_",
                {**stored, "FOLLOWER": "off", "ARCHIVE_ACCEL_REDIRECT": "/_studio_store/", "TRUSTED_PROXIES": "1"},
            )
            started.append(accel)
            with nginx.shipped_nginx(tempfile.mkdtemp(), accel.port, store=f"127.0.0.1:{s3.port}") as (front, _):
                through_nginx = range_ms(f"{front}/jobs/{job_id}/video/0.mp4", size)
            result.add("1 MiB Range from the bucket through nginx (X-Accel-Redirect)", f"{through_nginx:.1f} ms",
                       f"presigned GET to the store {direct:.1f} ms", through_nginx / direct)  # fmt: skip
        result.notes.append(
            "The shared set-up: both hosts and every server run on the same 2 cores here, so the two-host "
            "figure is the cost of sharing PostgreSQL, not a scaling figure. A Range through the app is "
            "streamed from the store by boto3; through nginx the app only signs an address."
        )
    finally:
        for server in reversed(started):
            server.stop()
        s3.stop()
        pg.stop()
    return result


if __name__ == "__main__":
    run_alone(main)
