"""The HTTP client of the upstream video API: one requests.Session, the bearer key set once, a timeout on
every call, redirects checked hop by hop, answers size-capped and scrubbed of the key."""

import base64
import http.client
import logging
import socket
import threading
import time
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from app.core.messages import N_, Problem
from app.core.metrics import UPSTREAM_ERRORS
from app.upstream.addresses import AddressRefused, PinnedTransport, read_address, without_user_info
from app.upstream.errors import (
    BadAnswer,
    UnsafeAddress,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnreachable,
    error_from_response,
    excerpt,
    looks_like_html,
)
from app.upstream.flavors import (
    FLAVORS,
    OPENAI,
    RELAY,
    Flavor,
    UpstreamCall,
    build_create,
    build_remix,
    path_segment,
)
from app.upstream.models import Job, VideoRequest
from app.upstream.redaction import Redactor

Timeout = float | tuple[float, float]  # seconds, or (connect, read) as requests takes it

log = logging.getLogger("app.upstream")

MAX_ANSWER_BYTES = 2 * 1024 * 1024  # a job object is a few kB; a relay answer beyond this is refused unread
MAX_REDIRECTS = 5
PROBE_SECONDS = 3.0  # the flavour probe (VIDEO_API_FLAVOR=auto) waits at most this long
PROBE_AGAIN_SECONDS = 60.0  # after a probe that got no answer
SEND_BLOCK = 256 * 1024  # a request body (a base64 image) goes out in blocks of this size, not urllib3's 16 KiB


class VideoAPI:
    """One requests.Session to the upstream; the key is attached by its transport, per request, only when
    the connection goes to the API's own origin (app/upstream/addresses.py). A timeout on every call."""

    def __init__(
        self,
        base_url,
        key,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        send_aliases: bool = True,
        session=None,
        allowed_private_hosts=(),
        user_info: str = "",
        flavor: str = "auto",
        image_base64_format: str = "raw",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.send_aliases = send_aliases
        self.image_base64_format = image_base64_format
        self.flavor_setting = flavor
        self._flavor = FLAVORS.get(flavor)  # None while "auto" has not decided
        self._flavor_lock = threading.Lock()
        self._probe_again_at = 0.0
        password = user_info.split(":", 1)[1] if ":" in user_info else ""
        self._redact = Redactor(key or "", password)
        if key:
            authorization = f"Bearer {key}"
        elif user_info:
            authorization = "Basic " + base64.b64encode(user_info.encode("utf-8")).decode("ascii")
        else:
            authorization = None
        self.session = session or requests.Session()
        transport = PinnedTransport(self.base_url, authorization, allowed_private_hosts, blocksize=SEND_BLOCK)
        for prefix in ("http://", "https://"):
            self.session.mount(prefix, transport)
        self.session.headers.pop("Authorization", None)
        self.session.headers["Accept"] = "application/json"

    def flavor(self) -> Flavor:
        """The flavour requests are written in: VIDEO_API_FLAVOR, or for "auto" the one the upstream was
        recognised as (see detect_flavor)."""
        if self._flavor is None:
            with self._flavor_lock:
                if self._flavor is None and time.monotonic() >= self._probe_again_at:
                    try:
                        self._flavor = self.detect_flavor()
                    except UpstreamError as exc:
                        # Not reachable just now: requests go as a relay would read them, and the upstream
                        # is asked again in a minute. The request itself meets (and reports) the real fault.
                        log.info("upstream flavour not known yet (%s); writing requests for a relay", exc.kind)
                        self._probe_again_at = time.monotonic() + PROBE_AGAIN_SECONDS
        return self._flavor or RELAY

    def detect_flavor(self) -> Flavor:
        """openai for OpenAI's own host and for LiteLLM's proxy (it answers GET /health/liveliness and stamps
        x-litellm-version on its answers); relay for everything else, new-api and one-api included."""
        if (urlsplit(self.base_url).hostname or "").lower() == "api.openai.com":
            return OPENAI
        try:
            resp = self._call(
                "GET",
                "/health/liveliness",
                timeout=(min(self.timeout[0], PROBE_SECONDS), min(self.timeout[1], PROBE_SECONDS)),
            )
        except (UpstreamUnreachable, UpstreamTimeout, BadAnswer):
            raise  # not reachable now: decide on a later call rather than guess
        except UpstreamError:
            return RELAY
        if resp.headers.get("x-litellm-version") or "i'm alive" in resp.text.lower():
            log.info("upstream recognised as LiteLLM's proxy: requests are written in the openai flavour")
            return OPENAI
        return RELAY

    def prepare_create(self, request: VideoRequest, flavor: str | None = None) -> UpstreamCall:
        """The create call for this request, exactly as it will be sent (and as "As code" prints it)."""
        chosen = FLAVORS[flavor] if flavor in FLAVORS else self.flavor()
        return build_create(request, chosen, self.image_base64_format, self.send_aliases)

    def prepare_remix(self, video_id: str, prompt: str) -> UpstreamCall:
        return build_remix(video_id, prompt)

    def send(self, call: UpstreamCall) -> Job:
        """Send a prepared create or remix as multipart/form-data (a picture is read from disk as it goes)."""
        return self._post_job(call.path, call.body())

    def create_video(self, request: VideoRequest) -> Job:
        """POST /v1/videos as multipart/form-data, written in the upstream's flavour."""
        return self.send(self.prepare_create(request))

    def remix_video(self, video_id: str, prompt: str) -> Job:
        """POST /v1/videos/{id}/remix: the same video again with a new prompt (relays and OpenAI have it;
        an upstream without the route answers 404 or 405)."""
        return self.send(self.prepare_remix(video_id, prompt))

    def _post_job(self, path, body):
        resp = self._call("POST", path, data=body, headers={"Content-Type": body.content_type})
        try:
            job = self._job(resp)
        except UpstreamError as exc:
            # A 2xx whose body we cannot use: the upstream said yes, so the job may well exist.
            exc.may_have_created = isinstance(exc, BadAnswer) or exc.may_have_created
            raise
        log.info("upstream created job=%s status=%s", job.id, job.status)
        return job

    def get_video(self, video_id: str, timeout: Timeout | None = None) -> Job:
        """GET /v1/videos/{id}, with the upstream's polling hint in job.raw['_poll_after_ms'].

        The job keeps the id it was asked for: a relay may answer with another one (or a task_id).
        """
        resp = self._call("GET", f"/v1/videos/{path_segment(video_id)}", timeout=timeout)
        job = self._job(resp)
        if job.id != video_id:
            log.info("upstream answered job=%s for job=%s; keeping the id asked for", job.id, video_id)
            job.id = video_id
        hint = resp.headers.get("openai-poll-after-ms")
        if hint and hint.isdigit():
            job.raw = {**job.raw, "_poll_after_ms": min(int(hint), 3_600_000)}
        return job

    def delete_video(self, video_id: str) -> None:
        """DELETE /v1/videos/{id}; relays without the route answer 404/405, which callers may ignore."""
        self._call("DELETE", f"/v1/videos/{path_segment(video_id)}")

    def open_content(
        self, video_id: str, variant: str = "video", index: int | None = None, url: str | None = None
    ) -> requests.Response:
        """A streaming response with the MP4 (or thumbnail); the caller closes it."""
        params: dict[str, str | int] = {"variant": variant} if variant != "video" else {}
        if index:
            params["index"] = index
        # Ask for the media itself: an upstream that picks the format from Accept would otherwise send JSON.
        accept = {
            "Accept": "image/jpeg, image/webp;q=0.9, image/*;q=0.8, */*;q=0.1"
            if variant == "thumbnail"
            else "video/mp4, video/*;q=0.9, application/octet-stream;q=0.8, */*;q=0.1"
        }
        if url:
            return self._call("GET", url, stream=True, absolute=True, headers=accept)
        return self._call(
            "GET", f"/v1/videos/{path_segment(video_id)}/content", params=params, stream=True, headers=accept
        )

    def list_videos(self, limit: int = 100, timeout: Timeout | None = None) -> list[Job]:
        """The API's most recent jobs (GET /v1/videos, newest first), as Jobs; jobs it cannot read are left
        out. Relays without the route answer 404, 405 or 400 (LiteLLM wants a provider named)."""
        resp = self._call("GET", "/v1/videos", params={"limit": limit, "order": "desc"}, timeout=timeout)
        body = self._json(resp)
        items = body.get("data") if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise BadAnswer(Problem(N_("The video API's list of jobs is not in a known shape.")))
        jobs = []
        for item in items[:limit]:
            try:
                jobs.append(Job.from_upstream(item))
            except ValueError:
                continue
        return jobs

    def list_models(self, timeout: float = 3.0) -> list[str]:
        """Model ids from GET /v1/models (OpenAI's list shape, or a bare list)."""
        resp = self._call("GET", "/v1/models", timeout=(min(self.timeout[0], timeout), timeout))
        body = self._json(resp)
        items = body.get("data") if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise BadAnswer("The model list is not in a known shape.")
        ids = [str(m.get("id")) if isinstance(m, dict) else str(m) for m in items]
        return [i for i in ids if i and i != "None"]

    # --- plumbing ------------------------------------------------------------------------------

    def _call(
        self,
        method,
        path,
        *,
        timeout: Timeout | None = None,
        stream: bool = False,
        absolute: bool = False,
        headers=None,
        **kwargs,
    ):
        """One request. Its body is read here (capped, the key scrubbed) unless stream=True; an error
        status becomes an UpstreamError. Redirects are followed here, each hop checked like the first."""
        url = path if absolute else f"{self.base_url}{path}"
        timeout = timeout or self.timeout
        started = time.monotonic()
        try:
            resp = self._send(method, url, timeout, headers, kwargs)
            if not stream or resp.status_code >= 400:
                self._read_body(resp)
        except UpstreamError as exc:
            self._log(method, path, "refused", started)
            UPSTREAM_ERRORS.labels(kind=exc.kind).inc()
            raise
        except requests.exceptions.RequestException as exc:
            try:
                self._raise_transport(exc, method, path, timeout, started)
            except UpstreamError as error:
                UPSTREAM_ERRORS.labels(kind=error.kind).inc()
                raise
        self._log(method, path, resp.status_code, started)
        if (
            self.flavor_setting == "auto"
            and self._flavor is not OPENAI
            and not absolute
            and resp.headers.get("x-litellm-version")
        ):
            log.info("upstream answered as LiteLLM's proxy: later requests are written in the openai flavour")
            self._flavor = OPENAI
        if resp.status_code >= 400:
            try:
                error = self._error(resp)
                UPSTREAM_ERRORS.labels(kind=error.kind).inc()
                raise error
            finally:
                resp.close()
        return resp

    def _raise_transport(self, exc, method, path, timeout, started):
        """Map a transport failure to an UpstreamError by exception type (a read timeout while a body
        streams arrives wrapped in a ConnectionError, so the causes are looked at too)."""
        if isinstance(exc, requests.exceptions.ConnectionError) and any(
            isinstance(c, urllib3.exceptions.ReadTimeoutError) for c in _causes(exc)
        ):
            exc = requests.exceptions.ReadTimeout(exc)
        try:
            raise exc
        except requests.exceptions.ConnectTimeout:
            self._log(method, path, "connect-timeout", started)
            raise UpstreamTimeout(
                Problem(
                    N_("The video API at %(url)s did not accept a connection within %(seconds)s s."),
                    url=self.base_url,
                    seconds=f"{timeout[0]:g}",
                )
            ) from exc
        except requests.exceptions.ReadTimeout:
            self._log(method, path, "read-timeout", started)
            raise UpstreamTimeout(
                Problem(
                    N_("The video API did not answer within %(seconds)s s; it may still be working on it."),
                    seconds=f"{timeout[1]:g}",
                ),
                may_have_created=True,
            ) from exc
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError):
            self._log(method, path, "broken-body", started)
            raise UpstreamUnreachable(
                Problem(
                    N_("The connection to the video API broke off in the middle of its answer. Try again in a moment.")
                ),
                may_have_created=True,
            ) from exc
        except requests.exceptions.ConnectionError:
            self._log(method, path, "connection-error", started)
            message, reached = _connection_failure(exc, self.base_url)
            raise UpstreamUnreachable(message, may_have_created=reached) from exc
        except requests.exceptions.RequestException:
            self._log(method, path, "error", started)
            raise UpstreamUnreachable(
                Problem(N_("The request to the video API failed: %(error)s."), error=type(exc).__name__)
            ) from exc

    def _send(self, method, url, timeout, headers, kwargs):
        """Send, following redirects by hand, each hop read and checked like the first: only the upstream's
        own origin, or public addresses, are reached, and the key goes only to the upstream's own origin."""
        for _ in range(MAX_REDIRECTS + 1):
            try:
                read_address(url)  # refused outright if two parsers could read it differently
                resp = self.session.request(
                    method, url, timeout=timeout, stream=True, headers=headers, allow_redirects=False, **kwargs
                )
            except AddressRefused as exc:
                raise UnsafeAddress(self._scrub(str(exc))) from None
            if not (resp.is_redirect and method in ("GET", "HEAD")):
                return resp
            location = resp.headers.get("Location", "")
            resp.close()
            url = urljoin(url, location)
            kwargs.pop("params", None)
        raise BadAnswer(Problem(N_("The video API redirected too many times.")))

    def _read_body(self, resp):
        """Read a JSON (or error) answer, refusing one larger than MAX_ANSWER_BYTES; scrub the key from it."""
        chunks, size = [], 0
        for chunk in resp.iter_content(64 * 1024):
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                resp.close()
                raise BadAnswer(
                    Problem(
                        N_(
                            "The video API answered HTTP %(status)s with more than %(mb)s MB, far "
                            "more than a job takes; it was not read."
                        ),
                        status=resp.status_code,
                        mb=MAX_ANSWER_BYTES // 1048576,
                    ),
                    status=resp.status_code,
                    may_have_created=resp.ok,
                )
            chunks.append(chunk)
        body = self._redact.bytes(b"".join(chunks))
        resp._content, resp._content_consumed = body, True
        resp.close()  # the body is read: the connection goes back to the pool, kept alive

    def _log(self, method, path, outcome, started) -> None:
        # A status read that went well is routine (hundreds a second with many jobs): DEBUG, not INFO.
        routine = (
            method == "GET"
            and isinstance(outcome, int)
            and outcome < 400
            and path.startswith("/v1/videos/")
            and not path.split("?")[0].endswith("/content")
        )
        level = logging.DEBUG if routine else logging.INFO
        if log.isEnabledFor(level):
            log.log(
                level,
                "upstream %s %s -> %s in %.0f ms",
                method,
                self._scrub(without_user_info(path.split("?")[0]))[:300],
                outcome,
                (time.monotonic() - started) * 1000,
            )

    def _job(self, resp):
        body = self._json(resp)
        try:
            return Job.from_upstream(body)
        except ValueError as exc:
            raise BadAnswer(
                Problem(
                    N_("The video API answered HTTP %(status)s but %(reason)s."),
                    status=resp.status_code,
                    reason=str(exc),
                ),
                status=resp.status_code,
                detail=self._scrub(excerpt(resp.text)),
            ) from None

    def _json(self, resp):
        try:
            return self._scrub_tree(resp.json())
        except (ValueError, RecursionError):
            message = (
                N_("The video API answered HTTP %(status)s with an HTML page instead of JSON.")
                if looks_like_html(resp.text)
                else N_("The video API answered HTTP %(status)s with a body that is not JSON.")
            )
            raise BadAnswer(
                Problem(message, status=resp.status_code),
                status=resp.status_code,
                detail=self._scrub(excerpt(resp.text)),
            ) from None

    def _error(self, resp):
        return error_from_response(
            resp.status_code, resp.text, self._scrub(resp.headers.get("Retry-After")), self._scrub_tree
        )

    def _scrub(self, text):
        """Never let the key through, in any case or escape, should an upstream echo it back."""
        return self._redact.text(text)

    def _scrub_tree(self, value):
        """The key out of every string of a parsed answer (JSON escapes can spell it out again)."""
        return self._redact.tree(value)


def _causes(exc):
    """The exception and everything it wraps (requests -> urllib3 -> socket)."""
    found, stack = [], [exc]
    while stack:
        current = stack.pop()
        if current is None or any(current is f for f in found):
            continue
        found.append(current)
        stack.extend(
            [
                getattr(current, "reason", None),
                current.__cause__,
                current.__context__,
                *[a for a in getattr(current, "args", ()) if isinstance(a, BaseException)],
            ]
        )
    return found


def _connection_failure(exc, base_url):
    """A message for a transport failure, classified by exception type, and whether the request got through."""
    causes = _causes(exc)
    if any(isinstance(c, (socket.gaierror, urllib3.exceptions.NameResolutionError)) for c in causes):
        return Problem(
            N_("The video API's host name could not be resolved (%(url)s). Check VIDEO_API_BASE_URL."), url=base_url
        ), False
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return Problem(
            N_("Nothing is listening at %(url)s: the video API refused the connection. Is it running?"), url=base_url
        ), False
    if any(isinstance(c, urllib3.exceptions.NewConnectionError) for c in causes):
        return Problem(N_("The video API at %(url)s could not be reached."), url=base_url), False
    if any(
        isinstance(
            c, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, urllib3.exceptions.ProtocolError)
        )
        for c in causes
    ):
        return Problem(N_("The video API closed the connection without answering.")), True
    return Problem(N_("The video API at %(url)s could not be reached."), url=base_url), True
