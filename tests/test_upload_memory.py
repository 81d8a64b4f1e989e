"""A large allowed image goes from the browser to the upstream without piling up copies in memory."""

import hashlib
import json
import os
import subprocess
import sys

from support.loopback import LoopbackServer
from support.servers import ROOT

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
        out = subprocess.run([sys.executable, os.path.join(HERE, "support", "upload_memory_probe.py"), upstream.url,
                              str(tmp_path)], capture_output=True, text=True, timeout=120,
                             env={**os.environ, "PYTHONPATH": ROOT})
        assert out.returncode == 0, out.stderr[-2000:]
        result = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        upstream.stop()
    size = result["image_bytes"]
    assert result["status"] == "303 SEE OTHER"
    assert size > 7 * 1024 * 1024
    assert upstream.received > size * 4 / 3                                 # the whole image went out, as base64
    assert result["peak"] < size / 2, (f"{result['peak'] / 1048576:.1f} MB held at the peak "
                                       f"for a {size / 1048576:.1f} MB image")
