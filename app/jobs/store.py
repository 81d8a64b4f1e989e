"""The job store: every job submitted through the app, in SQLite under DATA_DIR.

Several gunicorn workers share it: WAL mode, short transactions, and claims (app/jobs/claims.py) so that
only one worker at a time reads a job's status upstream or fetches its video. A job is written here
*before* it is sent, so nothing paid for is lost.
"""

import json
import os
import sqlite3
import time
from dataclasses import dataclass, field

from app.core.lifecycle import ArchiveState, JobStatus
from app.core.messages import loaded, stored
from app.jobs.claims import FollowerClaims
from app.jobs.journal import CreatedJournal
from app.jobs.queries import HistoryQueries
from app.jobs.schema import LATE_INDEXES, SCHEMA, migrate, type_messages
from app.storage.sqlite import BUSY_SECONDS, connect
from app.upstream import Job


@dataclass
class JobRecord:
    """A row of history: the latest job we saw, what the person typed, and the archived files."""

    job: Job
    submitted_at: float
    submitted_by: str | None
    params: dict
    checked_at: float
    check_error: str | None
    archive: ArchiveState
    archive_error: str | None
    archive_bytes: int
    archived_at: float | None
    files: list = field(default_factory=list)  # [{"index", "video", "poster"}] relative to the archive
    local_id: str | None = None
    answered_at: float = 0
    changed_at: float = 0
    stalled_at: float | None = None
    archive_attempts: int = 0
    archive_next_at: float = 0
    check_failures: int = 0
    sender: str | None = None  # host:pid of the worker sending it, while it is being sent

    @property
    def id(self):
        return self.job.id

    @property
    def status(self):
        return self.job.status

    @property
    def is_settled(self):
        """Nothing more will change by itself: a live page may stop asking."""
        if self.status in (JobStatus.FAILED, JobStatus.UNCERTAIN):
            return True
        return self.status == JobStatus.COMPLETED and self.archive in (
            ArchiveState.ARCHIVED,
            ArchiveState.EXPIRED,
            ArchiveState.FAILED,
        )

    @property
    def is_stalled(self):
        return self.stalled_at is not None and self.status.is_running

    @property
    def has_video(self):
        return self.archive == ArchiveState.ARCHIVED and any(f.get("video") for f in self.files)

    @property
    def poster(self):
        return next((f for f in self.files if f.get("poster")), None)

    @property
    def video_dimensions(self):
        """(width, height) of the video as the job says, else as it was asked for; None when unknown."""
        for text in (self.job.size, f"{self.params.get('width')}x{self.params.get('height')}"):
            parts = str(text or "").lower().replace("*", "x").split("x")
            if len(parts) == 2 and all(p.strip().isdigit() and 0 < int(p) <= 10000 for p in parts):
                return int(parts[0]), int(parts[1])
        return None

    @property
    def shape(self):
        """landscape, portrait or square: how the player should be laid out."""
        dims = self.video_dimensions
        if not dims or dims[0] > dims[1]:
            return "landscape"
        return "portrait" if dims[1] > dims[0] else "square"

    @property
    def can_fetch_again(self):
        return self.status == JobStatus.COMPLETED and self.archive in (
            ArchiveState.RETRYING,
            ArchiveState.FAILED,
            ArchiveState.EXPIRED,
        )


class JobStore(FollowerClaims, HistoryQueries):
    """SQLite-backed history, safe to share between gunicorn workers."""

    @staticmethod
    def record_from_row(row):
        return _record(row)

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.clock = time.time  # tests put their own clock here (and on the follower): times are then exact
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        # Created jobs' ids the database refused to take, kept until it does (app/jobs/journal.py).
        self.journal = CreatedJournal(os.path.join(os.path.dirname(self.path), "created-jobs.journal"))
        self._initialise()

    def _initialise(self, attempts=50):
        # Several gunicorn workers start at once; switching to WAL can report "locked" without waiting.
        for attempt in range(attempts):
            try:
                with self._connect() as db:
                    if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                        db.execute("PRAGMA journal_mode=WAL")
                    db.executescript(SCHEMA)
                    migrate(db)
                    db.executescript(LATE_INDEXES)
                    type_messages(db)
                return
            except sqlite3.OperationalError as exc:
                if ("locked" not in str(exc) and "duplicate column" not in str(exc)) or attempt == attempts - 1:
                    raise
                time.sleep(0.1)

    busy_seconds = BUSY_SECONDS  # how long a query waits for another writer's lock

    def _connect(self, synchronous="NORMAL"):
        return connect(self.path, row_factory=sqlite3.Row, busy_seconds=self.busy_seconds, synchronous=synchronous)

    def _execute(self, sql, args=()):
        with self._connect() as db:
            return db.execute(sql, args).rowcount

    # --- recording a job before, during and after it is sent -----------------------------------

    def add_sending(self, local_id, params, submitted_by=None, sender=None):
        """Record a job about to be sent; it has no upstream id yet. sender is the sending worker's host:pid."""
        now = self.clock()
        job = Job(id=local_id, status=JobStatus.SENDING, model=params.get("model"))
        self._execute(
            "INSERT INTO jobs (id, local_id, sender, submitted_at, submitted_by, prompt, model, size, seconds,"
            " status, params, job, changed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                local_id,
                local_id,
                sender,
                now,
                submitted_by,
                params.get("prompt", ""),
                params.get("model"),
                _size(params),
                _text(params.get("duration")),
                str(job.status),
                _json(params),
                _json(job.to_dict()),
                now,
            ),
        )

    def created(self, local_id, job: Job):
        """The upstream made the job: the row takes the upstream's id, and the follower reads it soon."""
        now = self.clock()
        with self._connect(synchronous="FULL") as db:  # this commit is on disk before the person hears of it
            # One statement, so the write lock is held only while SQLite runs it. OR REPLACE: a relay that
            # reuses an id replaces the older row that had it.
            db.execute(
                "UPDATE OR REPLACE jobs SET id = ?, status = ?, job = ?, model = COALESCE(?, model),"
                " size = COALESCE(?, size), seconds = COALESCE(?, seconds), checked_at = ?, answered_at = ?,"
                " changed_at = ?, next_check_at = 0, check_error = NULL, sender = NULL WHERE id = ?",
                (
                    job.id,
                    str(job.status),
                    _json(job.to_dict()),
                    job.model,
                    job.size,
                    job.seconds,
                    now,
                    now,
                    now,
                    local_id,
                ),
            )

    def add(self, job: Job, params, submitted_by=None):
        """Record a job that exists upstream already (imports and tests)."""
        local_id = f"local-{os.urandom(8).hex()}"
        self.add_sending(local_id, params, submitted_by)
        self.created(local_id, job)

    def uncertain(self, job_id, message):
        """The send's outcome cannot be known: keep the row, say so, and never follow it blindly."""
        return (
            self._execute(
                "UPDATE jobs SET status = ?, check_error = ?, checked_at = ?, sender = NULL"
                " WHERE id = ? AND status = ?",
                (str(JobStatus.UNCERTAIN), stored(message), self.clock(), job_id, str(JobStatus.SENDING)),
            )
            == 1
        )

    def discard(self, local_id):
        """The upstream refused the job (or never got it): nothing was made, so there is nothing to keep."""
        self._execute("DELETE FROM jobs WHERE id = ? AND status = ?", (local_id, str(JobStatus.SENDING)))

    def uncertain_since(self, since):
        """Records that may have been created, sent after `since`, oldest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM jobs WHERE status = ? AND submitted_at >= ? ORDER BY submitted_at",
                (str(JobStatus.UNCERTAIN), since),
            ).fetchall()
        return [_record(r) for r in rows]

    def found(self, local_id, job: Job, how):
        """An uncertain row's job was found upstream (how: "list" or "pasted"): it takes the job's id and is
        followed like any other; its settings remember how it was found. False if the row is no longer
        uncertain or the id is in the history already."""
        now = self.clock()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                "SELECT params FROM jobs WHERE id = ? AND status = ?", (local_id, str(JobStatus.UNCERTAIN))
            ).fetchone()
            taken = db.execute("SELECT 1 FROM jobs WHERE id = ?", (job.id,)).fetchone()
            if row is None or taken is not None:
                db.execute("ROLLBACK")
                return False
            params = {**json.loads(row["params"]), "found_by": how}
            db.execute(
                "UPDATE jobs SET id = ?, status = ?, job = ?, params = ?, model = COALESCE(?, model),"
                " checked_at = ?, answered_at = ?, changed_at = ?, next_check_at = 0, check_error = NULL,"
                " sender = NULL WHERE id = ?",
                (job.id, str(job.status), _json(job.to_dict()), _json(params), job.model, now, now, now, local_id),
            )
            db.execute("COMMIT")
        return True

    def sending(self):
        """[(id, sender, submitted_at)] of the rows still being sent."""
        with self._connect() as db:
            return [
                tuple(r)
                for r in db.execute(
                    "SELECT id, sender, submitted_at FROM jobs WHERE status = ?", (str(JobStatus.SENDING),)
                )
            ]

    # --- reading -------------------------------------------------------------------------------

    def get(self, job_id):
        """The record by its id, or by the id it had while being sent."""
        with self._connect() as db:
            row = (
                db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
                or db.execute("SELECT * FROM jobs WHERE local_id = ?", (job_id,)).fetchone()
            )
        return _record(row) if row else None

    def get_many(self, job_ids):
        ids = list(job_ids)[:100]
        if not ids:
            return []
        with self._connect() as db:
            rows = db.execute(f"SELECT * FROM jobs WHERE id IN ({','.join('?' * len(ids))})", ids).fetchall()
        return [_record(r) for r in rows]

    def check_writable(self):
        """Raise sqlite3.Error unless a row can really be written (a full disk refuses it)."""
        self._execute("INSERT OR REPLACE INTO probes (name, at) VALUES (?, ?)", (f"ready:{os.getpid()}", self.clock()))

    def delete(self, job_id):
        return self._execute("DELETE FROM jobs WHERE id = ?", (job_id,)) == 1

    # --- one job per filled form ---------------------------------------------------------------

    def claim_submission(self, token):
        """None for the first request with this form token; else the job id it made (or '' while in flight)."""
        with self._connect() as db:
            db.execute("DELETE FROM submissions WHERE claimed_at < ?", (self.clock() - 7 * 86400,))
            try:
                db.execute("INSERT INTO submissions (token, claimed_at) VALUES (?, ?)", (token, self.clock()))
                return None
            except sqlite3.IntegrityError:
                row = db.execute("SELECT job_id FROM submissions WHERE token = ?", (token,)).fetchone()
                return (row[0] or "") if row else None

    def finish_submission(self, token, job_id):
        self._execute("UPDATE submissions SET job_id = ? WHERE token = ?", (job_id, token))

    def release_submission(self, token):
        """The form made no job (an error): it may be sent again."""
        self._execute("DELETE FROM submissions WHERE token = ?", (token,))


def _record(row):
    keys = row.keys()
    # The status column is the truth (the app's own states are written there alone).
    return JobRecord(
        job=Job.from_dict({**json.loads(row["job"]), "status": row["status"]}),
        submitted_at=row["submitted_at"],
        submitted_by=row["submitted_by"],
        params=_params(row["params"]),
        checked_at=row["checked_at"],
        check_error=loaded(row["check_error"]),
        archive=ArchiveState(row["archive"]),
        archive_error=loaded(row["archive_error"]),
        archive_bytes=row["archive_bytes"],
        archived_at=row["archived_at"],
        files=json.loads(row["files"]),
        **{
            k: row[k]
            for k in (
                "local_id",
                "answered_at",
                "changed_at",
                "stalled_at",
                "archive_attempts",
                "archive_next_at",
                "check_failures",
                "sender",
            )
            if k in keys
        },
    )


def _params(text):
    params = json.loads(text)
    if isinstance(params.get("image_warnings"), list):
        params["image_warnings"] = [loaded(w) for w in params["image_warnings"]]
    return params


def _json(value):
    return json.dumps(value, ensure_ascii=False)


def _size(params):
    if params.get("width") and params.get("height"):
        return f"{params['width']}x{params['height']}"
    return None


def _text(value):
    if value is None:
        return None
    return f"{value:g}" if isinstance(value, float) else str(value)
