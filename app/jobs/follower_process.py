"""The follower as a process of its own: `python -m app.jobs.follower_process`.

Under gunicorn (FOLLOWER=process, the default there) gunicorn.conf.py starts one beside the workers, restarts
it if it dies and stops it with the server, so the workers' threads serve pages without sharing their GIL
with the status reads of every running job. It reads the same settings as the app (the environment and
.env). Claims live in the database, so followers on several hosts share the work without reading a job twice.
It stops on SIGTERM or SIGINT, and when the process that started it (the gunicorn master) is gone.
"""

import ctypes
import logging
import os
import signal
import sys
import threading
import time
from contextlib import suppress

from app.core.config import ConfigError, Settings
from app.services import build_services

log = logging.getLogger("app.jobs.follower")
PR_SET_PDEATHSIG = 1


def main() -> None:
    logging.basicConfig(stream=sys.stdout, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        sys.exit(f"configuration error: {exc}")
    logging.getLogger().setLevel(settings.log_level)
    follower = build_services(settings).follower
    asked = []

    def stop(signum: int, frame: object) -> None:
        # Only a note: a signal handler runs between two steps of the main thread, which may hold a lock
        # (an Event's) at that moment, so taking one here could wait for ever.
        asked.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    parent = _parent_to_outlive()
    follower.start()
    log.info("follower process %s following jobs in %s", os.getpid(), settings.data_dir)
    while not asked:
        if parent is not None and os.getppid() != parent:
            log.warning("the server that started this follower is gone; stopping")
            break
        time.sleep(0.5)
    follower.stop()
    log.info("follower process %s stopped", os.getpid())


def _parent_to_outlive() -> int | None:
    """The pid of the gunicorn master that started this process (FOLLOWER_PARENT), if it did. On Linux the
    kernel also sends SIGTERM here when that process dies, even by kill -9; elsewhere main() notices
    within half a second that its parent has changed."""
    text = os.environ.get("FOLLOWER_PARENT", "")
    if not text.isdigit():
        return None
    with suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    return int(text)


class FollowerKeeper:
    """Used by gunicorn.conf.py in the master: starts the follower process, starts it again if it dies
    (waiting 1 s, then up to 30 s if it keeps dying) and stops it with the server. Its own thread starts the
    process, so the kernel's parent-death signal fires when the master goes, not when a hook returns.

    The process is started with posix_spawn, not subprocess.Popen: Popen waits on a pipe until the child
    has started, and a gunicorn worker forked from the master at that moment (workers fork and never exec)
    keeps the pipe open, so the keeper waited for as long as that worker lived and never saw the follower
    die (seen under load in tests/test_follower_process.py)."""

    def __init__(self, logger) -> None:
        self.log = logger
        self._stopping = threading.Event()
        self._pid: int | None = None
        self._thread = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._keep, daemon=True, name="follower-keeper")
        self._thread.start()

    def _keep(self) -> None:
        pause = 1.0
        while not self._stopping.is_set():
            began = time.monotonic()
            try:
                self._run_one()
            except Exception:  # the keeper must outlive anything that goes wrong with one process
                self.log.exception("the follower process could not be run")
            if self._stopping.is_set():
                return
            pause = 1.0 if time.monotonic() - began > 60 else min(30.0, pause * 2)
            self._stopping.wait(pause)

    def _run_one(self) -> None:
        """Start a follower process and return when it has gone (or the keeper is stopping)."""
        env = {**os.environ, "FOLLOWER_PARENT": str(os.getpid())}
        pid = self._pid = os.posix_spawn(sys.executable, [sys.executable, "-m", "app.jobs.follower_process"], env)
        # Polled, not waited for: gunicorn's master collects any child that exits (waitpid(-1)), so the exit
        # is read from waitpid here or, when the master was first, from /proc.
        while _alive_child(pid) and not self._stopping.wait(0.5):
            pass
        if not self._stopping.is_set():
            self.log.warning("the follower process (pid %s) has stopped; starting it again", pid)

    def restart(self) -> None:
        """Stop the running follower process; the keeper starts a new one (gunicorn reload: new settings)."""
        if self._pid is not None and _alive_child(self._pid):
            _signal(self._pid, signal.SIGTERM)

    def stop(self, timeout: float = 15.0) -> None:
        self._stopping.set()
        pid = self._pid
        if pid is not None and _alive_child(pid):
            _signal(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _alive_child(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive_child(pid):
                _signal(pid, signal.SIGKILL)
                while _alive_child(pid) and time.monotonic() < deadline + 5:
                    time.sleep(0.1)
        if self._thread is not None:
            self._thread.join(timeout=5)


def _alive_child(pid: int) -> bool:
    """True while the child runs; collects its exit status when it has ended."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False  # collected already (by gunicorn's master)
    return done == 0 and _running(pid)


def _signal(pid: int, sig: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, sig)


def _running(pid):
    """False once the process has exited (gone, or a zombie waiting to be collected)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except (OSError, IndexError):
        return True  # no /proc here (not Linux): poll() alone decides


if __name__ == "__main__":
    main()
