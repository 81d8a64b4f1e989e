"""64 people submit at once to an upstream that takes 1 s per create, through the app under gunicorn
with its default configuration: does everyone get their job card, and how long does it take?"""

import json
import statistics
import threading
import time

import requests

from bench.servers import default_app, verdict
from tests.support.loopback import LoopbackServer
from tests.support.pages import hidden_value

PEOPLE = 64
UPSTREAM_SECONDS = 1.0


class SlowUpstream(LoopbackServer):
    """Answers every create after UPSTREAM_SECONDS, like a busy video API."""

    def __init__(self):
        self.creates = 0
        self._lock = threading.Lock()
        super().__init__(self.wsgi)

    def wsgi(self, environ, start_response):
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        if environ["REQUEST_METHOD"] == "POST":
            time.sleep(UPSTREAM_SECONDS)
            with self._lock:
                self.creates += 1
                n = self.creates
            body = {"id": f"video_load_{n}", "object": "video", "status": "queued", "progress": 0,
                    "created_at": int(time.time()), "seconds": "5", "size": "1280x720"}
        elif environ["PATH_INFO"] == "/v1/models":
            body = {"data": [{"id": "kling-v1"}]}
        else:
            body = {"id": environ["PATH_INFO"].rsplit("/", 1)[1], "object": "video", "status": "in_progress",
                    "progress": 50, "created_at": int(time.time())}
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]



def one_person(base_url, person, start, results):
    """Open the form, wait for the starting gun, submit, and land on the job card."""
    with requests.Session() as s:
        s.headers["X-Forwarded-User"] = f"person-{person}"
        try:
            form = s.get(base_url + "/", timeout=30).text
            token = hidden_value(form)
            start.wait()
            began = time.monotonic()
            resp = s.post(base_url + "/jobs", timeout=60, data={
                "csrf_token": token, "prompt": f"Load test prompt from person {person}", "duration": "5"})
            took = time.monotonic() - began
            ok = resp.status_code == 200 and "/jobs/video_load_" in resp.url and "job-card" in resp.text
            results.append((ok, took, None if ok else f"HTTP {resp.status_code} at {resp.url}"))
        except Exception as exc:   # a benchmark reports failures, it does not stop at them
            results.append((False, 0.0, f"{type(exc).__name__}: {exc}"))


def crowd(base_url, people, tag):
    """people submit at once; (wall seconds, [(ok, seconds, error)])."""
    results, start = [], threading.Event()
    threads = [threading.Thread(target=one_person, args=(base_url, f"{tag}-{i}", start, results))
               for i in range(people)]
    for t in threads:
        t.start()
    time.sleep(1.0)           # everyone has the form open
    began = time.monotonic()
    start.set()
    for t in threads:
        t.join()
    return time.monotonic() - began, results


def main():
    upstream = SlowUpstream()
    app = default_app("load_bench_", {"VIDEO_API_BASE_URL": upstream.url, "VIDEO_API_KEY": "bench",
                                      "AUTH_HEADER": "X-Forwarded-User"})
    growth = []
    try:
        for size in (1, 16):                        # how the time grows with the crowd
            _, found = crowd(app.base_url, size, f"warm{size}")
            growth.append((size, statistics.median(t for ok, t, _ in found if ok) if any(f[0] for f in found) else 0))
        wall, results = crowd(app.base_url, PEOPLE, "crowd")
    finally:
        app.stop()
        upstream.stop()
    errors = [e for ok, _, e in results if not ok]
    times = sorted(t for ok, t, _ in results if ok)
    growth.append((PEOPLE, statistics.median(times) if times else 0))
    lines = [f"load: {PEOPLE} people submit at once, upstream takes {UPSTREAM_SECONDS:g} s per create, "
             "default gunicorn config (2 workers x 32 threads); counterpart: the upstream alone, 1.0 s",
             f"  job cards shown: {len(times)}/{PEOPLE}   errors: {len(errors)}   "
             f"upstream creates: {upstream.creates - 17} (and 17 for the smaller crowds)",
             f"  wall time {wall:.1f} s   per person: median {statistics.median(times) if times else 0:.1f} s, "
             f"slowest {max(times) if times else 0:.1f} s   goal: everyone under 3 s: "
             f"{verdict(times and max(times) < 3 and not errors)}",
             "  median time from Create to the job card, by crowd size: "
             + ", ".join(f"{n} at once {t:.2f} s" for n, t in growth)]
    lines += [f"  error: {e}" for e in errors[:5]]
    return lines


if __name__ == "__main__":
    print("\n".join(main()))
