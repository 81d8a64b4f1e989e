"""Sign-in sessions known to the server, so that signing out really ends one and a new team password
ends them all. The cookie carries only an id and a tag of the password it was made with."""

import hashlib
import hmac
import secrets
import time

from app.storage.database import SqliteDatabase, create_tables

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id         TEXT PRIMARY KEY,
    identity   TEXT NOT NULL,
    started_at DOUBLE PRECISION NOT NULL
);
"""
LIFETIME = 14 * 86400


class SessionRegistry:
    """The open sign-in sessions, in the job store's database (shared by every worker, and with
    DATABASE_URL by every host)."""

    def __init__(self, database, secret_key, password) -> None:
        """database: a SQLite file's path, or an open database (app/storage/database.py)."""
        self.database = SqliteDatabase(database) if isinstance(database, str) else database
        # Changes with the password (and the secret key): every session made before no longer matches.
        self.tag = hmac.new(secret_key.encode(), password.encode(), hashlib.sha256).hexdigest()[:32]
        with self._connect() as db:
            create_tables(db, SCHEMA)

    def _connect(self):
        return self.database.connect()

    def start(self, identity: str) -> tuple[str, str]:
        """A new session; returns (id, tag) for the cookie."""
        sid, now = secrets.token_urlsafe(24), time.time()
        with self._connect() as db:
            db.execute("DELETE FROM sessions WHERE started_at < ?", (now - LIFETIME,))
            db.execute("INSERT INTO sessions (id, identity, started_at) VALUES (?, ?, ?)", (sid, identity, now))
        return sid, self.tag

    def identity(self, sid: str | None, tag: str | None) -> str | None:
        """The signed-in name for a cookie's id and tag, or None when the session has ended."""
        if not sid or not tag or not hmac.compare_digest(str(tag), self.tag):
            return None
        with self._connect() as db:
            row = db.execute(
                "SELECT identity FROM sessions WHERE id = ? AND started_at > ?", (str(sid), time.time() - LIFETIME)
            ).fetchone()
        return row[0] if row else None

    def end(self, sid: str | None) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM sessions WHERE id = ?", (str(sid or ""),))
