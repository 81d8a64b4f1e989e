"""The job store: every job submitted through the app, in SQLite under DATA_DIR.

Several gunicorn workers share it: WAL mode, short transactions, and small "claims" (conditional
UPDATEs) so that only one worker at a time reads a job's status upstream or fetches its video.
"""

import json
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from app.video_api import Job

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id              TEXT PRIMARY KEY,
    submitted_at    REAL NOT NULL,
    submitted_by    TEXT,
    prompt          TEXT NOT NULL DEFAULT '',
    model           TEXT,
    size            TEXT,
    seconds         TEXT,
    status          TEXT NOT NULL,
    params          TEXT NOT NULL DEFAULT '{}',
    job             TEXT NOT NULL DEFAULT '{}',
    checked_at      REAL NOT NULL DEFAULT 0,
    check_error     TEXT,
    archive         TEXT NOT NULL DEFAULT 'none',   -- none | fetching | archived | failed | expired
    archive_started REAL NOT NULL DEFAULT 0,
    archive_error   TEXT,
    archive_bytes   INTEGER NOT NULL DEFAULT 0,
    archived_at     REAL,
    files           TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS jobs_by_time ON jobs (submitted_at DESC);
CREATE TABLE IF NOT EXISTS submissions (
    token      TEXT PRIMARY KEY,
    job_id     TEXT,
    claimed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_archive ON jobs (archive, archived_at);
"""

STATUS_FILTERS = ("queued", "in_progress", "completed", "failed", "unknown")


@dataclass
class JobRecord:
    """A row of history: the latest job we saw, what the person typed, and the archived files."""

    job: Job
    submitted_at: float
    submitted_by: str | None
    params: dict
    checked_at: float
    check_error: str | None
    archive: str
    archive_error: str | None
    archive_bytes: int
    archived_at: float | None
    files: list = field(default_factory=list)   # [{"index", "video", "poster"}] relative to the archive

    @property
    def id(self):
        return self.job.id

    @property
    def is_settled(self):
        """Nothing more will change by itself: failed, or completed with the archive done (or given up)."""
        return self.job.status == "failed" or (
            self.job.is_finished and self.archive in ("archived", "expired", "failed"))

    @property
    def has_video(self):
        return self.archive == "archived" and any(f.get("video") for f in self.files)

    @property
    def poster(self):
        return next((f for f in self.files if f.get("poster")), None)


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

    def _execute(self, sql, args=()):
        with self._connect() as db:
            return db.execute(sql, args).rowcount

    # --- jobs ----------------------------------------------------------------------------------

    def add(self, job: Job, params: dict, submitted_by=None):
        """Record a job the app has just created."""
        self._execute(
            "INSERT OR REPLACE INTO jobs (id, submitted_at, submitted_by, prompt, model, size, seconds,"
            " status, params, job, checked_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (job.id, time.time(), submitted_by, params.get("prompt", ""), job.model or params.get("model"),
             job.size or _size(params), job.seconds or _text(params.get("duration")), job.status,
             json.dumps(params, ensure_ascii=False), json.dumps(job.to_dict(), ensure_ascii=False), time.time()))

    def get(self, job_id):
        with self._connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _record(row) if row else None

    def claim_status_read(self, job_id, min_interval):
        """True for the one caller that should read the status upstream now; others reuse the stored one."""
        now = time.time()
        return self._execute("UPDATE jobs SET checked_at = ? WHERE id = ? AND checked_at <= ?",
                             (now, job_id, now - min_interval)) == 1

    def update_job(self, job: Job, check_error=None):
        """Store the latest state read from the upstream (or why it could not be read)."""
        if check_error is not None:
            self._execute("UPDATE jobs SET check_error = ? WHERE id = ?", (check_error, job.id))
            return
        self._execute(
            "UPDATE jobs SET status = ?, job = ?, checked_at = ?, check_error = NULL,"
            " model = COALESCE(?, model), size = COALESCE(?, size), seconds = COALESCE(?, seconds) WHERE id = ?",
            (job.status, json.dumps(job.to_dict(), ensure_ascii=False), time.time(),
             job.model, job.size, job.seconds, job.id))

    def delete(self, job_id):
        return self._execute("DELETE FROM jobs WHERE id = ?", (job_id,)) == 1

    def search(self, query="", status="", page=1, per_page=20):
        """A page of history, newest first; returns (records, total)."""
        where, args = [], []
        if query:
            where.append("prompt LIKE ? ESCAPE '\\'")
            args.append("%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        if status in STATUS_FILTERS:
            where.append("status = ?")
            args.append(status)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._connect() as db:
            total = db.execute(f"SELECT COUNT(*) FROM jobs {clause}", args).fetchone()[0]
            rows = db.execute(f"SELECT * FROM jobs {clause} ORDER BY submitted_at DESC LIMIT ? OFFSET ?",
                              [*args, per_page, (max(1, page) - 1) * per_page]).fetchall()
        return [_record(r) for r in rows], total

    # --- one job per filled form ---------------------------------------------------------------

    def claim_submission(self, token):
        """None for the first request with this form token; else the job id it made (or '' while in flight)."""
        with self._connect() as db:
            db.execute("DELETE FROM submissions WHERE claimed_at < ?", (time.time() - 7 * 86400,))
            try:
                db.execute("INSERT INTO submissions (token, claimed_at) VALUES (?, ?)", (token, time.time()))
                return None
            except sqlite3.IntegrityError:
                row = db.execute("SELECT job_id FROM submissions WHERE token = ?", (token,)).fetchone()
                return (row[0] or "") if row else None

    def finish_submission(self, token, job_id):
        self._execute("UPDATE submissions SET job_id = ? WHERE token = ?", (job_id, token))

    def release_submission(self, token):
        """The form made no job (an error): it may be sent again."""
        self._execute("DELETE FROM submissions WHERE token = ? AND job_id IS NULL", (token,))

    def check_writable(self):
        """Raise sqlite3.Error unless a write transaction can be taken."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")

    # --- the archive of finished videos --------------------------------------------------------

    def claim_archive(self, job_id, lease_seconds):
        """True for the one caller that should fetch the job's video now.

        A fetch left half-done by a worker that died, or one that failed, may be taken again after the lease.
        """
        now = time.time()
        return self._execute(
            "UPDATE jobs SET archive = 'fetching', archive_started = ?, archive_error = NULL"
            " WHERE id = ? AND (archive = 'none' OR (archive IN ('fetching', 'failed') AND archive_started <= ?))",
            (now, job_id, now - lease_seconds)) == 1

    def archive_heartbeat(self, job_id):
        """A fetch still in progress renews its lease."""
        self._execute("UPDATE jobs SET archive_started = ? WHERE id = ? AND archive = 'fetching'", (time.time(), job_id))

    def archive_done(self, job_id, files, total_bytes):
        self._execute("UPDATE jobs SET archive = 'archived', files = ?, archive_bytes = ?, archived_at = ?"
                      " WHERE id = ?", (json.dumps(files), total_bytes, time.time(), job_id))

    def archive_failed(self, job_id, message):
        self._execute("UPDATE jobs SET archive = 'failed', archive_error = ? WHERE id = ?", (message, job_id))

    def archive_expired(self, job_id):
        self._execute("UPDATE jobs SET archive = 'expired', files = '[]', archive_bytes = 0 WHERE id = ?", (job_id,))

    def archived_oldest_first(self):
        """[(id, archived_at, bytes)] of every archived job, oldest first."""
        with self._connect() as db:
            return [tuple(r) for r in db.execute(
                "SELECT id, archived_at, archive_bytes FROM jobs WHERE archive = 'archived' ORDER BY archived_at")]


def _record(row):
    return JobRecord(job=Job.from_dict(json.loads(row["job"])), submitted_at=row["submitted_at"],
                     submitted_by=row["submitted_by"], params=json.loads(row["params"]),
                     checked_at=row["checked_at"], check_error=row["check_error"], archive=row["archive"],
                     archive_error=row["archive_error"], archive_bytes=row["archive_bytes"],
                     archived_at=row["archived_at"], files=json.loads(row["files"]))


def _size(params):
    if params.get("width") and params.get("height"):
        return f"{params['width']}x{params['height']}"
    return None


def _text(value):
    if value is None:
        return None
    return f"{value:g}" if isinstance(value, float) else str(value)
