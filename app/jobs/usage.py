"""Usage, read from the job history (no second bookkeeping): jobs, seconds of video and estimated cost for
today, this week and this month, by person and by model.

One query reads the month (or the week, when it began earlier) grouped by person, model, length, currency
and whether the job failed, each period's jobs and cost summed beside (a covering index, migration 0003,
keeps it off the table's rows). Failed jobs are counted
as jobs but not in seconds or cost: relays such as new-api give their quota back."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from app.core.lifecycle import JobStatus
from app.jobs.database import JobsDatabase

PERIODS = ("today", "week", "month")


@dataclass
class Totals:
    jobs: int = 0
    failed: int = 0
    seconds: float = 0.0
    costs: dict = field(default_factory=dict)  # currency -> amount
    unpriced: int = 0  # jobs whose price was unknown when sent

    def add(self, jobs: int, failed: bool, seconds: float | None, cost: float | None, currency: str | None) -> None:
        self.jobs += jobs
        if failed:
            self.failed += jobs
            return
        self.seconds += (seconds or 0.0) * jobs
        if cost is None:
            self.unpriced += jobs
        else:
            self.costs[currency or ""] = self.costs.get(currency or "", 0.0) + cost


@dataclass
class Usage:
    starts: dict  # period -> its first moment (Unix seconds)
    team: dict  # period -> Totals
    people: dict  # period -> {person: Totals}
    models: dict  # period -> {model: Totals}


def period_starts(now: float, zone: str) -> dict:
    """When today, this week (from Monday) and this month began, in the team's time zone."""
    local = datetime.fromtimestamp(now, ZoneInfo(zone))
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "today": today.timestamp(),
        "week": (today - timedelta(days=today.weekday())).timestamp(),
        "month": today.replace(day=1).timestamp(),
    }


def usage(db: JobsDatabase, now: float, zone: str = "UTC") -> Usage:
    starts = period_starts(now, zone)
    since = min(starts.values())
    result = Usage(starts, {p: Totals() for p in PERIODS}, {p: {} for p in PERIODS}, {p: {} for p in PERIODS})
    failed = JobStatus.FAILED.value
    sums, args = [], []
    for period in PERIODS:  # each period's jobs, cost and priced jobs, added up by the database in one pass
        sums.append(
            "COUNT(CASE WHEN submitted_at >= ? THEN 1 END), SUM(CASE WHEN submitted_at >= ? THEN cost END),"
            " COUNT(CASE WHEN submitted_at >= ? THEN cost END)"
        )
        args += [starts[period]] * 3
    with db.connect() as conn:
        rows = conn.execute(
            f"SELECT COALESCE(submitted_by, ''), COALESCE(model, ''), seconds, currency,"
            f" CASE WHEN status = '{failed}' THEN 1 ELSE 0 END, {', '.join(sums)}"
            " FROM jobs WHERE submitted_at >= ?"
            " GROUP BY COALESCE(submitted_by, ''), COALESCE(model, ''), seconds, currency,"
            f" CASE WHEN status = '{failed}' THEN 1 ELSE 0 END",
            (*args, since),
        ).fetchall()
    for row in rows:
        person, model, seconds, currency, is_failed = row[:5]
        length = _seconds(seconds)
        for index, period in enumerate(PERIODS):
            count, cost, priced = row[5 + 3 * index : 8 + 3 * index]
            if not count:
                continue
            for totals in (
                result.team[period],
                result.people[period].setdefault(person, Totals()),
                result.models[period].setdefault(model, Totals()),
            ):
                if priced:
                    totals.add(priced, bool(is_failed), length, cost, currency)
                if count - priced:
                    totals.add(count - priced, bool(is_failed), length, None, None)
    return result


def _seconds(text) -> float | None:
    try:
        value = float(str(text).strip().rstrip("s"))
    except (TypeError, ValueError):
        return None
    return value if 0 < value < 1e6 else None
