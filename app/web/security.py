"""Security headers, proxy awareness, cookies, and one log line per request."""

import logging
import re
import time

from flask import Flask, Response, g, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from app.core.config import Settings
from app.storage.sqlite import count_time, time_locked, time_spent

log = logging.getLogger("app.request")

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
JOB_IN_PATH = re.compile(r"^/jobs/([^/]+)")


class SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over https (directly or via a trusted proxy)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure


def init_security(app: Flask, settings: Settings) -> None:
    if settings.trusted_proxies:
        # Only the headers the shipped nginx site sets (docs/deploy/): a header the proxy passes on unchanged
        # (X-Forwarded-Port, X-Forwarded-Prefix) would be the client's own word.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=0, x_prefix=0)
    app.session_interface = SessionInterface()
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")

    @app.before_request
    def start_timer() -> None:
        g.request_started = time.monotonic()
        count_time()

    @app.after_request
    def finish(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.endpoint != "static":
            response.headers.setdefault("Cache-Control", "no-store" if request.method != "GET" else "no-cache")
        elif "v" in request.args:  # asset_url's address names the content: it never changes
            response.cache_control.immutable = True
        else:  # a module imported by its plain name (./live.js): asked again each visit, 304 when unchanged
            response.cache_control.max_age = 0
            response.cache_control.no_cache = True
        _log_request(response)
        return response


def _log_request(response) -> None:
    started = g.get("request_started")
    took = (time.monotonic() - started) * 1000 if started else 0
    job = JOB_IN_PATH.match(request.path)
    job_id = job.group(1) if job else None
    if response.status_code in (301, 302, 303) and "/jobs/" in response.headers.get("Location", ""):
        job_id = response.headers["Location"].rsplit("/jobs/", 1)[1].split("/")[0]
    spent, locked = time_spent() * 1000, time_locked() * 1000
    log.info(
        "%s %s -> %s in %.0f ms%s%s%s%s",
        request.method,
        _loggable(request.path),
        response.status_code,
        took,
        f" db={spent:.0f} ms" if spent >= 1 else "",
        f" locked={locked:.0f} ms" if locked >= 1 else "",
        f" job={_loggable(job_id)}" if job_id else "",
        f" user={g.identity}" if g.get("identity") else "",
    )


def _loggable(text, limit: int = 300):
    """A path or an opaque id on one log line: control characters escaped (a "%0A" in a URL cannot start a
    forged line), at most limit characters."""
    text = str(text)
    cut = text[:limit] + ("…" if len(text) > limit else "")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in cut)
