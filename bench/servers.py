"""What every benchmark starts the app with: its default gunicorn configuration."""

import logging
import os
import tempfile

from tests.support.servers import AppProcess


def default_app(prefix, env, **kwargs):
    """A WSGI app (the studio unless app_module says otherwise) under gunicorn.conf.py with its defaults:
    WEB_WORKERS and WEB_THREADS from the environment are dropped, since the defaults are what is measured."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    for name in ("WEB_WORKERS", "WEB_THREADS"):
        os.environ.pop(name, None)
    if kwargs.get("app_module", "wsgi:app") != "wsgi:app":
        env = {"FOLLOWER": "off", **env}  # a counterpart (proxy, hello-world) has no jobs to follow
    return AppProcess(tempfile.mkdtemp(prefix=prefix), env, **kwargs).start()
