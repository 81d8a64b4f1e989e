"""The web layer: every page and route, forms, filters, sign-in, request security and logs.

init_web() sets it all up on a Flask app, and register_blueprints() is the one place that lists every
blueprint."""

import functools
import hashlib
import logging
import os
import secrets
import time

from flask import Flask, current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from app.core.config import Settings
from app.core.i18n import gettext as _
from app.core.i18n import init_i18n, problem_text
from app.core.lifecycle import ArchiveState, JobStatus
from app.core.messages import Problem
from app.media.images import UploadRequest
from app.web import (
    auth,
    code,
    compare,
    examples,
    form_page,
    language,
    metrics,
    present,
    remix,
    sharing,
    studio,
    usage,
)
from app.web.auth import init_auth
from app.web.filters import duration_text, register_filters
from app.web.forms import PROMPT_LIMIT
from app.web.job_urls import init_job_urls
from app.web.presenters import ignored_fields, sent_fields
from app.web.security import init_security
from app.web.signin_limit import init_limiter, limiter

csrf = CSRFProtect()


def init_web(app: Flask, settings: Settings) -> None:
    """Requests, security, sign-in, languages, CSRF, filters, template helpers, blueprints, error pages."""
    app.request_class = UploadRequest  # an uploaded image is written to disk once, where it is kept
    init_job_urls(app)  # before the blueprints: their rules use <job:...>
    init_security(app, settings)
    init_auth(app)  # before CSRF: a signed-out person is sent to sign in, not shown a CSRF error
    init_i18n(app)
    csrf.init_app(app)
    # Over Flask-WTF's (a global and a context processor, so both): see page_csrf_token.
    app.add_template_global(form_page.page_csrf_token, "csrf_token")
    app.context_processor(lambda: {"csrf_token": form_page.page_csrf_token})
    init_limiter(app, settings)
    register_filters(app)
    app.add_template_global(form_page.folded_extras)
    app.add_template_global(ignored_fields)
    app.add_template_global(sent_fields)
    # A fresh one-time token for a form that sends a job (remix): sent twice, it makes one job.
    app.add_template_global(lambda: secrets.token_hex(16), "one_time_token")
    register_blueprints(app)
    app.context_processor(
        lambda: {
            "asset_url": asset_url,
            "auth_mode": settings.auth_mode,
            "demo_mode": settings.demo_mode,
            "JobStatus": JobStatus,
            "ArchiveState": ArchiveState,
            "prompt_limit": PROMPT_LIMIT,
        }
    )
    register_errorhandlers(app, settings)


def register_blueprints(app: Flask) -> None:
    """Every page of the studio, by area."""
    for module in (studio, code, remix, examples, compare, sharing, present, usage, metrics, language, auth):
        app.register_blueprint(module.bp)


def register_errorhandlers(app: Flask, settings: Settings) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(err: CSRFError) -> ResponseReturnValue:
        if request.endpoint == "studio.create_job":
            return form_page.form_again(
                400,
                _(
                    "The form had expired or came from another page, so nothing was sent. Your values are below: "
                    "check them (choose the image again if you had picked one) and submit again."
                ),
            )
        return render_error(400, _("The form had expired"), _("Go back, reload the page and try again."))

    @app.errorhandler(429)
    def too_many_requests(err: Exception) -> ResponseReturnValue:
        """The sign-in page's own limit (the spending guard answers its refusals itself)."""
        current = limiter.current_limit
        wait = max(1, int(current.reset_at - time.time())) if current else 60
        page = render_error(
            429, _("Too many requests"), _("Slow down a little and try again in %(wait)s.", wait=duration_text(wait))
        )[0]
        return page, 429, {"Retry-After": str(wait)}

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> ResponseReturnValue:
        titles = {404: _("Page not found"), 405: _("Not allowed here"), 413: _("That upload is too large")}
        ours = isinstance(err.description, Problem)  # a message of ours; Werkzeug's own are English
        details = {
            404: _("There is nothing at this address. Check the link, or start from the form."),
            405: _("This address does not take that kind of request."),
        }
        code = err.code or 500
        detail = (
            problem_text(err.description)
            if ours
            else details.get(code, _("The request could not be handled (HTTP %(status)s).", status=code))
        )
        if code == 413:
            detail = _(
                "Images may be at most %(limit)s MB. Go back, choose a smaller image (or give its address "
                "instead) and submit again: the rest of the form is still filled in.",
                limit=f"{settings.max_upload_mb:g}",
            )
        return render_error(code, titles.get(code, _("Something went wrong")), detail)

    @app.errorhandler(Exception)
    def unexpected_error(err: Exception) -> ResponseReturnValue:
        app.logger.exception("unexpected error on %s %s", request.method, request.path)
        return render_error(
            500,
            _("Something went wrong on our side"),
            _("The error was logged. Try again; if it keeps happening, tell the people who run this app."),
        )


@functools.lru_cache(maxsize=64)
def _asset_version(path, mtime):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()[:10]


def asset_url(filename: str) -> str:
    """The URL of a static file with its content hash, so a changed file is fetched anew."""
    path = os.path.join(current_app.static_folder or "static", filename)
    version = _asset_version(path, os.path.getmtime(path)) if os.path.exists(path) else "0"
    return url_for("static", filename=filename, v=version)


def render_error(status: int, title: str, detail: str) -> tuple:
    try:
        return render_template("layout/error.html", status=status, title=title, detail=detail), status
    except Exception:  # the error page itself failed: plain text rather than nothing
        logging.getLogger("app").exception("error page failed")
        return f"{title}\n\n{detail}\n", status, {"Content-Type": "text/plain; charset=utf-8"}
