"""The job store: every job submitted through the app, in SQLite under DATA_DIR (WAL, short transactions)."""

import json
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass

from app.video_api import Job

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id            TEXT PRIMARY KEY,
    submitted_at  REAL NOT NULL,
    submitted_by  TEXT,
    prompt        TEXT NOT NULL DEFAULT '',
    model         TEXT,
    size          TEXT,
    seconds       TEXT,
    status        TEXT NOT NULL,
    params        TEXT NOT NULL DEFAULT '{}',
    job           TEXT NOT NULL DEFAULT '{}',
    checked_at    REAL NOT NULL DEFAULT 0,
    archive       TEXT NOT NULL DEFAULT 'none',
    archive_bytes INTEGER NOT NULL DEFAULT 0,
    archived_at   REAL
);
CREATE INDEX IF NOT EXISTS jobs_by_time ON jobs (submitted_at DESC);
"""


@dataclass
class JobRecord:
    """A row of history: the latest job we saw, and what the person typed to make it."""

    job: Job
    submitted_at: float
    submitted_by: str | None
    params: dict
    checked_at: float
    archive: str
    archive_bytes: int

    @property
    def id(self):
        return self.job.id


class JobStore:
    """SQLite-backed history, safe to share between gunicorn workers."""

    def __init__(self, path):
        self.path = path
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._initialise()

    def _initialise(self, attempts=50):
        # Several gunicorn workers start at once; switching to WAL can report "locked" without waiting.
        for attempt in range(attempts):
            try:
                with self._connect() as db:
                    if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                        db.execute("PRAGMA journal_mode=WAL")
                    db.executescript(SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == attempts - 1:
                    raise
                time.sleep(0.1)

    @contextmanager
    def _connect(self):
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute("PRAGMA busy_timeout=10000")
            yield db
        finally:
            db.close()

    def add(self, job: Job, params: dict, submitted_by=None):
        """Record a job the app has just created."""
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO jobs (id, submitted_at, submitted_by, prompt, model, size, seconds,"
                " status, params, job, checked_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (job.id, time.time(), submitted_by, params.get("prompt", ""), job.model or params.get("model"),
                 job.size or _size(params), job.seconds or _text(params.get("duration")), job.status,
                 json.dumps(params, ensure_ascii=False), json.dumps(job.to_dict(), ensure_ascii=False),
                 time.time()))

    def get(self, job_id):
        with self._connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _record(row) if row else None

    def update_job(self, job: Job):
        """Store the latest state read from the upstream."""
        with self._connect() as db:
            db.execute("UPDATE jobs SET status = ?, job = ?, checked_at = ?,"
                       " model = COALESCE(?, model), size = COALESCE(?, size), seconds = COALESCE(?, seconds)"
                       " WHERE id = ?",
                       (job.status, json.dumps(job.to_dict(), ensure_ascii=False), time.time(),
                        job.model, job.size, job.seconds, job.id))


def _record(row):
    return JobRecord(job=Job.from_dict(json.loads(row["job"])), submitted_at=row["submitted_at"],
                     submitted_by=row["submitted_by"], params=json.loads(row["params"]),
                     checked_at=row["checked_at"], archive=row["archive"], archive_bytes=row["archive_bytes"])


def _size(params):
    if params.get("width") and params.get("height"):
        return f"{params['width']}x{params['height']}"
    return None


def _text(value):
    if value is None:
        return None
    return f"{value:g}" if isinstance(value, float) else str(value)
