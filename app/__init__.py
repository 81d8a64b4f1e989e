"""The video job studio: a Flask app that submits video jobs to an OpenAI-compatible API."""

import functools
import hashlib
import logging
import os
import sys
import time

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from app.allowance import Allowance, rules_from
from app.archive import VideoArchive
from app.auth import init_auth
from app.catalogue import ModelCatalogue
from app.config import Settings
from app.filters import duration_text, register_filters
from app.follower import Follower
from app.images import UploadStore
from app.jobs import JobStore
from app.lifecycle import ArchiveState, JobStatus
from app.ratelimit import init_limiter
from app.security import init_security
from app.upstream import VideoAPI

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
csrf = CSRFProtect()


def create_app(settings: Settings | None = None):
    """Build the app from settings (by default read from the environment)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__, template_folder=os.path.join(ROOT, "templates"),
                static_folder=os.path.join(ROOT, "static"))
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        # The image plus the form's text; a larger body gets the friendly 413 page.
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session: a form left open still submits
        PERMANENT_SESSION_LIFETIME=14 * 86400,
        # Static files are linked with a content hash (asset_url), so browsers may keep them for a year.
        SEND_FILE_MAX_AGE_DEFAULT=365 * 86400,
    )
    configure_logging(app, settings)
    init_security(app, settings)
    init_auth(app)   # before CSRF: a signed-out person is sent to sign in, not shown a CSRF error
    register_extensions(app, settings)
    register_filters(app)
    from app.views import bp
    app.register_blueprint(bp)
    app.context_processor(lambda: {"has_history": "studio.history" in app.view_functions,
                                   "asset_url": asset_url, "auth_mode": settings.auth_mode,
                                   "demo_mode": settings.demo_mode, "JobStatus": JobStatus,
                                   "ArchiveState": ArchiveState})
    register_errorhandlers(app)
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
    api = VideoAPI(settings.video_api_base_url, settings.video_api_key,
                   connect_timeout=settings.video_api_connect_timeout, read_timeout=settings.video_api_timeout,
                   send_aliases=settings.send_compat_aliases,
                   allowed_private_hosts=settings.allowed_private_hosts)
    app.extensions["video_api"] = api
    app.extensions["catalogue"] = ModelCatalogue(api, settings.models_cache_seconds)
    store = JobStore(os.path.join(settings.data_dir, "jobs.sqlite3"))
    archive = VideoArchive(os.path.join(settings.data_dir, "archive"),
                           max_bytes=int(settings.archive_max_mb * 1024 * 1024),
                           max_age_seconds=settings.archive_max_days * 86400,
                           max_file_bytes=int(settings.video_max_mb * 1024 * 1024),
                           fetch_seconds=settings.archive_fetch_seconds)
    uploads = UploadStore(os.path.join(settings.data_dir, "uploads"))
    app.extensions["allowance"] = Allowance(store.path, rules_from(settings.submit_rate_limit,
                                                                   settings.daily_submit_cap),
                                            settings.team_daily_cap)
    app.extensions["jobs"] = store
    app.extensions["archive"] = archive
    app.extensions["uploads"] = uploads
    follower = Follower(api, store, archive, uploads, min_interval=settings.status_cache_seconds,
                        stall_after=settings.stall_after_minutes * 60,
                        status_timeout=min(settings.video_api_timeout, 20.0),
                        connect_timeout=settings.video_api_connect_timeout,
                        send_window=settings.video_api_connect_timeout + settings.video_api_timeout + 120,
                        upload_max_age=settings.upload_keep_days * 86400)
    app.extensions["follower"] = follower
    # Each gunicorn worker follows jobs in a thread of its own; started here, and again on the first
    # request after a fork (gunicorn --preload), since threads do not survive one.
    follower.start()
    app.before_request(follower.ensure_running)


def register_errorhandlers(app):
    @app.errorhandler(CSRFError)
    def csrf_error(err):
        from app.views import form_again
        if request.endpoint == "studio.create_job":
            return form_again(400, (
                "The form had expired or came from another page, so nothing was sent. Your values are below: "
                "check them (choose the image again if you had picked one) and submit again."))
        return render_error(400, "The form had expired", "Go back, reload the page and try again.")

    @app.errorhandler(429)
    def too_many_requests(err):
        """The sign-in page's own limit (the spending guard answers its refusals itself)."""
        from app.ratelimit import limiter
        current = limiter.current_limit
        wait = max(1, int(current.reset_at - time.time())) if current else 60
        page, status = render_error(429, "Too many requests", f"Slow down a little and try again in {duration_text(wait)}.")
        return page, status, {"Retry-After": str(wait)}

    @app.errorhandler(HTTPException)
    def http_error(err):
        titles = {404: "Page not found", 405: "Not allowed here", 413: "That upload is too large"}
        detail = err.description
        if err.code == 413:
            limit = app.config["SETTINGS"].max_upload_mb
            detail = (f"Images may be at most {limit:g} MB. Go back, choose a smaller image (or give its address "
                      "instead) and submit again: the rest of the form is still filled in.")
        return render_error(err.code, titles.get(err.code, err.name), detail)

    @app.errorhandler(Exception)
    def unexpected_error(err):
        app.logger.exception("unexpected error on %s %s", request.method, request.path)
        return render_error(500, "Something went wrong on our side",
                            "The error was logged. Try again; if it keeps happening, tell the people who run this app.")


@functools.lru_cache(maxsize=64)
def _asset_version(path, mtime):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()[:10]


def asset_url(filename):
    """The URL of a static file with its content hash, so a changed file is fetched anew."""
    from flask import current_app, url_for
    path = os.path.join(current_app.static_folder, filename)
    version = _asset_version(path, os.path.getmtime(path)) if os.path.exists(path) else "0"
    return url_for("static", filename=filename, v=version)


def render_error(status, title, detail):
    try:
        return render_template("error.html", status=status, title=title, detail=detail), status
    except Exception:  # the error page itself failed: plain text rather than nothing
        logging.getLogger("app").exception("error page failed")
        return f"{title}\n\n{detail}\n", status, {"Content-Type": "text/plain; charset=utf-8"}
