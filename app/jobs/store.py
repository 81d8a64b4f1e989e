"""The job store: every job submitted through the app, in SQLite under DATA_DIR.

Several gunicorn workers share it: WAL mode, short transactions, and claims (app/jobs/claims.py) so that
only one worker at a time reads a job's status upstream or fetches its video. A job is written here
*before* it is sent, so nothing paid for is lost.
"""

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable

from app.core.lifecycle import JobStatus
from app.core.messages import loaded, stored
from app.jobs.claims import FollowerClaims
from app.jobs.database import NEW_WORK, JobsDatabase
from app.jobs.journal import CreatedJournal
from app.jobs.queries import HistoryQueries
from app.jobs.records import JobRecord, record_from_row
from app.jobs.schema import upgrade
from app.jobs.shares import ShareLinks
from app.upstream import Job


class JobStore:
    """The history, safe to share between gunicorn workers (SQLite) and between hosts (PostgreSQL)."""

    def __init__(self, database, journal_dir: str | None = None) -> None:
        """database: a SQLite file's path, or an open database (app/storage/database.py); journal_dir: this
        host's folder for the journal (by default the SQLite file's)."""
        self.db = JobsDatabase(database)
        self.path = self.db.path
        self.claims = FollowerClaims(self.db)  # the follower's status reads and archive bookkeeping
        self.history = HistoryQueries(self.db)  # the history page's search, filters and typical run times
        self.shares = ShareLinks(self.db)  # links that show a finished job's video without signing in
        journal_dir = journal_dir or os.path.dirname(self.path)
        os.makedirs(journal_dir, exist_ok=True)
        # Created jobs' ids the database refused to take, kept until it does (app/jobs/journal.py).
        self.journal = CreatedJournal(os.path.join(journal_dir, "created-jobs.journal"))
        self._initialise()

    @property
    def clock(self) -> Callable[[], float]:
        """Where the store's times come from; tests set one clock for the store and the follower."""
        return self.db.clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self.db.clock = clock

    def _initialise(self, attempts: int = 50):
        # Several gunicorn workers start at once; switching to WAL can report "locked" without waiting.
        for attempt in range(attempts):
            try:
                upgrade(self.db.database)
                return
            except sqlite3.OperationalError as exc:
                if ("locked" not in str(exc) and "duplicate column" not in str(exc)) or attempt == attempts - 1:
                    raise
                time.sleep(0.1)

    # --- recording a job before, during and after it is sent -----------------------------------

    def add_sending(
        self, local_id: str, params: dict, submitted_by: str | None = None, sender: str | None = None
    ) -> None:
        """Record a job about to be sent; it has no upstream id yet. sender is the sending worker's host:pid."""
        now = self.db.clock()
        job = Job(id=local_id, status=JobStatus.SENDING, model=params.get("model"))
        self.db.execute(
            "INSERT INTO jobs (id, local_id, sender, submitted_at, submitted_by, prompt, model, size, seconds,"
            " status, params, job, changed_at, cost, currency) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
                *_cost(params),
            ),
        )

    def created(self, local_id: str, job: Job) -> None:
        """The upstream made the job: the row takes the upstream's id, and the follower reads it soon."""
        now = self.db.clock()
        with self.db.connect(synchronous="FULL") as db:  # this commit is on disk before the person hears of it
            # On SQLite one statement, so the write lock is held only while SQLite runs it. OR REPLACE: a relay
            # that reuses an id replaces the older row that had it (PostgreSQL: deleted first, in one transaction).
            replace = "OR REPLACE "
            if db.dialect == "postgresql":
                replace = ""
                db.execute("BEGIN")
                db.execute("DELETE FROM jobs WHERE id = ? AND id <> ?", (job.id, local_id))
            db.execute(
                f"UPDATE {replace}jobs SET id = ?, status = ?, job = ?, model = COALESCE(?, model),"
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
            db.notify(NEW_WORK)
            if db.in_transaction:
                db.execute("COMMIT")

    def add(self, job: Job, params: dict, submitted_by: str | None = None) -> None:
        """Record a job that exists upstream already (imports and tests)."""
        local_id = f"local-{os.urandom(8).hex()}"
        self.add_sending(local_id, params, submitted_by)
        self.created(local_id, job)

    def uncertain(self, job_id: str, message: str) -> bool:
        """The send's outcome cannot be known: keep the row, say so, and never follow it blindly."""
        return (
            self.db.execute(
                "UPDATE jobs SET status = ?, check_error = ?, checked_at = ?, sender = NULL"
                " WHERE id = ? AND status = ?",
                (str(JobStatus.UNCERTAIN), stored(message), self.db.clock(), job_id, str(JobStatus.SENDING)),
            )
            == 1
        )

    def discard(self, local_id: str) -> None:
        """The upstream refused the job (or never got it): nothing was made, so there is nothing to keep."""
        self.db.execute("DELETE FROM jobs WHERE id = ? AND status = ?", (local_id, str(JobStatus.SENDING)))

    def uncertain_since(self, since: float) -> list[JobRecord]:
        """Records that may have been created, sent after `since`, oldest first."""
        with self.db.connect() as db:
            rows = db.execute(
                "SELECT * FROM jobs WHERE status = ? AND submitted_at >= ? ORDER BY submitted_at",
                (str(JobStatus.UNCERTAIN), since),
            ).fetchall()
        return [record_from_row(r) for r in rows]

    def found(self, local_id: str, job: Job, how: str) -> bool:
        """An uncertain row's job was found upstream (how: "list" or "pasted"): it takes the job's id and is
        followed like any other; its settings remember how it was found. False if the row is no longer
        uncertain or the id is in the history already."""
        now = self.db.clock()
        with self.db.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                f"SELECT params FROM jobs WHERE id = ? AND status = ?{db.for_update}",
                (local_id, str(JobStatus.UNCERTAIN)),
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
            db.notify(NEW_WORK)
            db.execute("COMMIT")
        return True

    def sending(self) -> list[tuple]:
        """[(id, sender, submitted_at)] of the rows still being sent."""
        with self.db.connect() as db:
            return [
                tuple(r)
                for r in db.execute(
                    "SELECT id, sender, submitted_at FROM jobs WHERE status = ?", (str(JobStatus.SENDING),)
                )
            ]

    # --- reading -------------------------------------------------------------------------------

    def get(self, job_id: str) -> JobRecord | None:
        """The record by its id, or by the id it had while being sent."""
        with self.db.connect() as db:
            row = (
                db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
                or db.execute("SELECT * FROM jobs WHERE local_id = ?", (job_id,)).fetchone()
            )
        return record_from_row(row) if row else None

    def get_many(self, job_ids: Iterable[str]) -> list[JobRecord]:
        ids = list(job_ids)[:100]
        if not ids:
            return []
        with self.db.connect() as db:
            rows = db.execute(f"SELECT * FROM jobs WHERE id IN ({','.join('?' * len(ids))})", ids).fetchall()
        return [record_from_row(r) for r in rows]

    def check_writable(self) -> None:
        """Raise one of DATABASE_ERRORS unless a row can really be written (a full disk refuses it)."""
        self.db.execute(
            "INSERT INTO probes (name, at) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET at = excluded.at",
            (f"ready:{os.getpid()}", self.db.clock()),
        )

    def delete(self, job_id: str) -> bool:
        self.shares.forget_job(job_id)
        return self.db.execute("DELETE FROM jobs WHERE id = ?", (job_id,)) == 1

    # --- one job per filled form ---------------------------------------------------------------

    def claim_submission(self, token: str) -> str | None:
        """None for the first request with this form token; else the job id it made (or '' while in flight)."""
        with self.db.connect() as db:
            db.execute("DELETE FROM submissions WHERE claimed_at < ?", (self.db.clock() - 7 * 86400,))
            taken = db.execute(
                "INSERT INTO submissions (token, claimed_at) VALUES (?, ?) ON CONFLICT (token) DO NOTHING",
                (token, self.db.clock()),
            )
            if taken.rowcount == 1:
                return None
            row = db.execute("SELECT job_id FROM submissions WHERE token = ?", (token,)).fetchone()
            return (row[0] or "") if row else None

    def finish_submission(self, token: str, job_id: str) -> None:
        self.db.execute("UPDATE submissions SET job_id = ? WHERE token = ?", (job_id, token))

    def release_submission(self, token: str) -> None:
        """The form made no job (an error): it may be sent again."""
        self.db.execute("DELETE FROM submissions WHERE token = ?", (token,))

    # --- comparisons -------------------------------------------------------------------------------

    def add_comparison(self, comparison_id: str, title: str | None, job_ids: Iterable[str]) -> None:
        with self.db.connect() as db:
            db.execute(
                "INSERT INTO comparisons (id, title, job_ids, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (id)"
                " DO UPDATE SET title = excluded.title, job_ids = excluded.job_ids, created_at = excluded.created_at",
                (comparison_id, title, json.dumps(list(job_ids)), self.db.clock()),
            )

    def get_comparison(self, comparison_id: str) -> tuple[str, list[JobRecord]] | None:
        """(title, [records in the order sent]) or None."""
        with self.db.connect() as db:
            row = db.execute("SELECT title, job_ids FROM comparisons WHERE id = ?", (comparison_id,)).fetchone()
        if row is None:
            return None
        ids = json.loads(row[1])
        found = {r.id: r for r in self.get_many(ids)}
        for job_id in ids:  # a job that took the upstream's id is found by the id it had while sending
            if job_id not in found and (record := self.get(job_id)) is not None:
                found[job_id] = record
        return loaded(row[0]), [found[i] for i in ids if i in found]


def _json(value):
    return json.dumps(value, ensure_ascii=False)


def _cost(params):
    """(amount, currency) of the job's estimate when it was sent, or (None, None): price unknown."""
    estimate = params.get("estimate")
    if isinstance(estimate, dict) and isinstance(estimate.get("amount"), (int, float)):
        return float(estimate["amount"]), str(estimate.get("currency") or "")
    return None, None


def _size(params):
    if params.get("width") and params.get("height"):
        return f"{params['width']}x{params['height']}"
    return None


def _text(value):
    if value is None:
        return None
    return f"{value:g}" if isinstance(value, float) else str(value)
