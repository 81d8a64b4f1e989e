"""One way to open the app's SQLite files: autocommit, waiting for a busy lock rather than failing.

Opening a connection (and setting it up) costs more than most of the app's queries, and a submission or
a status check makes several, so each thread keeps one open connection per file and reuses it. Safe
across threads (a connection never leaves its thread) and gunicorn workers (SQLite's own locking; a
connection inherited through a fork is not used). A nested use gets a connection of its own, an
unfinished transaction is rolled back when the block ends (as closing did), a connection that saw an
error is closed, and one whose file was replaced or removed is opened again."""

import os
import sqlite3
import threading
from contextlib import contextmanager, suppress

_local = threading.local()


@contextmanager
def connect(path, row_factory=None):
    """A connection to path for the length of a with block."""
    pool = _pool()
    db, inode = pool.pop(path, (None, None))
    current = _inode(path)
    if db is not None and (inode != current or current is None):
        _close(db)                                   # the file was replaced or removed since
        db = None
    if db is None:
        db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=True)
        db.execute("PRAGMA busy_timeout=10000")
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
    if path in pool:                                 # a nested use finished after an outer one: keep one
        _close(db)
    else:
        pool[path] = (db, current)


def _pool():
    if getattr(_local, "pid", None) != os.getpid():
        _local.pool, _local.pid = {}, os.getpid()
    return _local.pool


def _inode(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _close(db):
    with suppress(sqlite3.Error):
        db.close()
