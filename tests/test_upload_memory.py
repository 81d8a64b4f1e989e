"""A large allowed image goes from the browser to the upstream without piling up copies in memory, and is
written to disk once; nothing is left on disk of an image refused or cut off."""

import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import time

import requests
from PIL import Image

from support.loopback import LoopbackServer
from support.pages import hidden_value
from support.servers import ROOT, AppProcess

HERE = os.path.dirname(os.path.abspath(__file__))


class CountingUpstream(LoopbackServer):
    """Reads the request body in small chunks (never whole), counting the bytes that arrive."""

    def __init__(self):
        self.received = 0
        super().__init__(self.wsgi)

    def wsgi(self, environ, start_response):
        stream, left = environ["wsgi.input"], int(environ.get("CONTENT_LENGTH") or 0)
        digest = hashlib.sha256()
        while left > 0:
            chunk = stream.read(min(65536, left))
            if not chunk:
                break
            digest.update(chunk)
            left -= len(chunk)
            self.received += len(chunk)
        body = {"id": "video_big", "object": "video", "status": "queued", "progress": 0, "created_at": 1}
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]


def test_a_large_image_is_streamed_not_copied(tmp_path):
    upstream = CountingUpstream()
    try:
        # The app runs in a process of its own, so only its own allocations are measured.
        out = subprocess.run(
            [sys.executable, os.path.join(HERE, "support", "upload_memory_probe.py"), upstream.url, str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": ROOT},
        )
        assert out.returncode == 0, out.stderr[-2000:]
        result = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        upstream.stop()
    size = result["image_bytes"]
    assert result["status"] == "303 SEE OTHER"
    assert size > 7 * 1024 * 1024
    assert upstream.received > size * 4 / 3  # the whole image went out, as base64
    assert result["peak"] < size / 2, (
        f"{result['peak'] / 1048576:.1f} MB held at the peak for a {size / 1048576:.1f} MB image"
    )


def _png(side):
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buf, "PNG", compress_level=0)
    return buf.getvalue()


def test_an_upload_is_written_to_disk_once_and_nothing_is_left_of_refused_or_cut_off_ones(tmp_path):
    """Under gunicorn, as people send them: a large picture kept as one file in the uploads folder; a
    large file that is not a picture, and an upload whose tab closed halfway, leave nothing behind."""
    upstream = CountingUpstream()
    app = AppProcess(tmp_path / "app", {"VIDEO_API_BASE_URL": upstream.url, "VIDEO_API_KEY": "test-key-123456"})
    uploads = tmp_path / "app" / "uploads"
    try:
        app.start()
        with requests.Session() as s:
            token = hidden_value(s.get(app.base_url + "/", timeout=10).text)
            picture = _png(700)  # 1.5 MB: spooled to disk, not kept in memory
            sent = s.post(
                app.base_url + "/jobs",
                timeout=30,
                allow_redirects=False,
                data={"csrf_token": token, "prompt": "A kite over a beach"},
                files={"image_file": ("kite.png", picture, "image/png")},
            )
            assert sent.status_code == 303 and upstream.received > len(picture) * 4 / 3
            kept = sorted(p.name for p in uploads.iterdir())
            assert len(kept) == 1 and kept[0].endswith(".png"), kept
            assert (uploads / kept[0]).read_bytes() == picture

            refused = s.post(
                app.base_url + "/jobs",
                timeout=30,
                data={"csrf_token": token, "prompt": "Not a picture"},
                files={"image_file": ("notes.png", os.urandom(900_000), "image/png")},
            )
            assert refused.status_code == 400 and "image" in refused.text.lower()
            assert sorted(p.name for p in uploads.iterdir()) == kept

        # A browser that announced 3 MB, sent 1 MB of it and went away.
        boundary = "cutoffboundary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="image_file"; filename="big.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", app.port), timeout=10) as sock:
            sock.sendall(
                b"POST /jobs HTTP/1.1\r\nHost: studio\r\nContent-Type: multipart/form-data; boundary="
                + boundary.encode()
                + b"\r\nContent-Length: 3000000\r\n\r\n"
                + head
                + os.urandom(1_000_000)
            )
            deadline = time.monotonic() + 10
            while not [p for p in uploads.iterdir() if p.name.endswith(".upload")] and time.monotonic() < deadline:
                time.sleep(0.05)  # the partial file exists while the upload is under way
            assert [p for p in uploads.iterdir() if p.name.endswith(".upload")], "the upload was not spooled"
        deadline = time.monotonic() + 20
        while sorted(p.name for p in uploads.iterdir()) != kept and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sorted(p.name for p in uploads.iterdir()) == kept, "a cut-off upload was left on disk"
        assert requests.get(app.base_url + "/healthz", timeout=10).status_code == 200
    finally:
        app.stop()
        upstream.stop()
