"""64 people submit at once to an upstream that takes 1 s per create, through the app under gunicorn
with its default configuration: does everyone get their job card, and how long does it take?"""

import json
import statistics
import threading
import time

import requests

from bench.results import Result, run_alone
from bench.servers import default_app
from tests.support.loopback import LoopbackServer
from tests.support.pages import Page

PEOPLE = 64
UPSTREAM_SECONDS = 1.0
CROWDS = (1, 16, PEOPLE)


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
            body = {
                "id": f"video_load_{n}",
                "object": "video",
                "status": "queued",
                "progress": 0,
                "created_at": int(time.time()),
                "seconds": "5",
                "size": "1280x720",
            }
        elif environ["PATH_INFO"] == "/v1/models":
            body = {"data": [{"id": "kling-v1"}]}
        else:
            body = {
                "id": environ["PATH_INFO"].rsplit("/", 1)[1],
                "object": "video",
                "status": "in_progress",
                "progress": 50,
                "created_at": int(time.time()),
            }
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]


def one_person(base_url, person, start, results):
    """Open the form, wait for the starting gun, submit it as a browser does (every hidden field sent
    back), and land on the job card."""
    with requests.Session() as s:
        s.headers["X-Forwarded-User"] = f"person-{person}"
        try:
            page = Page(s.get(base_url + "/", timeout=30).text)
            fields = {
                e.attrs["name"]: e.attrs.get("value", "")
                for e in page.find("input", type="hidden")
                if e.attrs.get("name")
            }
            fields.update(prompt=f"Load test prompt from person {person}", duration="5")
            start.wait()
            began = time.monotonic()
            resp = s.post(base_url + "/jobs", timeout=60, data=fields)
            took = time.monotonic() - began
            ok = resp.status_code == 200 and "/jobs/video_load_" in resp.url and "job-card" in resp.text
            results.append((ok, took, None if ok else f"HTTP {resp.status_code} at {resp.url}"))
        except Exception as exc:  # a benchmark reports failures, it does not stop at them
            results.append((False, 0.0, f"{type(exc).__name__}: {exc}"))


def one_direct(base_url, person, start, results):
    """The counterpart: the same person creating the job with the video API itself."""
    with requests.Session() as s:
        try:
            start.wait()
            began = time.monotonic()
            resp = s.post(
                base_url + "/v1/videos",
                timeout=60,
                files={"prompt": (None, f"Load test prompt from person {person}"), "seconds": (None, "5")},
            )
            took = time.monotonic() - began
            ok = resp.status_code == 200 and resp.json()["id"].startswith("video_load_")
            results.append((ok, took, None if ok else f"HTTP {resp.status_code}"))
        except Exception as exc:
            results.append((False, 0.0, f"{type(exc).__name__}: {exc}"))


def crowd(base_url, people, tag, person=one_person):
    """people submit at once; (wall seconds, [(ok, seconds, error)])."""
    results, start = [], threading.Event()
    threads = [threading.Thread(target=person, args=(base_url, f"{tag}-{i}", start, results)) for i in range(people)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # everyone has the form open
    began = time.monotonic()
    start.set()
    for t in threads:
        t.join()
    return time.monotonic() - began, results


def main():
    result = Result(f"{PEOPLE} people submitting at once")
    upstream = SlowUpstream()
    app = default_app(
        "load_bench_", {"VIDEO_API_BASE_URL": upstream.url, "VIDEO_API_KEY": "bench", "AUTH_HEADER": "X-Forwarded-User"}
    )
    growth = {}
    try:
        for size in CROWDS[:-1]:  # how the time grows with the crowd
            _, found = crowd(app.base_url, size, f"warm{size}")
            growth[size] = statistics.median([t for ok, t, _ in found if ok] or [0])
        wall, results = crowd(app.base_url, PEOPLE, "crowd")
        _, direct = crowd(upstream.url, PEOPLE, "direct", person=one_direct)
    finally:
        app.stop()
        upstream.stop()
    errors = [e for ok, _, e in results if not ok]
    times = sorted(t for ok, t, _ in results if ok)
    growth[PEOPLE] = statistics.median(times or [0])
    slowest = max(times or [0])
    alone = max([t for ok, t, _ in direct if ok] or [0])
    result.add(
        f"{PEOPLE} people submit at once, API takes {UPSTREAM_SECONDS:g} s: the slowest",
        f"{slowest:.1f} s, {len(times)}/{PEOPLE} cards, {len(errors)} errors",
        f"the API directly {alone:.1f} s",
        slowest / alone if alone else None,
        "< 3 s, no errors",
        bool(times) and slowest < 3 and not errors,
    )
    result.add(
        "submit median, " + " / ".join(str(n) for n in CROWDS) + " at once",
        " / ".join(f"{growth[n]:.2f}" for n in CROWDS) + " s",
        "—",
        growth[PEOPLE] / growth[CROWDS[0]] if growth[CROWDS[0]] else None,
    )
    result.notes.append(
        f"Crowd: from Create to the job card (the redirect followed), everyone's form already "
        f"open; default gunicorn configuration (gunicorn.conf.py); wall time for "
        f"{PEOPLE}: {wall:.1f} s; counterpart: the same {PEOPLE} creating their jobs with the API "
        f"itself, at once; ratio of the latency row: {PEOPLE} at once against 1 alone."
    )
    result.notes += [f"Crowd error: {e}" for e in errors[:5]]
    return result


if __name__ == "__main__":
    run_alone(main)
