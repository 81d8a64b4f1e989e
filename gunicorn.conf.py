"""gunicorn settings: threaded workers, so a slow video API does not stall other people's pages."""

import os
import sys

from dotenv import dotenv_values


def _metrics_folder():
    """Every process counts into files here for /metrics (app/core/metrics.py); emptied at each start, as
    prometheus_client's multiprocess mode asks. Set before anything imports the app (and with it
    prometheus_client, which reads the variable on import); DATA_DIR as the settings read it."""
    env = dotenv_values(".env") if os.path.exists(".env") else {}
    data_dir = os.environ.get("DATA_DIR") or env.get("DATA_DIR") or "data"
    folder = os.path.abspath(os.path.join(data_dir, "metrics"))
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".db"):
            os.remove(os.path.join(folder, name))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder


_metrics_folder()

from app.catalog.examples import load_examples  # noqa: E402
from app.catalog.profiles import load_profiles  # noqa: E402
from app.core.config import ConfigError, Settings  # noqa: E402
from app.jobs.follower_process import FollowerKeeper  # noqa: E402


def _whole(name, default):
    text = os.environ.get(name, "").strip() or str(default)
    if not text.isdigit() or int(text) < 1:
        sys.exit(f"configuration error: {name} must be a whole number of at least 1, not {text!r}")
    return int(text)


# Under gunicorn one process of its own follows the jobs (started in when_ready below), not a thread in
# each worker: status reads for a thousand running jobs then do not slow the pages. FOLLOWER=thread puts
# it back in every worker; FOLLOWER=off leaves following to another host (see README).
os.environ.setdefault("FOLLOWER", "process")
_keeper = None

try:
    # Checked here too, as are the data files, so a bad value stops start-up with one line (rather than
    # every worker failing to boot).
    _settings = Settings.from_env()
    load_profiles(_settings.model_profiles_file or None)
    load_examples(_settings.examples_file or None)
except ConfigError as exc:
    sys.exit(f"configuration error: {exc}")


bind = os.environ.get("BIND") or f"127.0.0.1:{_whole('PORT', 8000)}"
workers = _whole("WEB_WORKERS", 2)
worker_class = "gthread"
# A submission holds its thread for the whole call to the video API, doing nothing, so threads are cheap
# and their number limits how many people can submit at once; the kernel splits a crowd unevenly between
# workers, so each has room for the whole crowd (the figures: bench/REPORT.md, "64 people submit at once").
# Idle threads cost no CPU, and database connections are pooled per process (app/storage/sqlite.py).
threads = _whole("WEB_THREADS", 64)
# A request may wait for the upstream's connect and read timeouts; leave room on top.
timeout = int(_settings.video_api_connect_timeout + _settings.video_api_timeout + 30)
graceful_timeout = 30
# Leave preload_app off: each worker builds the app itself (with FOLLOWER=thread, starting its own follower
# thread, and a thread started before a fork would live in the master, not the workers).
preload_app = False
keepalive = 5
accesslog = None  # the app logs one line per request itself (method, path, status, duration, job id)
errorlog = "-"


def when_ready(server):
    """Start the follower process; say so when the app is open to everyone who can reach it."""
    global _keeper
    if _settings.follower == "process" and _keeper is None:
        _keeper = FollowerKeeper(server.log)
        _keeper.start()
    _warn_if_open(server.log)


def on_reload(server):
    if _keeper is not None:
        _keeper.restart()


def on_exit(server):
    if _keeper is not None:
        _keeper.stop()


def _warn_if_open(log):
    host = bind.rsplit(":", 1)[0].strip("[]")
    if host in ("127.0.0.1", "localhost", "::1"):
        return
    if _settings.auth_mode == "open":
        log.warning(
            "No access control: anyone who can reach %s can spend the video API key. "
            "Set APP_PASSWORD, or AUTH_HEADER behind a sign-in proxy (see README).",
            bind,
        )
    elif _settings.auth_mode == "header":
        log.warning(
            "AUTH_HEADER trusts the %s header, which any client that reaches %s directly can send "
            "itself. Bind to 127.0.0.1 behind the sign-in proxy (see README).",
            _settings.auth_header,
            bind,
        )


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
