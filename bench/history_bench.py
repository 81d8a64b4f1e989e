"""The team's history with 10,000 jobs: the history page and a prompt search through the app under its
default gunicorn configuration, against the same SQL run alone on the same database file. Goal: each
page under 100 ms."""

import random
import sqlite3
import statistics
import tempfile
import time

import requests

from app.core.lifecycle import JobStatus
from app.jobs.store import JobStore
from app.upstream.models import Job
from bench.results import Result, run_alone
from bench.servers import default_app

JOBS = 10_000
ROUNDS = 20
SEARCH = "harbour"
WORDS = (
    "a paper boat on a rainy street",
    "an astronaut walks across a red desert",
    "a fox in the snow at dawn",
    "a lighthouse in a storm",
    "slow motion of a drop of ink in water",
    "a city at night seen from above",
    "a harbour at sunrise, fishing boats leaving",
    "a cat asleep on a warm windowsill",
)
MODELS = ("kling-v1", "kling-v2-master", "veo-3", "seedance-1-0-pro", "hailuo-02", "vidu-q1", "wan2.2-t2v")


def fill(data_dir):
    """JOBS settled jobs, recorded through the app's own store, spread over the last 90 days."""
    store = JobStore(f"{data_dir}/jobs.sqlite3")
    rng, now = random.Random(7), int(time.time())
    for i in range(JOBS):
        status = JobStatus.COMPLETED if rng.random() < 0.8 else JobStatus.FAILED
        created = now - rng.randrange(90 * 86400)
        prompt = f"{rng.choice(WORDS)}, take {i}"
        model = rng.choice(MODELS)
        job = Job(
            id=f"video_hist_{i:05d}",
            status=status,
            raw_status=str(status),
            model=model,
            progress=100,
            created_at=created,
            completed_at=created + rng.randrange(60, 600),
            seconds="5",
            size="1280x720",
        )
        store.add(job, {"prompt": prompt, "model": model, "duration": 5}, submitted_by=f"person-{i % 12}")
    with sqlite3.connect(store.path) as db:  # their videos expired long ago: nothing for the follower to fetch
        db.execute("UPDATE jobs SET archive = 'expired', submitted_at = json_extract(job, '$.created_at')")
    return store.path


def timed_get(session, url):
    began = time.perf_counter()
    resp = session.get(url, timeout=30)
    took = time.perf_counter() - began
    assert resp.status_code == 200 and "video_hist_" in resp.text, resp.status_code
    return took


def sql_alone(path, query):
    """The history page's two statements (the count and the page), as app/jobs/queries.py runs them."""
    where, args = ("WHERE prompt LIKE ? ESCAPE '\\'", [f"%{query}%"]) if query else ("", [])
    db = sqlite3.connect(path)
    try:
        began = time.perf_counter()
        db.execute(f"SELECT COUNT(*) FROM jobs {where}", args).fetchone()
        db.execute(f"SELECT * FROM jobs {where} ORDER BY submitted_at DESC LIMIT 20 OFFSET 0", args).fetchall()
        return time.perf_counter() - began
    finally:
        db.close()


def main():
    result = Result(f"The history with {JOBS:,} jobs")
    data_dir = tempfile.mkdtemp(prefix="history_bench_")
    began = time.monotonic()
    path = fill(data_dir)
    filled = time.monotonic() - began
    app = default_app(
        "history_bench_app_",
        {"VIDEO_API_BASE_URL": "http://127.0.0.1:9", "VIDEO_API_KEY": "bench", "DATA_DIR": data_dir},
    )
    try:
        with requests.Session() as s:
            for label, query in (("history page /jobs", ""), (f"history search ?q={SEARCH}", SEARCH)):
                url = app.base_url + "/jobs" + (f"?q={SEARCH}" if query else "")
                timed_get(s, url)
                ours, theirs = [], []
                for _ in range(ROUNDS):  # interleaved
                    ours.append(timed_get(s, url))
                    theirs.append(sql_alone(path, query))
                a, b = statistics.median(ours) * 1000, statistics.median(theirs) * 1000
                result.add(
                    f"{label}, {JOBS:,} jobs", f"{a:.0f} ms", f"SQL alone {b:.1f} ms", a / b, "< 100 ms", a < 100
                )
    finally:
        app.stop()
    result.notes.append(
        f"History: {JOBS:,} jobs recorded through the app's own store ({filled:.0f} s); medians of "
        f"{ROUNDS} requests, each followed by the page's SQL run alone on the same file."
    )
    return result


if __name__ == "__main__":
    run_alone(main)
