"""Serving an archived 100 MiB video through the app under gunicorn (default configuration) against nginx
serving the same file as a static server, interleaved (A B A B):
- a 1 MiB Range read at 99 MiB against the same read at 0 (goal: about 1, the cost must not grow with
  the offset);
- 8 clients reading it as 1 MiB Range chunks, and 8 clients downloading it whole, in MB/s;
- how much the workers' memory grows while serving all of that (psutil, resident set)."""

import json
import os
import random
import statistics
import threading
import time

import psutil
import requests

from bench import static_server
from bench.results import Result, mb_per_s, run_alone
from bench.servers import default_app
from tests.support.loopback import LoopbackServer
from tests.support.pages import hidden_value

MIB = 1024 * 1024
VIDEO_MIB = 100
ROUNDS = 15
CLIENTS = 8
SECONDS = 3.0
ROUNDS_CROWD = 3


class VideoUpstream(LoopbackServer):
    """One job, completed, whose /content is a 100 MiB "video"."""

    def __init__(self):
        self.video = (b"\x00\x00\x00\x18ftypmp42" + os.urandom(MIB - 12)) * VIDEO_MIB
        super().__init__(self.wsgi)

    def wsgi(self, environ, start_response):
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        path = environ["PATH_INFO"]
        if path.endswith("/content"):
            start_response("200 OK", [("Content-Type", "video/mp4"), ("Content-Length", str(len(self.video)))])
            return [self.video]
        if path == "/v1/models":
            body = {"data": [{"id": "kling-v1"}]}
        else:
            body = {
                "id": "video_range_bench",
                "object": "video",
                "status": "completed",
                "progress": 100,
                "created_at": int(time.time()),
                "completed_at": int(time.time()),
                "seconds": "5",
                "size": "1280x720",
            }
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]


def timed_read(session, url, offset):
    began = time.perf_counter()
    resp = session.get(url, headers={"Range": f"bytes={offset}-{offset + MIB - 1}"}, timeout=60)
    took = time.perf_counter() - began
    assert resp.status_code == 206 and len(resp.content) == MIB, resp.status_code
    return took


def crowd_throughput(url, whole):
    """MB/s that CLIENTS threads get for SECONDS: 1 MiB Range chunks at random offsets, or whole downloads."""
    received, stop = [0] * CLIENTS, time.monotonic() + SECONDS

    def client(i):
        rng = random.Random(i)
        with requests.Session() as s:
            while time.monotonic() < stop:
                offset = rng.randrange(VIDEO_MIB) * MIB
                headers = {} if whole else {"Range": f"bytes={offset}-{offset + MIB - 1}"}
                with s.get(url, headers=headers, stream=True, timeout=60) as resp:
                    assert resp.status_code == (200 if whole else 206), resp.status_code
                    while chunk := resp.raw.read(MIB):  # big reads: the client costs as little as it can
                        received[i] += len(chunk)

    began = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return mb_per_s(sum(received), time.monotonic() - began)


def workers_rss(app):
    """The resident memory of the app's gunicorn workers together, in bytes."""
    return sum(psutil.Process(pid).memory_info().rss for pid in app.worker_pids())


def archived(app):
    with requests.Session() as s:
        token = hidden_value(s.get(app.base_url + "/", timeout=30).text)
        s.post(app.base_url + "/jobs", data={"csrf_token": token, "prompt": "a long video"}, timeout=60)
        deadline = time.monotonic() + 120
        while not s.get(app.base_url + "/jobs/video_range_bench/status", timeout=10).json()["finished"]:
            if time.monotonic() > deadline:
                raise SystemExit("the 100 MiB video was never archived")
            time.sleep(0.2)
    for folder, _, files in os.walk(app.data_dir):
        if "0.mp4" in files and os.path.getsize(os.path.join(folder, "0.mp4")) == VIDEO_MIB * MIB:
            return folder
    raise SystemExit("the archived video was not found in the data folder")


def main():
    result = Result(
        f"Serving a {VIDEO_MIB} MiB archived video (app under its default gunicorn configuration; "
        "counterpart: nginx serving the same file)"
    )
    upstream = VideoUpstream()
    app = default_app("range_bench_", {"VIDEO_API_BASE_URL": upstream.url, "VIDEO_API_KEY": "bench"})
    static = accel_app = accel = None
    try:
        folder = archived(app)
        upstream.stop()
        upstream = None
        path = "/jobs/video_range_bench/video/0.mp4"
        url = app.base_url + path
        if static_server.available():
            static = static_server.Nginx(static_root=folder)
            # The same archive behind nginx, the app handing each video to it (ARCHIVE_ACCEL_REDIRECT).
            accel_app = default_app(
                "range_bench_accel_",
                {
                    "VIDEO_API_BASE_URL": "http://127.0.0.1:9",
                    "VIDEO_API_KEY": "bench",
                    "DATA_DIR": app.data_dir,
                    "TRUSTED_PROXIES": "1",
                    "ARCHIVE_ACCEL_REDIRECT": "/_studio_archive/",
                },
            )
            accel = static_server.Nginx(app_port=accel_app.port, data_dir=app.data_dir)
        with requests.Session() as s:  # warm both workers on every kind of read
            for _ in range(4):
                timed_read(s, url, 0)
                s.get(url, timeout=60).close()
        rss_before = workers_rss(app)
        with requests.Session() as s:
            near, far = [], []
            for _ in range(ROUNDS):  # interleaved, A B A B
                near.append(timed_read(s, url, 0))
                far.append(timed_read(s, url, (VIDEO_MIB - 1) * MIB))
        a, b = statistics.median(near) * 1000, statistics.median(far) * 1000
        result.add(
            "1 MiB Range read at 99 MiB vs at 0",
            f"{b:.1f} ms",
            f"{a:.1f} ms at 0",
            b / a,
            "about 1 (<= 1.5)",
            b / a <= 1.5,
        )
        for label, whole, goal in (
            ("8 clients, 1 MiB Range chunks", False, 0.5),
            ("8 clients, whole-file downloads", True, 1.0),
        ):
            ours, theirs, handed = [], [], []
            for _ in range(ROUNDS_CROWD):  # interleaved, A B A B
                ours.append(crowd_throughput(url, whole))
                if static:
                    theirs.append(crowd_throughput(static.url + "/0.mp4", whole))
                    handed.append(crowd_throughput(accel.url + path, whole))
            mine = statistics.median(ours)
            if not static:
                result.add(label, f"{mine:,.0f} MB/s", "nginx not installed", None, f">= {goal:g}", None)
                continue
            other, via = statistics.median(theirs), statistics.median(handed)
            result.add(
                label,
                f"{mine:,.0f} MB/s",
                f"nginx {other:,.0f} MB/s",
                mine / other,
                f">= {goal:g}",
                mine / other >= goal,
            )
            result.add(
                f"{label}, behind nginx with ARCHIVE_ACCEL_REDIRECT",
                f"{via:,.0f} MB/s",
                f"nginx {other:,.0f} MB/s",
                via / other,
            )
        growth = (workers_rss(app) - rss_before) / 1e6
        result.add(
            "worker memory growth serving all of the above", f"{growth:+.1f} MB", "—", None, "< 20 MB", growth < 20
        )
        result.notes.append(
            f"Video: the load client is Python (requests, {CLIENTS} threads, 1 MiB reads) on the "
            f"same 2 cores as the servers, so it caps both sides; {ROUNDS_CROWD} rounds of "
            f"{SECONDS:g} s each, interleaved; nginx runs one worker with sendfile; memory is the "
            "resident set of the app's two workers, after warming up, against after all the "
            "reads."
        )
    finally:
        for server in (app, accel_app, static, accel, upstream):
            if server:
                server.stop()
    return result


if __name__ == "__main__":
    run_alone(main)
