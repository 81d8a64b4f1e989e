"""Creates under contention for the database: 50 people create a job at once while 200 readers keep asking
for the history and jobs' status, the app under gunicorn with 4 workers of 64 threads, the API answering at
once. Figures: the slowest create (goal: under 2 s), the longest a create spent in or waiting for the
database's lock (the request log's locked= figure; goal: under 2 s), the time spent in the database all
told (db=, which on a busy worker is mostly waiting for the GIL between statements), errors and ids not
recorded (goal: none).
Counterpart: the same 50 creates with nobody reading, in the same run."""

import json
import re
import threading
import time

import requests

from bench.results import Result, run_alone
from bench.servers import default_app
from tests.support.loopback import LoopbackServer
from tests.support.pages import hidden_value

CREATES = 50  # the first CREATES "POST /jobs" log lines are the quiet round's, the next the busy one's
READERS = 200


class InstantUpstream(LoopbackServer):
    def __init__(self):
        self.creates, self._lock = 0, threading.Lock()
        super().__init__(self.wsgi)

    def wsgi(self, environ, start_response):
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        if environ["PATH_INFO"] == "/v1/models":
            body = {"data": [{"id": "kling-v1"}]}
        elif environ["REQUEST_METHOD"] == "POST":
            with self._lock:
                self.creates += 1
                job_id = f"video_contention_{self.creates}"
            body = {"id": job_id, "object": "video", "status": "queued", "progress": 0, "created_at": int(time.time())}
        else:
            body = {
                "id": environ["PATH_INFO"].rsplit("/", 1)[-1],
                "object": "video",
                "status": "in_progress",
                "progress": 10,
                "created_at": int(time.time()),
            }
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]


def create_all(base_url, tag):
    """CREATES people, each with a session and a token, send at the same moment: (latencies, errors)."""
    sessions = []
    for _ in range(CREATES):
        s = requests.Session()
        sessions.append((s, hidden_value(s.get(base_url + "/", timeout=60).text)))
        s.close()  # the cookie stays; the POST opens a new connection (an idle one may have been closed)
    latencies, errors, go = [], [], threading.Event()

    def one(n, session, token):
        go.wait()
        began = time.monotonic()
        try:
            resp = session.post(base_url + "/jobs", data={"csrf_token": token, "prompt": f"{tag} {n}"}, timeout=120)
            if resp.status_code != 200 or "/jobs/" not in resp.url:
                errors.append(resp.status_code)
        except requests.RequestException as exc:
            errors.append(type(exc).__name__)
        latencies.append(time.monotonic() - began)

    threads = [threading.Thread(target=one, args=(n, s, t)) for n, (s, t) in enumerate(sessions)]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join()
    return sorted(latencies), errors


def main():
    result = Result(f"{CREATES} creates at once while {READERS} readers browse (4 workers x 64 threads)")
    upstream = InstantUpstream()
    app = default_app(
        "contention_bench_",
        {
            "VIDEO_API_BASE_URL": upstream.url,
            "VIDEO_API_KEY": "bench",
            "WEB_WORKERS": "4",
            "WEB_THREADS": "64",
            "SUBMIT_RATE_LIMIT": "off",
            "DAILY_SUBMIT_CAP": "0",
            "TEAM_DAILY_CAP": "0",
        },
    )
    stop, read_errors = threading.Event(), []
    try:
        quiet, quiet_errors = create_all(app.base_url, "quiet")

        def read():
            with requests.Session() as s:
                while not stop.is_set():
                    try:
                        for path in ("/jobs", "/jobs/video_contention_1/status"):
                            if s.get(app.base_url + path, timeout=60).status_code >= 500:
                                read_errors.append(path)
                    except requests.RequestException as exc:
                        read_errors.append(type(exc).__name__)

        readers = [threading.Thread(target=read, daemon=True) for _ in range(READERS)]
        for t in readers:
            t.start()
        time.sleep(3)
        busy, busy_errors = create_all(app.base_url, "busy")
        stop.set()
        with open(app.log_path, encoding="utf-8", errors="replace") as fh:
            log = fh.read()
        locked = log.count("database is locked")
        lost = log.count("could not be recorded")
        creates = re.findall(r"POST /jobs -> 303 in \d+ ms(?: db=(\d+) ms)?(?: locked=(\d+) ms)?", log)
        db_ms = [int(db or 0) for db, _ in creates]
        locked_ms = [int(locked or 0) for _, locked in creates]
        busy_db, busy_locked = max(db_ms[CREATES:] or [0]), max(locked_ms[CREATES:] or [0])
        result.add(
            "slowest of 50 creates while 200 read",
            f"{busy[-1]:.2f} s",
            f"{quiet[-1]:.2f} s (nobody reading)",
            busy[-1] / quiet[-1],
            "under 2 s",
            busy[-1] < 2.0,
        )
        result.add(
            "the longest a create waited for the database's lock, 200 reading",
            f"{busy_locked} ms",
            f"{max(locked_ms[:CREATES] or [0])} ms (nobody reading)",
            goal="under 2,000 ms",
            met=busy_locked < 2000,
        )
        result.add(
            "the longest a create spent in the database, lock and GIL waits included",
            f"{busy_db} ms",
            f"{max(db_ms[:CREATES] or [0])} ms (nobody reading)",
        )
        result.add(
            "creates answered with an error, or ids not recorded",
            f"{len(busy_errors) + lost}",
            f"{len(quiet_errors)}",
            goal="0",
            met=not busy_errors and not lost,
        )
        if busy_errors:
            result.notes.append(f"errors: {busy_errors}")
        result.notes.append(
            f"median create {busy[len(busy) // 2]:.2f} s (quiet {quiet[len(quiet) // 2]:.2f} s); "
            f"{locked} 'database is locked' lines in the log; {len(read_errors)} reader errors."
        )
    finally:
        stop.set()
        app.stop()
        upstream.stop()
    return result


if __name__ == "__main__":
    run_alone(main)
