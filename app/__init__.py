"""The video job studio: a Flask app that submits video jobs to an OpenAI-compatible API."""

import functools
import hashlib
import logging
import os
import secrets
import sys
import time

from flask import Flask, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from app import code_views, compare_views, example_views, form_page, remix_views, views
from app.auth import init_auth
from app.config import Settings
from app.filters import duration_text, register_filters
from app.forms import PROMPT_LIMIT
from app.i18n import init_i18n
from app.images import UploadRequest
from app.job_urls import init_job_urls
from app.lifecycle import ArchiveState, JobStatus
from app.presenters import ignored_fields
from app.problems import Problem, problem_text
from app.ratelimit import init_limiter, limiter
from app.security import init_security
from app.services import build_services

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
csrf = CSRFProtect()


def create_app(settings: Settings | None = None):
    """Build the app from settings (by default read from the environment)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__, template_folder=os.path.join(ROOT, "templates"),
                static_folder=os.path.join(ROOT, "static"))
    app.request_class = UploadRequest     # an uploaded image is written to disk once, where it is kept
    app.config.update(
        SECRET_KEY=settings.secret_key,
        # The image plus the form's text; a larger body gets the friendly 413 page.
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session: a form left open still submits
        PERMANENT_SESSION_LIFETIME=14 * 86400,
        # Static files are linked with a content hash (asset_url), so browsers may keep them for a year.
        SEND_FILE_MAX_AGE_DEFAULT=365 * 86400,
    )
    configure_logging(app, settings)
    app.extensions["studio"] = build_services(settings)
    init_job_urls(app)   # before the blueprints: their rules use <job:...>
    init_security(app, settings)
    init_auth(app)   # before CSRF: a signed-out person is sent to sign in, not shown a CSRF error
    init_i18n(app)
    register_extensions(app, settings)
    register_filters(app)
    app.add_template_global(form_page.folded_extras)
    app.add_template_global(ignored_fields)
    # A fresh one-time token for a form that sends a job (remix): sent twice, it makes one job.
    app.add_template_global(lambda: secrets.token_hex(16), "one_time_token")
    app.register_blueprint(views.bp)
    app.register_blueprint(code_views.bp)
    app.register_blueprint(remix_views.bp)
    app.register_blueprint(example_views.bp)
    app.register_blueprint(compare_views.bp)
    app.context_processor(lambda: {"asset_url": asset_url, "auth_mode": settings.auth_mode,
                                   "demo_mode": settings.demo_mode, "JobStatus": JobStatus,
                                   "ArchiveState": ArchiveState, "prompt_limit": PROMPT_LIMIT})
    register_errorhandlers(app, settings)
    start_following(app)
    app.logger.info("video job studio ready: %s", settings.describe())
    return app


def configure_logging(app, settings):
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(settings.log_level)
    app.logger.setLevel(settings.log_level)


def register_extensions(app, settings):
    csrf.init_app(app)
    init_limiter(app, settings)


def start_following(app):
    """With FOLLOWER=thread this process follows jobs in a thread of its own: started here, and again on the
    first request after a fork (gunicorn --preload), since threads do not survive one. Under gunicorn the
    default is FOLLOWER=process: one process of its own follows (app/follower_process.py), so the workers'
    threads serve pages without sharing a GIL with a thousand status reads."""
    studio = app.extensions["studio"]
    if studio.settings.follower != "thread":
        return
    studio.follower.start()
    app.before_request(studio.follower.ensure_running)


def register_errorhandlers(app, settings):
    @app.errorhandler(CSRFError)
    def csrf_error(err):
        if request.endpoint == "studio.create_job":
            return form_page.form_again(400, _(
                "The form had expired or came from another page, so nothing was sent. Your values are below: "
                "check them (choose the image again if you had picked one) and submit again."))
        return render_error(400, _("The form had expired"), _("Go back, reload the page and try again."))

    @app.errorhandler(429)
    def too_many_requests(err):
        """The sign-in page's own limit (the spending guard answers its refusals itself)."""
        current = limiter.current_limit
        wait = max(1, int(current.reset_at - time.time())) if current else 60
        page, status = render_error(429, _("Too many requests"),
                                    _("Slow down a little and try again in %(wait)s.", wait=duration_text(wait)))
        return page, status, {"Retry-After": str(wait)}

    @app.errorhandler(HTTPException)
    def http_error(err):
        titles = {404: _("Page not found"), 405: _("Not allowed here"), 413: _("That upload is too large")}
        ours = isinstance(err.description, Problem)      # a message of ours; Werkzeug's own are English
        details = {404: _("There is nothing at this address. Check the link, or start from the form."),
                   405: _("This address does not take that kind of request.")}
        detail = problem_text(err.description) if ours else details.get(
            err.code, _("The request could not be handled (HTTP %(status)s).", status=err.code))
        if err.code == 413:
            detail = _("Images may be at most %(limit)s MB. Go back, choose a smaller image (or give its address "
                       "instead) and submit again: the rest of the form is still filled in.",
                       limit=f"{settings.max_upload_mb:g}")
        return render_error(err.code, titles.get(err.code, _("Something went wrong")), detail)

    @app.errorhandler(Exception)
    def unexpected_error(err):
        app.logger.exception("unexpected error on %s %s", request.method, request.path)
        return render_error(500, _("Something went wrong on our side"),
                            _("The error was logged. Try again; if it keeps happening, tell the people who run this "
                              "app."))


@functools.lru_cache(maxsize=64)
def _asset_version(path, mtime):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()[:10]


def asset_url(filename):
    """The URL of a static file with its content hash, so a changed file is fetched anew."""
    path = os.path.join(current_app.static_folder, filename)
    version = _asset_version(path, os.path.getmtime(path)) if os.path.exists(path) else "0"
    return url_for("static", filename=filename, v=version)


def render_error(status, title, detail):
    try:
        return render_template("error.html", status=status, title=title, detail=detail), status
    except Exception:  # the error page itself failed: plain text rather than nothing
        logging.getLogger("app").exception("error page failed")
        return f"{title}\n\n{detail}\n", status, {"Content-Type": "text/plain; charset=utf-8"}
