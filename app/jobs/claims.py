"""The follower's claims on the job store: which status reads and video fetches are due, and who does
each one (a conditional UPDATE with a lease), so that workers and hosts sharing the file never do the
same work twice."""

import json
from dataclasses import dataclass

from app.core.lifecycle import RUNNING, ArchiveState, JobStatus
from app.core.messages import stored
from app.jobs.database import NEW_WORK, JobsDatabase
from app.storage.database import json_number
from app.upstream import Job

# The lifecycle's values, for the SQL below (constants from the enums, never text from outside).
COMPLETED = JobStatus.COMPLETED.value
A_NONE, A_FETCHING, A_ARCHIVED, A_RETRYING, A_FAILED, A_EXPIRED = (
    s.value
    for s in (
        ArchiveState.NONE,
        ArchiveState.FETCHING,
        ArchiveState.ARCHIVED,
        ArchiveState.RETRYING,
        ArchiveState.FAILED,
        ArchiveState.EXPIRED,
    )
)
_RUNNING = tuple(str(s) for s in RUNNING)
_IN = f"({','.join('?' * len(_RUNNING))})"


@dataclass(frozen=True)
class CheckState:
    status: JobStatus
    progress: int
    submitted_at: float
    answered_at: float
    changed_at: float
    has_error: bool
    check_failures: int


class FollowerClaims:
    """Part of JobStore (on its JobsDatabase): the status-read and archive bookkeeping of the follower."""

    def __init__(self, db: JobsDatabase) -> None:
        self.db = db

    def count_running(self) -> int:
        with self.db.connect() as db:
            return db.execute(f"SELECT COUNT(*) FROM jobs WHERE status IN {_IN}", _RUNNING).fetchone()[0]

    def claim_due_status_reads(self, now: float, lease_seconds: float, limit: int) -> list[str]:
        """Claim up to `limit` running jobs whose status read is due, in one statement (oldest due first);
        returns their ids. Each is leased to the caller until now + lease_seconds."""
        if limit <= 0:
            return []
        with self.db.connect() as db:
            rows = db.execute(
                f"UPDATE jobs SET next_check_at = ? WHERE id IN (SELECT id FROM jobs WHERE status IN {_IN}"
                f" AND next_check_at <= ? ORDER BY next_check_at LIMIT ?{db.skip_locked}) AND next_check_at <= ?"
                " RETURNING id",
                (now + lease_seconds, *_RUNNING, now, limit, now),
            ).fetchall()
        return [r[0] for r in rows]

    def check_state(self, job_id: str) -> CheckState | None:
        """What a status read needs to know of a job, without reading its whole record (hundreds a second)."""
        with self.db.connect() as db:
            row = db.execute(
                f"SELECT status, {json_number(db.dialect, 'job', 'progress')} AS progress, submitted_at, answered_at,"
                " changed_at,"
                " check_error IS NOT NULL AS has_error, check_failures FROM jobs WHERE id = ?",
                (job_id,),
            ).fetchone()
        return (
            CheckState(
                JobStatus(row["status"]),
                row["progress"] or 0,
                row["submitted_at"],
                row["answered_at"],
                row["changed_at"],
                bool(row["has_error"]),
                row["check_failures"],
            )
            if row
            else None
        )

    def status_unchanged(self, job_id: str, next_check_at: float, stalled: bool) -> None:
        """The upstream answered and nothing moved: one short write of when to ask next (no job JSON)."""
        now = self.db.clock()
        self.db.execute(
            "UPDATE jobs SET checked_at = ?, answered_at = ?, check_error = NULL, check_failures = 0,"
            " next_check_at = ?, stalled_at = CASE WHEN ? THEN COALESCE(stalled_at, ?) ELSE stalled_at END"
            " WHERE id = ?",
            (now, now, next_check_at, stalled, now, job_id),
        )

    def status_answered(self, job: Job, next_check_at: float, stalled: bool) -> bool:
        """Store what the upstream said; returns True when status or progress moved."""
        now = self.db.clock()
        with self.db.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(f"SELECT status, job, params FROM jobs WHERE id = ?{db.for_update}", (job.id,)).fetchone()
            if row is None or '"stopped"' in row["params"] and "stopped" in json.loads(row["params"]):
                db.execute("ROLLBACK")  # deleted, or stopped by a person while this answer was on its way
                return False
            before = json.loads(row["job"])
            moved = row["status"] != job.status or before.get("progress") != job.progress
            db.execute(
                "UPDATE jobs SET status = ?, job = ?, checked_at = ?, answered_at = ?, check_error = NULL,"
                " check_failures = 0, next_check_at = ?, changed_at = CASE WHEN ? THEN ? ELSE changed_at END,"
                " stalled_at = CASE WHEN ? THEN NULL WHEN ? THEN COALESCE(stalled_at, ?) ELSE stalled_at END,"
                " model = COALESCE(?, model), size = COALESCE(?, size), seconds = COALESCE(?, seconds)"
                " WHERE id = ?",
                (
                    str(job.status),
                    json.dumps(job.to_dict(), ensure_ascii=False),
                    now,
                    now,
                    next_check_at,
                    moved,
                    now,
                    moved,
                    stalled,
                    now,
                    job.model,
                    job.size,
                    job.seconds,
                    job.id,
                ),
            )
            db.execute("COMMIT")
        return moved

    def status_unanswered(self, job_id: str, message: str, next_check_at: float, stalled: bool) -> None:
        """The status could not be read: keep the last known state and say why."""
        now = self.db.clock()
        self.db.execute(
            "UPDATE jobs SET check_error = ?, checked_at = ?, check_failures = check_failures + 1, next_check_at = ?,"
            " stalled_at = CASE WHEN ? THEN COALESCE(stalled_at, ?) ELSE stalled_at END WHERE id = ?",
            (stored(message), now, next_check_at, stalled, now, job_id),
        )

    def check_now(self, job_id: str) -> bool:
        """A person asked to check again: read the status at once and restart the stall clock."""
        return self._nudge(
            f"UPDATE jobs SET next_check_at = 0, stalled_at = NULL, changed_at = ? WHERE id = ? AND status IN {_IN}",
            (self.db.clock(), job_id, *_RUNNING),
        )

    # --- following: the archive ------------------------------------------------------------------

    def due_archives(self, now: float, lease_seconds: float, limit: int = 10) -> list[str]:
        """Ids of completed jobs whose video should be fetched now (new, due for a retry, or left by a dead worker)."""
        with self.db.connect() as db:
            rows = db.execute(
                f"SELECT id FROM jobs WHERE archive IN ('{A_NONE}', '{A_RETRYING}', '{A_FETCHING}')"
                f" AND status = '{COMPLETED}' AND (archive = '{A_NONE}'"
                f" OR (archive = '{A_RETRYING}' AND archive_next_at <= ?)"
                f" OR (archive = '{A_FETCHING}' AND archive_started <= ?)) ORDER BY submitted_at LIMIT ?",
                (now, now - lease_seconds, limit),
            ).fetchall()
        return [r[0] for r in rows]

    def claim_archive(self, job_id: str, lease_seconds: float, holder: str | None = None) -> bool:
        """True for the one caller that should fetch the job's video now; holder (host:pid) is written on it."""
        now = self.db.clock()
        return (
            self.db.execute(
                f"UPDATE jobs SET archive = '{A_FETCHING}', archive_started = ?, archive_holder = ? WHERE id = ?"
                f" AND status = '{COMPLETED}'"
                f" AND (archive = '{A_NONE}' OR (archive = '{A_RETRYING}' AND archive_next_at <= ?)"
                f" OR (archive = '{A_FETCHING}' AND archive_started <= ?))",
                (now, holder, job_id, now, now - lease_seconds),
            )
            == 1
        )

    def pause_upstream(self, until: float) -> None:
        """The API said it is overloaded: every worker leaves it alone until then (a later pause wins)."""
        with self.db.connect() as db:
            db.execute(
                "INSERT INTO upstream_state (name, value) VALUES ('paused_until', ?)"
                f" ON CONFLICT(name) DO UPDATE SET value = {db.greatest}(upstream_state.value, excluded.value)",
                (until,),
            )

    def upstream_paused_until(self) -> float:
        with self.db.connect() as db:
            row = db.execute("SELECT value FROM upstream_state WHERE name = 'paused_until'").fetchone()
        return row[0] if row else 0.0

    def fetches_in_progress(self) -> list[tuple]:
        """[(id, holder)] of the videos being fetched now."""
        with self.db.connect() as db:
            return [tuple(r) for r in db.execute(f"SELECT id, archive_holder FROM jobs WHERE archive = '{A_FETCHING}'")]

    def break_archive_lease(self, job_id: str, holder: str) -> None:
        """The fetch's worker is gone: its job is due again at once."""
        self.db.execute(
            f"UPDATE jobs SET archive_started = 0 WHERE id = ? AND archive = '{A_FETCHING}' AND archive_holder = ?",
            (job_id, holder),
        )

    def archive_heartbeat(self, job_id: str) -> None:
        """A fetch still in progress renews its own lease."""
        self.db.execute(
            f"UPDATE jobs SET archive_started = ? WHERE id = ? AND archive = '{A_FETCHING}'", (self.db.clock(), job_id)
        )

    def archive_done(self, job_id: str, files: list, total_bytes: int) -> None:
        self.db.execute(
            f"UPDATE jobs SET archive = '{A_ARCHIVED}', files = ?, archive_bytes = ?, archived_at = ?,"
            " archive_error = NULL WHERE id = ?",
            (json.dumps(files), total_bytes, self.db.clock(), job_id),
        )

    def archive_failed(self, job_id: str, message: str, retry_at: float | None) -> None:
        """The fetch failed: try again at retry_at, or give up when that is None."""
        state = ArchiveState.RETRYING if retry_at is not None else ArchiveState.FAILED
        self.db.execute(
            "UPDATE jobs SET archive = ?, archive_error = ?, archive_attempts = archive_attempts + 1,"
            " archive_next_at = ? WHERE id = ?",
            (str(state), stored(message), retry_at or 0, job_id),
        )

    def fetch_again(self, job_id: str) -> bool:
        """A person asked to fetch the video again now."""
        return self._nudge(
            f"UPDATE jobs SET archive = '{A_NONE}', archive_attempts = 0, archive_next_at = 0 WHERE id = ?"
            f" AND status = '{COMPLETED}' AND archive IN ('{A_RETRYING}', '{A_FAILED}', '{A_EXPIRED}')",
            (job_id,),
        )

    def stopped(self, job_id: str, stop: dict) -> bool:
        """A person stopped a running job: it is failed from now on, with `stop` (who, when, what the API
        did) kept in its params, and no follower reads its status again. False if it had already ended."""
        running = ", ".join(f"'{s.value}'" for s in RUNNING)
        with self.db.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                f"SELECT params, job FROM jobs WHERE id = ? AND status IN ({running}){db.for_update}", (job_id,)
            ).fetchone()
            if row is None:
                db.execute("ROLLBACK")
                return False
            params, job = json.loads(row["params"]), json.loads(row["job"])
            params["stopped"] = stop
            job["status"] = JobStatus.FAILED.value
            db.execute(
                "UPDATE jobs SET status = ?, job = ?, params = ?, stalled_at = NULL, check_error = NULL,"
                " changed_at = ? WHERE id = ?",
                (
                    JobStatus.FAILED.value,
                    json.dumps(job, ensure_ascii=False),
                    json.dumps(params, ensure_ascii=False),
                    self.db.clock(),
                    job_id,
                ),
            )
            db.execute("COMMIT")
        return True

    def _nudge(self, sql: str, args: tuple) -> bool:
        """Make one job's work due now, and tell every host's follower (PostgreSQL); False if it had none."""
        with self.db.connect() as db:
            if db.execute(sql, args).rowcount != 1:
                return False
            db.notify(NEW_WORK)
        return True

    def archive_expired(self, job_id: str) -> None:
        self.db.execute(
            f"UPDATE jobs SET archive = '{A_EXPIRED}', files = '[]', archive_bytes = 0 WHERE id = ?", (job_id,)
        )

    def archived_oldest_first(self) -> list[tuple]:
        """[(id, archived_at, bytes)] of every archived job, oldest first."""
        with self.db.connect() as db:
            return [
                tuple(r)
                for r in db.execute(
                    "SELECT id, archived_at, archive_bytes FROM jobs"
                    f" WHERE archive = '{A_ARCHIVED}' ORDER BY archived_at"
                )
            ]
