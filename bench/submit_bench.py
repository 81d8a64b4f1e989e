"""A submission with an image, through the app under its default gunicorn configuration, against a minimal
Flask proxy doing the bare job (bench/proxy_app.py) under the same configuration, interleaved (A B A B):
- the time from posting the form with a 2 MB image to the answer (goal: at most 1.25 times the proxy's);
- how far a worker's resident memory rises while it handles a 10 MB image (psutil, sampled every
  millisecond; goal: at most 4 times the image)."""

import io
import json
import os
import statistics
import threading
import time

import psutil
import requests
from PIL import Image

from bench.results import Result, run_alone
from bench.servers import default_app
from tests.support.loopback import LoopbackServer
from tests.support.pages import Page

ROUNDS = 40
MEMORY_ROUNDS = 3
PAUSE = 0.2


class ReadingUpstream(LoopbackServer):
    """Reads each create's body whole, in 64 KiB pieces, and answers at once."""

    def __init__(self):
        self.creates, self.received = 0, 0
        super().__init__(self.wsgi)

    def wsgi(self, environ, start_response):
        stream, left = environ["wsgi.input"], int(environ.get("CONTENT_LENGTH") or 0)
        while left > 0:
            chunk = stream.read(min(65536, left))
            if not chunk:
                break
            left -= len(chunk)
            self.received += len(chunk)
        if environ["PATH_INFO"] == "/v1/models":
            body = {"data": [{"id": "kling-v1"}]}
        elif environ["REQUEST_METHOD"] == "POST":
            self.creates += 1
            body = {
                "id": f"video_submit_{self.creates}",
                "object": "video",
                "status": "queued",
                "progress": 0,
                "created_at": int(time.time()),
            }
        else:  # the app's follower asking after a job: it has failed, so following it ends there
            body = {
                "id": environ["PATH_INFO"].rsplit("/", 1)[-1],
                "object": "video",
                "status": "failed",
                "progress": 0,
                "created_at": int(time.time()),
                "error": {"message": "benchmark"},
            }
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]


def picture(megabytes):
    """A PNG of about `megabytes` MB (noise, stored without compression), of a size every model accepts."""
    side = int((megabytes * 1e6 / 3) ** 0.5)
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buf, "PNG", compress_level=0)
    return buf.getvalue()


class Submitter:
    """One person posting the form with an image, as a browser does: the app's form is opened first (not
    timed) and every hidden field it holds is sent back (the CSRF token, the one-time submission id)."""

    def __init__(self, base_url, has_form=True):
        self.base_url, self.has_form, self.session = base_url, has_form, requests.Session()

    def post(self, image):
        fields = {"prompt": "A kite over a beach", "duration": "5"}
        if self.has_form:
            page = Page(self.session.get(self.base_url + "/", timeout=30).text)
            fields.update(
                {
                    e.attrs["name"]: e.attrs.get("value", "")
                    for e in page.find("input", type="hidden")
                    if e.attrs.get("name")
                }
            )
        else:  # the proxy has no form: one small request all the same, so both are equally warm
            self.session.get(self.base_url + "/healthz", timeout=30)
        began = time.perf_counter()
        resp = self.session.post(
            self.base_url + "/jobs",
            allow_redirects=False,
            timeout=60,
            data=fields,
            files={"image_file": ("photo.png", image, "image/png")},
        )
        took = time.perf_counter() - began
        assert resp.status_code == 303 and "/jobs/video_submit_" in resp.headers.get("Location", ""), (
            f"HTTP {resp.status_code}: {resp.text[:300]}"
        )
        return took


def peak_growth(server, submitter, image):
    """How far the busiest worker's resident memory rose above where it was while one upload was handled."""
    workers = [psutil.Process(pid) for pid in server.worker_pids()]  # not the follower process
    before = {p.pid: p.memory_info().rss for p in workers}
    peak = dict(before)
    done = threading.Event()

    def sample():
        while not done.is_set():
            for p in workers:
                peak[p.pid] = max(peak[p.pid], p.memory_info().rss)
            time.sleep(0.001)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        submitter.post(image)
    finally:
        done.set()
        sampler.join()
    return max(peak[pid] - before[pid] for pid in before)


def main():
    result = Result(
        "Submitting a job with an image (app and a minimal Flask proxy, the same gunicorn "
        "configuration, the same loopback video API)"
    )
    upstream = ReadingUpstream()
    env = {
        "VIDEO_API_BASE_URL": upstream.url,
        "VIDEO_API_KEY": "bench",
        "SUBMIT_RATE_LIMIT": "",
        "DAILY_SUBMIT_CAP": "100000",
        "TEAM_DAILY_CAP": "100000",
        "MAX_UPLOAD_MB": "12",
    }
    app = default_app("submit_bench_", env)
    proxy = default_app("submit_bench_proxy_", env, app_module="bench.proxy_app:app")
    try:
        small, large = picture(2), picture(10)
        ours, theirs = Submitter(app.base_url), Submitter(proxy.base_url, has_form=False)
        for _ in range(3):  # warm both workers of each
            ours.post(small)
            theirs.post(small)
        a, b = [], []
        for _ in range(ROUNDS):  # interleaved, each after a pause: the app's follower reads each new
            time.sleep(PAUSE)  # job's status once, and that is not part of the next submission
            a.append(ours.post(small))
            time.sleep(PAUSE)
            b.append(theirs.post(small))
        mine, other = statistics.median(a) * 1000, statistics.median(b) * 1000
        result.add(
            f"submit with a {len(small) / 1e6:.1f} MB image",
            f"{mine:.0f} ms",
            f"proxy {other:.0f} ms",
            mine / other,
            "<= 1.25",
            mine / other <= 1.25,
        )
        grow_a, grow_b = [], []
        for _ in range(MEMORY_ROUNDS):
            grow_a.append(peak_growth(app, ours, large))
            grow_b.append(peak_growth(proxy, theirs, large))
        worst_a, worst_b = max(grow_a), max(grow_b)
        result.add(
            f"worker memory peak per {len(large) / 1e6:.0f} MB upload",
            f"{worst_a / 1e6:.1f} MB ({worst_a / len(large):.1f}x the image)",
            f"proxy {worst_b / 1e6:.1f} MB ({worst_b / len(large):.1f}x)",
            worst_a / worst_b if worst_b else None,
            "<= 4x the image",
            worst_a <= 4 * len(large),
        )
        result.notes.append(
            f"Submission: median of {ROUNDS} rounds each, interleaved; the upload goes from the "
            "client to the server to the loopback video API, all on this machine. Memory: the "
            f"highest of {MEMORY_ROUNDS} uploads each, as the rise of the busiest worker's "
            "resident set above where it stood before the upload."
        )
    finally:
        app.stop()
        proxy.stop()
        upstream.stop()
    return result


if __name__ == "__main__":
    run_alone(main)
