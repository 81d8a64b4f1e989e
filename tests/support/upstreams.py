"""A scripted upstream: a real HTTP server on loopback that records each request and answers as told."""

import json
import re
import time
from dataclasses import dataclass

from werkzeug.wrappers import Request, Response

from .loopback import LoopbackServer


@dataclass
class Recorded:
    """One request as the upstream saw it."""

    method: str
    path: str
    headers: dict
    args: dict
    form: list  # [(name, value)] in the order sent
    files: dict  # name -> bytes
    content_type: str = ""
    raw_path: str = ""  # the path as it came on the wire, percent-escapes kept
    body: bytes = b""  # the body as it came on the wire

    def parts(self):
        """A multipart body as [(name, filename, content type, value bytes)], in the order sent."""
        return multipart_parts(self.body, self.content_type)

    def field(self, name):
        values = [v for k, v in self.form if k == name]
        return values[0] if values else None

    @property
    def names(self):
        return [k for k, _ in self.form]


def multipart_parts(body, content_type):
    """Split a multipart/form-data body exactly (no decoding): [(name, filename, content type, value)]."""
    boundary = re.search(r'boundary="?([^";]+)"?', content_type or "")
    if not boundary:
        return []
    found = []
    for chunk in body.split(b"--" + boundary.group(1).encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, value = chunk[2:].partition(b"\r\n\r\n")
        headers = {
            k.strip().lower(): v.strip()
            for k, _, v in (line.partition(":") for line in head.decode("utf-8").split("\r\n"))
        }
        disposition = headers.get("content-disposition", "")
        name = re.search(r'; name="((?:[^"\\]|\\.)*)"', disposition)
        filename = re.search(r'; filename="((?:[^"\\]|\\.)*)"', disposition)
        found.append(
            (
                name.group(1) if name else None,
                filename.group(1) if filename else None,
                headers.get("content-type"),
                value[:-2] if value.endswith(b"\r\n") else value,
            )
        )
    return found


def job_body(job_id="video_123", status="queued", **extra):
    body = {
        "id": job_id,
        "object": "video",
        "model": "kling-v1",
        "status": status,
        "progress": 0,
        "created_at": 1764000000,
        "seconds": "5",
        "size": "1280x720",
    }
    body.update(extra)
    return body


def json_response(body, status=200, headers=None):
    return Response(json.dumps(body), status=status, headers=headers or {}, mimetype="application/json")


def default_handler(req):
    """A well-behaved upstream: a model list, and a queued job for anything else."""
    if req.path == "/v1/models":
        return json_response({"object": "list", "data": [{"id": "kling-v1", "object": "model"}]})
    return json_response(job_body())


class ScriptedUpstream(LoopbackServer):
    """Answers with `handler(recorded) -> Response`; by default a queued job for creates."""

    def __init__(self, handler=None, host="127.0.0.1"):
        self.requests = []
        self.handler = handler or default_handler
        super().__init__(self._wsgi, host)

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        body = request.get_data(cache=True) if request.method == "POST" else b""
        files = {name: storage.read() for name, storage in request.files.items()}
        recorded = Recorded(
            request.method,
            request.path,
            dict(request.headers),
            dict(request.args),
            list(request.form.items(multi=True)),
            files,
            request.content_type or "",
            environ.get("RAW_URI", "").split("?")[0],
            body,
        )
        self.requests.append(recorded)
        return self.handler(recorded)(environ, start_response)

    @property
    def creates(self):
        """The POST /v1/videos requests received."""
        return [r for r in self.requests if r.method == "POST" and r.path == "/v1/videos"]


def slow(seconds, response):
    """A handler that answers after a delay (for read timeouts)."""

    def handler(_req):
        time.sleep(seconds)
        return response

    return handler
