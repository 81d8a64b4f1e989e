"""Flask-Limiter for the sign-in page (guessing the team password is slow). The spending guard on jobs
is app/jobs/spending_guard.py.

By default the counters live in SQLite under DATA_DIR (a `sqlite:///path` storage registered with the
`limits` library below); RATELIMIT_STORAGE_URI may point at Redis or Memcached instead.
"""

import os
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, g, request
from flask_limiter import Limiter
from limits.storage import Storage

from app.core.config import Settings
from app.storage.sqlite import connect


def identity_key() -> str:
    """Who is submitting: the signed-in person, else the client's address."""
    return f"user:{g.identity}" if getattr(g, "identity", None) else f"ip:{request.remote_addr}"


limiter = Limiter(key_func=identity_key, strategy="fixed-window", headers_enabled=True)


_LIMITED_VIEWS = set()  # the views with a limit of their own; there are no app-wide limits


def limit(*args: Any, **kwargs: Any) -> Callable[[Callable], Callable]:
    """limiter.limit for a view (use this, not limiter.limit: the filter below lets only these through)."""

    def decorate(view: Callable) -> Callable:
        wrapped = limiter.limit(*args, **kwargs)(view)
        _LIMITED_VIEWS.add(wrapped)
        return wrapped

    return decorate


def init_limiter(app: Flask, settings: Settings) -> None:
    app.config["RATELIMIT_STORAGE_URI"] = settings.ratelimit_uri
    app.config["RATELIMIT_HEADERS_ENABLED"] = True
    limiter.init_app(app)


@limiter.request_filter
def _not_limited() -> bool:
    """Every other request skips Flask-Limiter's lookup of the limits that might apply to it: it would find
    none, and the lookup was close to half of what the app adds to every page, video and status read."""
    return current_app.view_functions.get(request.endpoint or "") not in _LIMITED_VIEWS


class SQLiteStorage(Storage):
    """Fixed-window counters in a SQLite file: shared by processes on one host, atomic per increment."""

    STORAGE_SCHEME = ["sqlite"]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.path = uri[len("sqlite://") :]
        if self.path.startswith("//"):
            self.path = self.path[1:]
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, count INTEGER NOT NULL,"
                " expires REAL NOT NULL)"
            )

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def _db(self):
        return connect(self.path)

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT count, expires FROM counters WHERE key = ?", (key,)).fetchone()
            if row and row[1] > now:
                count = row[0] + amount
                db.execute("UPDATE counters SET count = ? WHERE key = ?", (count, key))
            else:
                count = amount
                db.execute(
                    "INSERT OR REPLACE INTO counters (key, count, expires) VALUES (?, ?, ?)", (key, count, now + expiry)
                )
            db.execute("DELETE FROM counters WHERE expires <= ?", (now - 86400,))
            db.execute("COMMIT")
        return count

    def get(self, key: str) -> int:
        with self._db() as db:
            row = db.execute("SELECT count FROM counters WHERE key = ? AND expires > ?", (key, time.time())).fetchone()
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        with self._db() as db:
            row = db.execute("SELECT expires FROM counters WHERE key = ?", (key,)).fetchone()
        return row[0] if row else time.time()

    def check(self) -> bool:
        try:
            with self._db() as db:
                db.execute("SELECT 1")
            return True
        except sqlite3.Error:
            return False

    def reset(self) -> int | None:
        with self._db() as db:
            return db.execute("DELETE FROM counters").rowcount

    def clear(self, key: str) -> None:
        with self._db() as db:
            db.execute("DELETE FROM counters WHERE key = ?", (key,))
