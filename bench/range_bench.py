"""Seeking in a long archived video: a 1 MiB Range read at 99 MiB into a 100 MiB video against the same
read at 0, through the app under gunicorn with its default configuration. The goal is a ratio of about 1:
the cost of a Range must not grow with its offset."""

import os
import statistics
import time

import requests

from bench.servers import default_app, verdict
from tests.support.loopback import LoopbackServer
from tests.support.pages import hidden_value

MIB = 1024 * 1024
VIDEO_MIB = 100
ROUNDS = 15


class VideoUpstream(LoopbackServer):
    """One job, completed, whose /content is a 100 MiB "video"."""

    def __init__(self):
        self.video = (b"\x00\x00\x00\x18ftypmp42" + os.urandom(MIB - 12)) * VIDEO_MIB
        super().__init__(self.wsgi)

    def wsgi(self, environ, start_response):
        import json
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        path = environ["PATH_INFO"]
        if path.endswith("/content"):
            start_response("200 OK", [("Content-Type", "video/mp4"), ("Content-Length", str(len(self.video)))])
            return [self.video]
        if path == "/v1/models":
            body = {"data": [{"id": "kling-v1"}]}
        else:
            body = {"id": "video_range_bench", "object": "video", "status": "completed", "progress": 100,
                    "created_at": int(time.time()), "completed_at": int(time.time()), "seconds": "5",
                    "size": "1280x720"}
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]


def timed_read(session, url, offset):
    began = time.perf_counter()
    resp = session.get(url, headers={"Range": f"bytes={offset}-{offset + MIB - 1}"}, timeout=60)
    took = time.perf_counter() - began
    assert resp.status_code == 206 and len(resp.content) == MIB, resp.status_code
    return took


def main():
    upstream = VideoUpstream()
    app = default_app("range_bench_", {"VIDEO_API_BASE_URL": upstream.url, "VIDEO_API_KEY": "bench"})
    try:
        with requests.Session() as s:
            token = hidden_value(s.get(app.base_url + "/", timeout=30).text)
            s.post(app.base_url + "/jobs", data={"csrf_token": token, "prompt": "a long video"}, timeout=60)
            deadline = time.monotonic() + 120
            while not s.get(app.base_url + "/jobs/video_range_bench/status", timeout=10).json()["finished"]:
                if time.monotonic() > deadline:
                    raise SystemExit("the 100 MiB video was never archived")
                time.sleep(0.2)
            url = app.base_url + "/jobs/video_range_bench/video/0.mp4"
            near, far = [], []
            for _ in range(ROUNDS):                      # interleaved, A B A B
                near.append(timed_read(s, url, 0))
                far.append(timed_read(s, url, (VIDEO_MIB - 1) * MIB))
    finally:
        app.stop()
        upstream.stop()
    a, b = statistics.median(near) * 1000, statistics.median(far) * 1000
    ratio = b / a
    return [f"range: 1 MiB Range reads of a {VIDEO_MIB} MiB archived video, {ROUNDS} rounds interleaved, "
            "default gunicorn config",
            f"  at 0: median {a:.1f} ms   at 99 MiB: median {b:.1f} ms   ratio {ratio:.2f}   "
            f"goal about 1 (<= 1.5): {verdict(ratio <= 1.5)}"]


if __name__ == "__main__":
    print("\n".join(main()))
