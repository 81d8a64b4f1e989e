"""The client of the upstream video API, and the only module that knows its field names, error
shapes, status spellings and timestamp units (see RELAY-NOTES)."""

import http.client
import json
import logging
import math
import re
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime
from html import unescape
from urllib.parse import urljoin

import requests
import urllib3

from app.lifecycle import JobStatus
from app.multipart import Base64File, MultipartBody
from app.netguard import AddressRefused, check_public, same_origin

log = logging.getLogger("app.upstream")

# An id we will put in a URL path and a history row: letters, digits and a few separators, never "." or "..".
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")
LATEST_TIMESTAMP = 253402300799          # 9999-12-31: anything later is not a time a person can read
MAX_SEED = 2**63 - 1
MAX_ANSWER_BYTES = 2 * 1024 * 1024       # a job object is a few kB; a relay answer beyond this is refused unread
MAX_REDIRECTS = 5
REDACTED = "[redacted]"
MIN_SECRET_CHARS = 8
STATUS_SPELLINGS = {
    "queued": "queued", "pending": "queued", "submitted": "queued", "not_start": "queued",
    "not_started": "queued", "waiting": "queued", "created": "queued",
    "in_progress": "in_progress", "processing": "in_progress", "running": "in_progress",
    "generating": "in_progress", "started": "in_progress",
    "completed": "completed", "succeeded": "completed", "success": "completed", "succeed": "completed",
    "done": "completed", "finished": "completed",
    "failed": "failed", "failure": "failed", "error": "failed", "cancelled": "failed",
    "canceled": "failed", "expired": "failed",
}

# Upstream field names (and their aliases) -> the form field a person sees.
PARAM_TO_FIELD = {
    "model": "model", "prompt": "prompt", "image": "image", "input_reference": "image",
    "images": "image", "duration": "duration", "seconds": "duration", "width": "width",
    "height": "height", "size": "width", "fps": "fps", "seed": "seed", "n": "n",
    "response_format": "response_format", "user": "user", "metadata": "metadata",
    "negative_prompt": "negative_prompt", "style": "style", "quality_level": "quality_level",
}


@dataclass
class VideoRequest:
    """A create request in the contract's terms; None means: leave the field out."""

    prompt: str
    model: str | None = None
    image: "str | Base64File | None" = None   # an http(s) URL, or base64 (raw or data: URL) streamed from disk
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    fps: int | None = None
    seed: int | None = None
    n: int | None = None
    response_format: str | None = None
    user: str | None = None
    metadata: dict = field(default_factory=dict)

    def form_parts(self, send_aliases=True):
        """(name, text) pairs for multipart/form-data, in the contract's order."""
        parts = []
        for name in ("model", "prompt", "image", "duration", "width", "height", "fps", "seed", "n",
                     "response_format", "user"):
            value = getattr(self, name)
            if isinstance(value, Base64File):
                parts.append((name, value))
            elif value is not None and value != "":
                parts.append((name, _text(value)))
        if self.metadata:
            parts.append(("metadata", json.dumps(self.metadata, ensure_ascii=False)))
        if send_aliases:
            if self.duration is not None:
                parts.append(("seconds", _text(self.duration)))
            if self.width and self.height:
                parts.append(("size", f"{self.width}x{self.height}"))
        return parts


@dataclass
class Job:
    """A video job as the app shows it, whatever the upstream's spelling."""

    id: str
    status: JobStatus
    raw_status: str = ""
    object: str = "video"
    model: str | None = None
    progress: int = 0
    created_at: int | None = None    # Unix seconds
    completed_at: int | None = None
    expires_at: int | None = None
    seconds: str | None = None
    size: str | None = None
    error: dict | None = None        # {"message", "code"}
    metadata: dict = field(default_factory=dict)
    video_url: str | None = None     # a direct address of the MP4, when the upstream gives one
    variant_count: int = 1
    seed: int | None = None          # the seed the upstream used, when it says
    fps: int | None = None
    raw: dict = field(default_factory=dict)

    def __post_init__(self):
        self.status = JobStatus(self.status)

    @property
    def is_finished(self):
        return self.status.is_finished

    def to_dict(self):
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data):
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @classmethod
    def from_upstream(cls, data):
        """Normalise an upstream job object (OpenAI, the contract, or a relay's variant)."""
        if not isinstance(data, dict):
            raise ValueError("the job is not a JSON object")
        inner = data.get("data") if isinstance(data.get("data"), dict) and "id" not in data else data
        job_id = inner.get("id") or inner.get("task_id")
        if not job_id or not isinstance(job_id, (str, int)) or isinstance(job_id, bool):
            raise ValueError("the answer has no job id")
        if not SAFE_ID.match(str(job_id)):
            raise ValueError("its job id is not one this app can use safely")
        raw_status = str(inner.get("status") or "").strip()[:60]
        status = STATUS_SPELLINGS.get(raw_status.lower(), "unknown" if raw_status else "queued")
        metadata = inner.get("metadata") if isinstance(inner.get("metadata"), dict) else {}
        error = inner.get("error")
        if isinstance(error, str):
            error = {"message": error, "code": None}
        elif isinstance(error, dict):
            error = {"message": str(error.get("message") or error.get("msg") or ""),
                     "code": error.get("code")}
            if not error["message"] and not error["code"]:
                error = None
        else:
            error = None
        if status == "failed" and error is None and inner.get("fail_reason"):
            error = {"message": str(inner["fail_reason"]), "code": None}
        variants = inner.get("variants") if isinstance(inner.get("variants"), list) else []
        return cls(
            id=str(job_id), status=status, raw_status=raw_status,
            object=str(inner.get("object") or "video"),
            model=_str_or_none(inner.get("model")),
            progress=_progress(inner.get("progress"), status),
            created_at=unix_seconds(inner.get("created_at")),
            completed_at=unix_seconds(inner.get("completed_at")),
            expires_at=unix_seconds(inner.get("expires_at")),
            seconds=_str_or_none(inner.get("seconds")),
            size=_str_or_none(inner.get("size")),
            error=error, metadata=metadata,
            video_url=_video_url(inner, metadata),
            variant_count=max(1, min(len(variants), 16)),
            seed=_whole(inner.get("seed"), 0, MAX_SEED) if inner.get("seed") is not None
            else _whole(metadata.get("seed"), 0, MAX_SEED),
            fps=_whole(inner.get("fps"), 1, 1000),
            raw=data,
        )


class UpstreamError(Exception):
    """The upstream could not be reached or refused; carries what a person needs to see."""

    def __init__(self, kind, message, *, status=None, type_=None, param=None, code=None,
                 retry_after=None, detail=None, may_have_created=False):
        super().__init__(message)
        self.kind = kind            # timeout | connect | http | invalid_response
        # The request reached the upstream and no usable answer came back: a create may have been made.
        self.may_have_created = may_have_created
        self.message = message
        self.status = status
        self.type = type_
        self.param = param
        self.code = code
        self.retry_after = retry_after
        self.detail = detail        # a short excerpt of a non-JSON body

    @property
    def field(self):
        """The form field the error concerns, when it names one."""
        if not self.param:
            return None
        key = str(self.param).split(".")[0].split("[")[0].strip().lower()
        return PARAM_TO_FIELD.get(key, "metadata" if str(self.param).startswith("metadata") else None)

    @property
    def http_status(self):
        """What the app answers the browser with."""
        if self.kind == "timeout":
            return 504
        if self.kind == "http" and self.status in (400, 404, 409, 413, 422, 429):
            return 429 if self.status == 429 else (413 if self.status == 413 else 400)
        return 502


class VideoAPI:
    """One requests.Session to the upstream, the bearer key set once, a timeout on every call."""

    def __init__(self, base_url, key, *, connect_timeout=5.0, read_timeout=60.0,
                 send_aliases=True, session=None, allowed_private_hosts=()):
        self.base_url = base_url.rstrip("/")
        self.allowed_private_hosts = {h.lower() for h in allowed_private_hosts}
        self.timeout = (connect_timeout, read_timeout)
        self.send_aliases = send_aliases
        # The key scrubbed from answers; a "key" of a few characters (the demo API's "demo") is no secret,
        # and replacing such a short string everywhere would garble every message.
        self._secret = key if len(key or "") >= MIN_SECRET_CHARS else ""
        self.session = session or requests.Session()
        if key:
            self.session.headers["Authorization"] = f"Bearer {key}"
        self.session.headers["Accept"] = "application/json"

    def create_video(self, request: VideoRequest) -> Job:
        """POST /v1/videos as multipart/form-data (streamed: an image is read from disk as it is sent)."""
        body = MultipartBody(request.form_parts(self.send_aliases))
        resp = self._call("POST", "/v1/videos", data=body, headers={"Content-Type": body.content_type})
        try:
            job = self._job(resp)
        except UpstreamError as exc:
            # A 2xx whose body we cannot use: the upstream said yes, so the job may well exist.
            exc.may_have_created = exc.kind == "invalid_response" or exc.may_have_created
            raise
        log.info("upstream created job=%s status=%s", job.id, job.status)
        return job

    def get_video(self, video_id, timeout=None) -> Job:
        """GET /v1/videos/{id}, with the upstream's polling hint in job.raw['_poll_after_ms'].

        The job keeps the id it was asked for: a relay may answer with another one (or a task_id).
        """
        resp = self._call("GET", f"/v1/videos/{video_id}", timeout=timeout)
        job = self._job(resp)
        if job.id != video_id:
            log.info("upstream answered job=%s for job=%s; keeping the id asked for", job.id, video_id)
            job.id = video_id
        hint = resp.headers.get("openai-poll-after-ms")
        if hint and hint.isdigit():
            job.raw = {**job.raw, "_poll_after_ms": min(int(hint), 3_600_000)}
        return job

    def delete_video(self, video_id):
        """DELETE /v1/videos/{id}; relays without the route answer 404/405, which callers may ignore."""
        self._call("DELETE", f"/v1/videos/{video_id}")

    def open_content(self, video_id, variant="video", index=None, url=None):
        """A streaming response with the MP4 (or thumbnail); the caller closes it."""
        params = {"variant": variant} if variant != "video" else {}
        if index:
            params["index"] = index
        # Ask for the media itself: an upstream that picks the format from Accept would otherwise send JSON.
        accept = {"Accept": "image/jpeg, image/webp, image/*;q=0.8, */*;q=0.1" if variant == "thumbnail"
                  else "video/mp4, video/*;q=0.9, application/octet-stream;q=0.8, */*;q=0.1"}
        if url:
            return self._call("GET", url, stream=True, absolute=True, headers=accept)
        return self._call("GET", f"/v1/videos/{video_id}/content", params=params, stream=True, headers=accept)

    def list_models(self, timeout=3.0):
        """Model ids from GET /v1/models (OpenAI's list shape, or a bare list)."""
        resp = self._call("GET", "/v1/models", timeout=(min(self.timeout[0], timeout), timeout))
        body = self._json(resp)
        items = body.get("data") if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise UpstreamError("invalid_response", "The model list is not in a known shape.")
        ids = [str(m.get("id")) if isinstance(m, dict) else str(m) for m in items]
        return [i for i in ids if i and i != "None"]

    # --- plumbing ------------------------------------------------------------------------------

    def _call(self, method, path, *, timeout=None, stream=False, absolute=False, headers=None, **kwargs):
        """One request. Its body is read here (capped, the key scrubbed) unless stream=True; an error
        status becomes an UpstreamError. Redirects are followed here, each hop checked like the first."""
        url = path if absolute else f"{self.base_url}{path}"
        timeout = timeout or self.timeout
        started = time.monotonic()
        try:
            resp = self._send(method, url, timeout, headers, kwargs)
            if not stream or resp.status_code >= 400:
                self._read_body(resp)
        except UpstreamError:
            self._log(method, path, "refused", started)
            raise
        except requests.exceptions.RequestException as exc:
            self._raise_transport(exc, method, path, timeout, started)
        self._log(method, path, resp.status_code, started)
        if resp.status_code >= 400:
            try:
                raise self._error(resp)
            finally:
                resp.close()
        return resp

    def _raise_transport(self, exc, method, path, timeout, started):
        """Map a transport failure to an UpstreamError by exception type (a read timeout while a body
        streams arrives wrapped in a ConnectionError, so the causes are looked at too)."""
        if isinstance(exc, requests.exceptions.ConnectionError) and any(
                isinstance(c, urllib3.exceptions.ReadTimeoutError) for c in _causes(exc)):
            exc = requests.exceptions.ReadTimeout(exc)
        try:
            raise exc
        except requests.exceptions.ConnectTimeout:
            self._log(method, path, "connect-timeout", started)
            raise UpstreamError("timeout", f"The video API at {self.base_url} did not accept a connection "
                                           f"within {timeout[0]:g} s.") from exc
        except requests.exceptions.ReadTimeout:
            self._log(method, path, "read-timeout", started)
            raise UpstreamError("timeout", f"The video API did not answer within {timeout[1]:g} s; "
                                           "it may still be working on it.",
                                may_have_created=True) from exc
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError):
            self._log(method, path, "broken-body", started)
            raise UpstreamError("connect", "The connection to the video API broke off in the middle of its "
                                           "answer. Try again in a moment.", may_have_created=True) from exc
        except requests.exceptions.ConnectionError:
            self._log(method, path, "connection-error", started)
            message, reached = _connection_failure(exc, self.base_url)
            raise UpstreamError("connect", message, may_have_created=reached) from exc
        except requests.exceptions.RequestException:
            self._log(method, path, "error", started)
            raise UpstreamError("connect", f"The request to the video API failed: {type(exc).__name__}.") from exc

    def _send(self, method, url, timeout, headers, kwargs):
        """Send, following redirects by hand: only the upstream's own host, or public addresses, are reached,
        and the key goes only to the upstream's own host."""
        for _ in range(MAX_REDIRECTS + 1):
            hop_headers = dict(headers or {})
            if not same_origin(url, self.base_url):
                try:
                    check_public(url, self.allowed_private_hosts)
                except AddressRefused as exc:
                    raise UpstreamError("unsafe_address", str(exc)) from None
                hop_headers["Authorization"] = None    # a provider's address on another host never gets the key
            resp = self.session.request(method, url, timeout=timeout, stream=True, headers=hop_headers,
                                        allow_redirects=False, **kwargs)
            if not (resp.is_redirect and method in ("GET", "HEAD")):
                return resp
            location = resp.headers.get("Location", "")
            resp.close()
            url = urljoin(url, location)
            kwargs.pop("params", None)
        raise UpstreamError("invalid_response", "The video API redirected too many times.")

    def _read_body(self, resp):
        """Read a JSON (or error) answer, refusing one larger than MAX_ANSWER_BYTES; scrub the key from it."""
        chunks, size = [], 0
        for chunk in resp.iter_content(64 * 1024):
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                resp.close()
                raise UpstreamError("invalid_response", f"The video API answered HTTP {resp.status_code} with more "
                                    f"than {MAX_ANSWER_BYTES // 1048576} MB, far more than a job takes; it was not "
                                    "read.", status=resp.status_code, may_have_created=resp.ok)
            chunks.append(chunk)
        body = b"".join(chunks)
        if self._secret:
            body = body.replace(self._secret.encode("utf-8"), REDACTED.encode())
        resp._content, resp._content_consumed = body, True

    def _log(self, method, path, outcome, started):
        log.info("upstream %s %s -> %s in %.0f ms", method, path.split("?")[0], outcome,
                 (time.monotonic() - started) * 1000)

    def _job(self, resp):
        body = self._json(resp)
        try:
            return Job.from_upstream(body)
        except ValueError as exc:
            raise UpstreamError("invalid_response", f"The video API answered HTTP {resp.status_code} but {exc}.",
                                status=resp.status_code, detail=self._scrub(_excerpt(resp.text))) from None

    def _json(self, resp):
        try:
            return self._scrub_tree(resp.json())
        except (ValueError, RecursionError):
            kind = "an HTML page" if _looks_like_html(resp.text) else "a body that is not JSON"
            raise UpstreamError("invalid_response",
                                f"The video API answered HTTP {resp.status_code} with {kind} instead of JSON.",
                                status=resp.status_code, detail=self._scrub(_excerpt(resp.text))) from None
        except requests.exceptions.RequestException as exc:  # the connection dropped mid-body
            raise UpstreamError("connect", "The connection to the video API broke while it was answering.") from exc

    def _error(self, resp):
        status = resp.status_code
        retry_after = _retry_after(self._scrub(resp.headers.get("Retry-After")))
        try:
            text = resp.text
        except requests.exceptions.RequestException:
            text = ""
        try:
            body = self._scrub_tree(json.loads(text)) if text.strip() else None
        except (ValueError, RecursionError):
            body = None
        message = type_ = param = code = None
        if isinstance(body, dict):
            err = body.get("error")
            if isinstance(err, dict):                      # the contract's and OpenAI's shape
                message, type_ = err.get("message"), err.get("type")
                param, code = err.get("param"), err.get("code")
            elif isinstance(err, str):
                message = err
            if not message and isinstance(body.get("message"), str):   # relay task errors
                message, code = body["message"], body.get("code")
                param = body.get("param")
            if not message and body.get("detail"):
                message = str(body["detail"])
        if message and not param:
            param = _param_in_message(message)
        detail = None
        if not message:
            detail = _excerpt(text)
            if _looks_like_html(text):
                title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
                title_text = f" ('{unescape(title.group(1)).strip()}')" if title else ""
                message = f"The video API's gateway answered HTTP {status} with an HTML page{title_text}."
            elif text.strip():
                message = f"The video API answered HTTP {status}: {_excerpt(text, 200)}"
            else:
                message = f"The video API answered HTTP {status} with an empty body."
        message = f"{_STATUS_HINTS.get(status, '')}{message}"
        return UpstreamError("http", self._scrub(str(message))[:2000], status=status, type_=_short_text(type_),
                             param=_short_text(param), code=_short_text(code),
                             retry_after=retry_after, detail=self._scrub(detail) if detail else None)

    def _scrub(self, text):
        """Never let the key through, should an upstream echo it back."""
        if text and self._secret and self._secret in text:
            return text.replace(self._secret, REDACTED)
        return text

    def _scrub_tree(self, value):
        """The key out of every string of a parsed answer (JSON escapes can spell it out again)."""
        if isinstance(value, str):
            return self._scrub(value)
        if isinstance(value, list):
            return [self._scrub_tree(v) for v in value]
        if isinstance(value, dict):
            return {self._scrub(str(k)): self._scrub_tree(v) for k, v in value.items()}
        return value


_STATUS_HINTS = {
    401: "The video API refused the stored key (HTTP 401). ",
    403: "The video API does not allow this key to do that (HTTP 403). ",
    429: "The video API is busy or the quota is used up (HTTP 429). ",
}


def unix_seconds(value):
    """Unix seconds from seconds, milliseconds, numeric strings or ISO text; None when absent."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        try:
            return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp())
        except ValueError:
            return None
    if not math.isfinite(number):
        return None
    if number > 1e14:       # microseconds
        number /= 1e6
    elif number > 1e11:     # milliseconds: 1e11 s is the year 5138
        number /= 1e3
    return int(number) if 0 < number <= LATEST_TIMESTAMP else None


def _progress(value, status):
    try:
        number = float(str(value).rstrip("%"))
    except (TypeError, ValueError):
        number = 0
    if not math.isfinite(number):
        number = 0
    if 0 < number <= 1 and isinstance(value, float):
        number *= 100
    if status == "completed":
        number = 100
    return max(0, min(100, int(number)))


def _video_url(job, metadata):
    for candidate in (metadata.get("url"), job.get("url"), job.get("video_url")):
        if isinstance(candidate, str) and candidate.startswith(("http://", "https://")):
            return candidate
    return None


def _whole(value, low, high):
    """A whole number within [low, high] from an int or a numeric string; None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = int(value) if isinstance(value, int) else int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if low <= number <= high else None


def _short_text(value, limit=100):
    """An error's type, param or code: text of a sensible length, or None."""
    text = _str_or_none(value)
    return text[:limit] if text else None


def _retry_after(value):
    """Retry-After as whole seconds (at most a day), or None for anything else."""
    text = (value or "").strip()
    return str(min(int(text), 86400)) if text.isdigit() else None


def _str_or_none(value):
    return None if value is None or value == "" else str(value)


def _text(value):
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _excerpt(text, limit=300):
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text or "", flags=re.I | re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    text = " ".join(unescape(text).split())
    return text[:limit] + ("…" if len(text) > limit else "")


def _looks_like_html(text):
    head = (text or "").lstrip()[:200].lower()
    return head.startswith("<!doctype html") or head.startswith("<html") or "<body" in head or "<title" in head


def _param_in_message(message):
    """Relay errors like 'prompt is required' name the field only in their text."""
    match = re.match(r"^\W*([a-z_]+)\b", message.strip().lower())
    if match and match.group(1) in PARAM_TO_FIELD and match.group(1) not in ("n", "user"):
        return match.group(1)
    return None


def _causes(exc):
    """The exception and everything it wraps (requests -> urllib3 -> socket)."""
    found, stack = [], [exc]
    while stack:
        current = stack.pop()
        if current is None or any(current is f for f in found):
            continue
        found.append(current)
        stack.extend([getattr(current, "reason", None), current.__cause__, current.__context__,
                      *[a for a in getattr(current, "args", ()) if isinstance(a, BaseException)]])
    return found


def _connection_failure(exc, base_url):
    """A message for a transport failure, classified by exception type, and whether the request got through."""
    causes = _causes(exc)
    if any(isinstance(c, (socket.gaierror, urllib3.exceptions.NameResolutionError)) for c in causes):
        return f"The video API's host name could not be resolved ({base_url}). Check VIDEO_API_BASE_URL.", False
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return f"Nothing is listening at {base_url}: the video API refused the connection. Is it running?", False
    if any(isinstance(c, urllib3.exceptions.NewConnectionError) for c in causes):
        return f"The video API at {base_url} could not be reached.", False
    if any(isinstance(c, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                          urllib3.exceptions.ProtocolError)) for c in causes):
        return "The video API closed the connection without answering.", True
    return f"The video API at {base_url} could not be reached.", True
