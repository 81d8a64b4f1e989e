"""One way to open the app's SQLite files: autocommit, waiting for a busy lock rather than failing.

Opening a connection (and setting it up) costs more than most of the app's queries, and a submission or
a status check makes several, so each process keeps a few idle connections per file and lends them out:
one thread at a time uses a connection, never two. At most MAX_IDLE wait per file (and set-up), so a burst of many
threads does not leave hundreds of open files behind. A connection inherited through a fork is never
used; an unfinished transaction is rolled back when the block ends (as closing did); a connection that
saw an error is closed; one whose file was replaced or removed is opened again."""

import contextvars
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

MAX_IDLE = 8
BUSY_SECONDS = 10.0
SQLITE_BUSY = 5  # another connection holds the lock (not SQLITE_BUSY_SNAPSHOT: that one is not retried)
# Pauses between tries while another writer holds the lock: SQLite's own busy handler's, in seconds.
BUSY_PAUSES = (0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.025, 0.025, 0.025, 0.05, 0.05, 0.1)
_spent: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar(
    "sqlite_seconds", default=None
)  # [in, locked] seconds while a request counts


def count_time() -> None:
    """Start adding up, for this request's thread, the time spent in the database and waiting for its lock."""
    _spent.set([0.0, 0.0])


def time_spent() -> float:
    """Seconds spent in (or waiting for) the database since count_time() in this thread (0 if not called).
    On a busy worker most of it is waiting for the GIL between statements."""
    spent = _spent.get()
    return spent[0] if spent else 0.0


def counter() -> list[float] | None:
    """This request's [in the database, waiting for a lock] seconds, or None when nothing counts (the
    PostgreSQL connections add to it too)."""
    return _spent.get()


def time_locked() -> float:
    """Seconds of time_spent() spent waiting for another connection's lock."""
    spent = _spent.get()
    return spent[1] if spent else 0.0


class _Connection(sqlite3.Connection):
    """Waits for another writer's lock in Python, not in SQLite's busy handler (the connection is opened with
    timeout=0), with the same pauses, so that the wait is counted apart from everything else: a statement
    refused with SQLITE_BUSY has not run, and is tried again until busy_seconds have passed."""

    busy_seconds = BUSY_SECONDS
    dialect = "sqlite"
    for_update = ""  # SQLite locks the whole file: BEGIN IMMEDIATE has taken the write lock already
    skip_locked = ""
    like = "LIKE"  # case-insensitive for ASCII, as PostgreSQL's ILIKE
    greatest = "MAX"

    def lock(self, name: str) -> None:
        """Serialise with other writers until the transaction ends: BEGIN IMMEDIATE already does on SQLite."""

    def notify(self, channel: str) -> None:
        """One host: its follower finds new work on its next round (a quarter of a second)."""

    def execute(self, sql: str, parameters: Any = ()) -> sqlite3.Cursor:
        return self._patiently(super().execute, sql, parameters)

    def executescript(self, script: str) -> sqlite3.Cursor:
        return self._patiently(super().executescript, script)

    def _patiently(self, call, *args):
        began, tries = None, 0
        while True:
            try:
                return call(*args)
            except sqlite3.OperationalError as exc:
                if getattr(exc, "sqlite_errorcode", None) != SQLITE_BUSY:
                    raise
                now = time.monotonic()
                began = now if began is None else began
                if now - began >= self.busy_seconds:
                    raise
            pause = BUSY_PAUSES[min(tries, len(BUSY_PAUSES) - 1)]
            tries += 1
            time.sleep(pause)
            spent = _spent.get()
            if spent is not None:
                spent[1] += pause


_lock = threading.Lock()
_idle = {}  # (path, set-up) -> [(connection, (st_dev, st_ino) of the file it was opened on)]
_pid = os.getpid()


@contextmanager
def connect(
    path: str, row_factory: Any = None, busy_seconds: float = BUSY_SECONDS, synchronous: str = "NORMAL"
) -> Iterator[sqlite3.Connection]:
    """A connection to path for the length of a with block, waiting up to busy_seconds for a lock.

    WAL with synchronous=NORMAL: a commit survives the app crashing (not the machine losing power) and does
    not wait for fsync, so writers hold the lock for microseconds. The one write that must survive even that
    (a created job's upstream id) asks for synchronous="FULL"."""
    started, spent = time.monotonic(), _spent.get()
    try:
        with _connect(path, row_factory, (busy_seconds, synchronous)) as db:
            yield db
    finally:
        if spent is not None:
            spent[0] += time.monotonic() - started


@contextmanager
def _connect(path, row_factory, setup):
    # Idle connections are kept by file and set-up, so a borrowed one needs no PRAGMA: each statement costs
    # a turn at the GIL, which on a busy worker with many threads is most of a query's time.
    key = (path, setup)
    db, inode = _borrow(key)
    current = _inode(path)
    if db is not None and (inode != current or current is None):
        _close(db)  # the file was replaced or removed since
        db = None
    if db is None:
        busy_seconds, synchronous = setup
        # A statement waits up to busy_seconds for another writer's lock (in _Connection, counting the wait).
        db = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False, factory=_Connection)
        db.busy_seconds = busy_seconds
        db.execute(f"PRAGMA synchronous={synchronous}")
        current = _inode(path)
    db.row_factory = row_factory
    try:
        yield db
    except BaseException:
        _close(db)
        raise
    if db.in_transaction:
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error:
            _close(db)
            return
    _give_back(key, db, current)


def _borrow(key):
    global _pid
    with _lock:
        if _pid != os.getpid():  # a forked child: its parent's connections are not its own
            _idle.clear()
            _pid = os.getpid()
        waiting = _idle.get(key)
        return waiting.pop() if waiting else (None, None)


def _give_back(key, db, inode) -> None:
    with _lock:
        waiting = _idle.setdefault(key, [])
        if len(waiting) < MAX_IDLE and _pid == os.getpid():
            waiting.append((db, inode))
            return
    _close(db)


def _inode(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _close(db) -> None:
    with suppress(sqlite3.Error):
        db.close()
