"""The video job studio: a Flask app that submits video jobs to an OpenAI-compatible API.

create_app() builds it: settings (app/core/config.py), the services (app/services.py), the web layer
(app/web/__init__.py) and the follower (app/jobs/follower.py). docs/architecture.md has the map."""

import logging
import os
import sys

from flask import Flask

from app.core.config import Settings
from app.core.paths import ROOT
from app.services import build_services
from app.web import init_web


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app from settings (by default read from the environment)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__, template_folder=os.path.join(ROOT, "templates"), static_folder=os.path.join(ROOT, "static"))
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
    init_web(app, settings)
    start_following(app)
    app.logger.info("video job studio ready: %s", settings.describe())
    return app


def configure_logging(app: Flask, settings: Settings) -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(settings.log_level)
    app.logger.setLevel(settings.log_level)


def start_following(app: Flask) -> None:
    """With FOLLOWER=thread this process follows jobs in a thread of its own: started here, and again on the
    first request after a fork (gunicorn --preload), since threads do not survive one. Under gunicorn the
    default is FOLLOWER=process: one process of its own follows (app/jobs/follower_process.py), so the workers'
    threads serve pages without sharing a GIL with a thousand status reads."""
    studio = app.extensions["studio"]
    if studio.settings.follower != "thread":
        return
    studio.follower.start()
    app.before_request(studio.follower.ensure_running)
