"""20 people watch the same running job, each page asking the app for its status every second (as the
job page's script does in a job's first two minutes): how often does the video API get asked? Goal: at
most once a second, whoever is watching. Counterpart: the same 20 viewers asking the API directly,
measured the same way in the same run."""

import json
import threading
import time

import requests

from bench.results import Result, run_alone
from bench.servers import default_app
from tests.support.loopback import LoopbackServer
from tests.support.pages import hidden_value

VIEWERS = 20
SECONDS = 10.0
PAGE_INTERVAL = 1.0  # static/js/live.js: a job's status every second in its first two minutes
JOB = "video_status_bench"


class CountingUpstream(LoopbackServer):
    """One job that stays in progress; counts the status reads of it."""

    def __init__(self):
        self.reads, self._lock = [], threading.Lock()
        super().__init__(self.wsgi)

    def wsgi(self, environ, start_response):
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        if environ["PATH_INFO"] == "/v1/models":
            body = {"data": [{"id": "kling-v1"}]}
        else:
            if environ["REQUEST_METHOD"] == "GET":
                with self._lock:
                    self.reads.append(time.monotonic())
            body = {
                "id": JOB,
                "object": "video",
                "status": "in_progress",
                "created_at": int(time.time()),
                "progress": min(99, len(self.reads)),
            }
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    def rate_between(self, start, stop):
        """Reads per second between start and stop, from the first read to the last (so a window that
        happens to hold one read more at its edges does not count as a faster rate)."""
        with self._lock:
            seen = [t for t in self.reads if start <= t < stop]
        return (len(seen) - 1) / (seen[-1] - seen[0]) if len(seen) > 1 else 0.0


def watch(url, stop_at, latencies):
    """One viewer: ask for url every PAGE_INTERVAL until stop_at."""
    with requests.Session() as s:
        while time.monotonic() < stop_at:
            began = time.monotonic()
            resp = s.get(url, timeout=30)
            assert resp.status_code == 200, resp.status_code
            latencies.append(time.monotonic() - began)
            time.sleep(max(0.0, PAGE_INTERVAL - (time.monotonic() - began)))


def crowd(url):
    """VIEWERS watching url for SECONDS: (start, stop, latencies)."""
    latencies, start = [], time.monotonic()
    stop = start + SECONDS
    threads = [threading.Thread(target=watch, args=(url, stop, latencies)) for _ in range(VIEWERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return start, time.monotonic(), latencies


def main():
    result = Result(f"{VIEWERS} people watching one running job")
    upstream = CountingUpstream()
    app = default_app("status_bench_", {"VIDEO_API_BASE_URL": upstream.url, "VIDEO_API_KEY": "bench"})
    try:
        with requests.Session() as s:
            token = hidden_value(s.get(app.base_url + "/", timeout=30).text)
            s.post(app.base_url + "/jobs", data={"csrf_token": token, "prompt": "Watched by many"}, timeout=30)
        rates = {}
        for who, url in (("app", f"{app.base_url}/jobs/{JOB}/status"), ("direct", f"{upstream.url}/v1/videos/{JOB}")):
            start, stop, latencies = crowd(url)
            rates[who] = upstream.rate_between(start, stop)
            if who == "app":
                latencies.sort()
                median_ms = latencies[len(latencies) // 2] * 1000
        ours, direct = rates["app"], rates["direct"]
        result.add(
            f"status reads reaching the API, {VIEWERS} viewers",
            f"{ours:.2f}/s",
            f"direct {direct:.1f}/s",
            ours / direct,
            "<= 1/s",
            ours <= 1.0 + 1e-3,
        )
        result.notes.append(
            f"Status: each viewer asks every {PAGE_INTERVAL:g} s for {SECONDS:g} s; the app answers "
            f"from what its follower stored (median answer {median_ms:.0f} ms, the job's card "
            "rendered in it) and the follower reads the API at most once a second per job "
            "(STATUS_CACHE_SECONDS), in the follower process."
        )
    finally:
        app.stop()
        upstream.stop()
    return result


if __name__ == "__main__":
    run_alone(main)
