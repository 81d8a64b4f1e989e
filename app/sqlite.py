"""One way to open the app's SQLite files: autocommit, waiting for a busy lock rather than failing."""

import sqlite3
from contextlib import contextmanager


@contextmanager
def connect(path, row_factory=None):
    """A short-lived connection (one per operation: safe across threads and gunicorn workers)."""
    db = sqlite3.connect(path, timeout=10, isolation_level=None)
    if row_factory is not None:
        db.row_factory = row_factory
    try:
        db.execute("PRAGMA busy_timeout=10000")
        yield db
    finally:
        db.close()
