"""The history's queries on the job store: search and filters, typical run times, comparisons."""

from app.core.lifecycle import JobStatus
from app.jobs.database import JobsDatabase
from app.jobs.records import JobRecord, record_from_row
from app.storage.database import json_number

STATUS_FILTERS = (
    JobStatus.QUEUED,
    JobStatus.IN_PROGRESS,
    JobStatus.COMPLETED,
    JobStatus.FAILED,
    JobStatus.UNCERTAIN,
    JobStatus.UNKNOWN,
)


class HistoryQueries:
    """Part of JobStore (on its JobsDatabase): what the history page and the job card ask of it."""

    def __init__(self, db: JobsDatabase) -> None:
        self.db = db

    def archive_totals(self) -> tuple[int, int]:
        """(bytes, videos) in the archive now."""
        with self.db.connect() as db:
            row = db.execute(
                "SELECT COALESCE(SUM(archive_bytes), 0), COUNT(*) FROM jobs WHERE archive = 'archived'"
            ).fetchone()
        return int(row[0]), int(row[1])

    def facets(self, limit: int = 100) -> tuple[list[str], list[str]]:
        """The models and the people found in the history, for the history's filters."""
        with self.db.connect() as db:
            models = [
                r[0]
                for r in db.execute(
                    "SELECT DISTINCT model FROM jobs WHERE model IS NOT NULL AND model != '' ORDER BY model LIMIT ?",
                    (limit,),
                )
            ]
            people = [
                r[0]
                for r in db.execute(
                    "SELECT DISTINCT submitted_by FROM jobs WHERE submitted_by IS NOT NULL"
                    " AND submitted_by != '' ORDER BY submitted_by LIMIT ?",
                    (limit,),
                )
            ]
        return models, people

    def search(
        self, query: str = "", status: str = "", page: int = 1, per_page: int = 20, model: str = "", person: str = ""
    ) -> tuple[list[JobRecord], int]:
        """A page of history, newest first, filtered by prompt text, status, model and person; (records, total)."""
        where, args = [], []
        for column, value in (("model", model), ("submitted_by", person)):
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        if query:
            where.append("prompt {like} ? ESCAPE '\\'")
            args.append("%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        if status in STATUS_FILTERS:
            where.append("status = ?")
            args.append(str(status))
        with self.db.connect() as db:
            clause = f"WHERE {' AND '.join(where)}".replace("{like}", db.like) if where else ""
            total = db.execute(f"SELECT COUNT(*) FROM jobs {clause}", args).fetchone()[0]
            rows = db.execute(
                f"SELECT * FROM jobs {clause} ORDER BY submitted_at DESC LIMIT ? OFFSET ?",
                [*args, per_page, (max(1, page) - 1) * per_page],
            ).fetchall()
        return [record_from_row(r) for r in rows], total

    def typical_seconds(
        self, model: str | None, seconds: str | None, size: str | None, limit: int = 50
    ) -> tuple[float | None, int]:
        """(median run time, how many jobs) of earlier completed jobs of this model at this length and size,
        from the upstream's own created and completed times; (None, 0) when there are none."""
        with self.db.connect() as db:
            completed, created = (json_number(db.dialect, "job", key) for key in ("completed_at", "created_at"))
            rows = db.execute(
                f"SELECT {completed} - {created} FROM jobs"
                " WHERE status = ? AND model IS NOT DISTINCT FROM ? AND seconds IS NOT DISTINCT FROM ?"
                f" AND size IS NOT DISTINCT FROM ? AND {completed} > 0 AND {created} > 0"
                " ORDER BY submitted_at DESC LIMIT ?",
                (str(JobStatus.COMPLETED), model, seconds, size, limit),
            ).fetchall()
        runs = sorted(r[0] for r in rows if r[0] is not None and 0 <= r[0] < 86400)
        if not runs:
            return None, 0
        middle = len(runs) // 2
        median = runs[middle] if len(runs) % 2 else (runs[middle - 1] + runs[middle]) / 2
        return median, len(runs)
