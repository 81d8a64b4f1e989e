"""Flask-Limiter for the sign-in page (guessing the team password is slow). The spending guard on jobs
is app/jobs/spending_guard.py.

By default the counters live in the app's database: SQLite under DATA_DIR (a `sqlite:///path` storage
registered with the `limits` library below), or DATABASE_URL's PostgreSQL, shared by every host;
RATELIMIT_STORAGE_URI may point at Redis or Memcached instead.
"""

import time
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, g, request
from flask_limiter import Limiter
from limits.storage import Storage

from app.core.config import Settings
from app.storage.database import DATABASE_ERRORS, SqliteDatabase, create_tables
from app.storage.postgres import PostgresDatabase


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


class DatabaseStorage(Storage):
    """Fixed-window counters in the app's database: a SQLite file under DATA_DIR (shared by one host's
    processes), or DATABASE_URL's PostgreSQL (shared by every host); one statement per increment."""

    STORAGE_SCHEME = ["sqlite", "postgresql+psycopg"]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        if uri.startswith("sqlite://"):
            path = uri[len("sqlite://") :]
            self.database = SqliteDatabase(path[1:] if path.startswith("//") else path)
        else:
            self.database = PostgresDatabase(uri, pool_size=2, max_overflow=8)
        with self.database.connect() as db:
            if db.dialect == "sqlite":
                db.execute("PRAGMA journal_mode=WAL")
            create_tables(
                db,
                "CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, count INTEGER NOT NULL,"
                " expires DOUBLE PRECISION NOT NULL)",
            )

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return DATABASE_ERRORS

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        with self.database.connect() as db:
            row = db.execute(
                "INSERT INTO counters (key, count, expires) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET"
                " count = CASE WHEN counters.expires > ? THEN counters.count + excluded.count ELSE excluded.count END,"
                " expires = CASE WHEN counters.expires > ? THEN counters.expires ELSE excluded.expires END"
                " RETURNING count",
                (key, amount, now + expiry, now, now),
            ).fetchone()
            count = int(row[0]) if row else amount
            if count == amount:  # a new window: a moment to drop the long-expired ones
                db.execute("DELETE FROM counters WHERE expires <= ?", (now - 86400,))
        return count

    def get(self, key: str) -> int:
        with self.database.connect() as db:
            row = db.execute("SELECT count FROM counters WHERE key = ? AND expires > ?", (key, time.time())).fetchone()
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        with self.database.connect() as db:
            row = db.execute("SELECT expires FROM counters WHERE key = ?", (key,)).fetchone()
        return row[0] if row else time.time()

    def check(self) -> bool:
        try:
            with self.database.connect() as db:
                db.execute("SELECT 1")
            return True
        except DATABASE_ERRORS:
            return False

    def reset(self) -> int | None:
        with self.database.connect() as db:
            return db.execute("DELETE FROM counters").rowcount

    def clear(self, key: str) -> None:
        with self.database.connect() as db:
            db.execute("DELETE FROM counters WHERE key = ?", (key,))
