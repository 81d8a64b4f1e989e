"""Errors from the upstream, as classes named by meaning, and how its error answers (in every shape real
relays send, see docs/relay-notes.md) become one of them."""

import json
import re
from collections.abc import Callable
from html import unescape
from typing import Any

from app.core.messages import N_, Problem

# Request fields the upstream may name in an error (the contract's, and the aliases relays read).
UPSTREAM_PARAMS = {
    "model",
    "prompt",
    "image",
    "input_reference",
    "images",
    "duration",
    "seconds",
    "width",
    "height",
    "size",
    "fps",
    "seed",
    "n",
    "response_format",
    "user",
    "metadata",
    "negative_prompt",
    "style",
    "quality_level",
}
STATUS_HINTS = {
    401: N_("The video API refused the stored key (HTTP 401). %(message)s"),
    403: N_("The video API does not allow this key to do that (HTTP 403). %(message)s"),
    429: N_("The video API is busy or the quota is used up (HTTP 429). %(message)s"),
}


class UpstreamError(Exception):
    """The upstream could not be reached, or refused, or answered something unusable.

    message is fit to show a person (and scrubbed of the key). may_have_created says that the request
    reached the upstream and no usable answer came back: a create may have been made anyway.
    """

    kind = "error"  # a short word for log lines

    def __init__(
        self,
        message,
        *,
        status=None,
        type_=None,
        param=None,
        code=None,
        retry_after=None,
        detail=None,
        may_have_created: bool = False,
    ) -> None:
        super().__init__(message)
        self.message, self.status = message, status
        self.type, self.param, self.code = type_, param, code
        self.retry_after = retry_after  # whole seconds, as text
        self.detail = detail  # a short excerpt of a body that was not JSON
        self.may_have_created = may_have_created


class UpstreamTimeout(UpstreamError):
    """No connection within the connect timeout, or no answer within the read timeout."""

    kind = "timeout"


class UpstreamUnreachable(UpstreamError):
    """The connection failed: refused, unresolvable, reset, or broken off mid-answer."""

    kind = "connect"


class UpstreamRefused(UpstreamError):
    """The upstream answered with an HTTP error status."""

    kind = "http"


class BadAnswer(UpstreamError):
    """The upstream answered, but not with something usable (not JSON, no safe id, far too large)."""

    kind = "invalid_response"


class UnsafeAddress(UpstreamError):
    """An address the app does not fetch from (a private network, not http(s))."""

    kind = "unsafe_address"


def error_from_response(
    status: int, text: str, retry_after: str | None, scrub: Callable[[Any], Any]
) -> UpstreamRefused:
    """An UpstreamRefused from an error answer: the contract's shape, a relay's, HTML or plain text.

    scrub(value) removes the key from any text or parsed JSON; it is applied before anything is cut.
    """
    try:
        body = scrub(json.loads(text)) if text.strip() else None
    except (ValueError, RecursionError):
        body = None
    message = type_ = param = code = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):  # the contract's and OpenAI's shape
            message, type_ = err.get("message"), err.get("type")
            param, code = err.get("param"), err.get("code")
        elif isinstance(err, str):
            message = err
        if not message and isinstance(body.get("message"), str):  # relay task errors
            message, code = body["message"], body.get("code")
            param = body.get("param")
        if not message and isinstance(body.get("detail"), list) and body["detail"]:
            message, param = _validation_detail(body["detail"][0])  # FastAPI's (LiteLLM's) field errors
        elif not message and body.get("detail"):
            message = str(body["detail"])
    for _ in range(3):  # gateways wrap the provider's error in their own: use the innermost
        inner = _embedded_error(message)
        if inner is None:
            break
        inner = scrub(inner)  # its JSON escapes may spell out what the outer scrub could not see
        message = inner["message"]
        type_, code = inner.get("type") or type_, inner.get("code") or code
        param = inner.get("param") or param
    if message and not param:
        param = param_in_message(str(message))
    detail = None
    if not message:
        detail = excerpt(text)
        if looks_like_html(text):
            title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
            message = (
                Problem(
                    N_("The video API's gateway answered HTTP %(status)s with an HTML page (“%(title)s”)."),
                    status=status,
                    title=scrub(unescape(title.group(1)).strip()[:200]),
                )
                if title
                else Problem(N_("The video API's gateway answered HTTP %(status)s with an HTML page."), status=status)
            )
        elif text.strip():
            message = Problem(
                N_("The video API answered HTTP %(status)s: %(text)s"), status=status, text=scrub(excerpt(text, 200))
            )
        else:
            message = Problem(N_("The video API answered HTTP %(status)s with an empty body."), status=status)
    if not isinstance(message, Problem):
        message = scrub(str(message))[:2000]  # the upstream's own words, shown as sent
    if status in STATUS_HINTS:
        message = Problem(STATUS_HINTS[status], message=message)
    return UpstreamRefused(
        message,
        status=status,
        type_=short_text(type_),
        param=short_text(param),
        code=short_text(code),
        retry_after=retry_seconds(retry_after),
        detail=scrub(detail) if detail else None,
    )


def _embedded_error(message):
    """{"message", "type", "param", "code"} of a JSON error written inside an error message, as LiteLLM
    ('litellm.BadRequestError: OpenAIException - {"error": {...}}'), one-api and new-api wrap them; else None."""
    if not isinstance(message, str) or "{" not in message:
        return None
    start = message.index("{")
    try:
        inner, _ = json.JSONDecoder().raw_decode(message[start:])
    except (ValueError, RecursionError):
        return None
    if not isinstance(inner, dict):
        return None
    nested = inner.get("error")
    err: dict = nested if isinstance(nested, dict) else inner
    text = err.get("message") or err.get("msg")
    if not isinstance(text, str) or not text.strip():
        return None
    return {"message": text, "type": err.get("type"), "param": err.get("param"), "code": err.get("code")}


def _validation_detail(item):
    """(message, param) from one FastAPI validation error: {"loc": ["body", "fps"], "msg": ...}."""
    if not isinstance(item, dict):
        return str(item), None
    loc = item.get("loc") if isinstance(item.get("loc"), list) else []
    param = str(loc[-1]) if loc and isinstance(loc[-1], (str, int)) and loc[0] == "body" else None
    return str(item.get("msg") or item), param


def short_text(value: object, limit: int = 100) -> str | None:
    """An error's type, param or code: text of a sensible length, or None."""
    if value is None or value == "":
        return None
    return str(value)[:limit]


def retry_seconds(value: str | None) -> str | None:
    """Retry-After as whole seconds (at most a day), or None for anything else."""
    text = (value or "").strip()
    return str(min(int(text), 86400)) if text.isdigit() else None


def excerpt(text: str, limit: int = 300) -> str:
    """The readable text of a body, tags and scripts removed, cut to limit characters."""
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text or "", flags=re.I | re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    text = " ".join(unescape(text).split())
    return text[:limit] + ("…" if len(text) > limit else "")


def looks_like_html(text: str) -> bool:
    head = (text or "").lstrip()[:200].lower()
    return head.startswith("<!doctype html") or head.startswith("<html") or "<body" in head or "<title" in head


def param_in_message(message: str) -> str | None:
    """Relay errors like 'prompt is required' name the field only in their text."""
    match = re.match(r"^\W*([a-z_]+)\b", message.strip().lower())
    if match and match.group(1) in UPSTREAM_PARAMS and match.group(1) not in ("n", "user"):
        return match.group(1)
    return None
