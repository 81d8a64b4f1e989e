"""Share links: a finished job's video for people without a password, at /s/<token>.

The token is 32 random URL-safe characters, shown once to the person who made the link; the database
keeps only its SHA-256, so a copy of the database opens nothing. A link expires (a day, a week or a
month) and can be revoked; a revoked or expired link opens nothing, and deleting the job deletes its links."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from app.jobs.database import JobsDatabase

LIFETIMES = {"day": 86400, "week": 7 * 86400, "month": 30 * 86400}
TOKEN_CHARS = 32


@dataclass(frozen=True)
class ShareLink:
    id: str
    job_id: str
    created_by: str | None
    created_at: float
    expires_at: float
    revoked_at: float | None
    allow_download: bool


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def looks_like_token(token: str) -> bool:
    return len(token) == TOKEN_CHARS and all(c.isascii() and (c.isalnum() or c in "-_") for c in token)


class ShareLinks:
    """The share links of every job, in the job store's database."""

    def __init__(self, db: JobsDatabase) -> None:
        self.db = db

    def create(self, job_id: str, lifetime: str, created_by: str | None, allow_download: bool) -> tuple[str, ShareLink]:
        """A new link for job_id: (the token, to be shown once; the link)."""
        token = secrets.token_urlsafe(24)  # 24 bytes: 32 characters
        now = self.db.clock()
        link = ShareLink(
            id=secrets.token_hex(8),
            job_id=job_id,
            created_by=created_by,
            created_at=now,
            expires_at=now + LIFETIMES[lifetime],
            revoked_at=None,
            allow_download=allow_download,
        )
        self.db.execute(
            "INSERT INTO shares (id, token_hash, job_id, created_by, created_at, expires_at, allow_download)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (link.id, token_hash(token), job_id, created_by, now, link.expires_at, int(allow_download)),
        )
        return token, link

    def open(self, token: str) -> ShareLink | None:
        """The link this token opens now: never a revoked or expired one."""
        if not looks_like_token(token):
            return None
        wanted = token_hash(token)
        with self.db.connect() as db:
            row = db.execute(f"SELECT {_COLUMNS}, token_hash FROM shares WHERE token_hash = ?", (wanted,)).fetchone()
        if row is None or not hmac.compare_digest(str(row[7]), wanted):
            return None
        link = _link(row)
        if link.revoked_at is not None or link.expires_at <= self.db.clock():
            return None
        return link

    def for_job(self, job_id: str) -> list[ShareLink]:
        """The job's links that still open, newest first."""
        with self.db.connect() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM shares WHERE job_id = ? AND revoked_at IS NULL AND expires_at > ?"
                " ORDER BY created_at DESC",
                (job_id, self.db.clock()),
            ).fetchall()
        return [_link(r) for r in rows]

    def revoke(self, job_id: str, link_id: str) -> bool:
        return (
            self.db.execute(
                "UPDATE shares SET revoked_at = ? WHERE id = ? AND job_id = ? AND revoked_at IS NULL",
                (self.db.clock(), link_id, job_id),
            )
            == 1
        )

    def forget_job(self, job_id: str) -> None:
        self.db.execute("DELETE FROM shares WHERE job_id = ?", (job_id,))


_COLUMNS = "id, job_id, created_by, created_at, expires_at, revoked_at, allow_download"


def _link(row: Any) -> ShareLink:
    return ShareLink(
        id=row[0],
        job_id=row[1],
        created_by=row[2],
        created_at=row[3],
        expires_at=row[4],
        revoked_at=row[5],
        allow_download=bool(row[6]),
    )
