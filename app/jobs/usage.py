"""Usage, read from the job history (no second bookkeeping): jobs, seconds of video and estimated cost for
today, this week and this month, by person and by model.

One query reads the month (or the week, when it began earlier) grouped by day, person, model, length,
currency and whether the job failed; the periods are added up from those groups. Failed jobs are counted
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
    with db.connect() as conn:
        rows = conn.execute(
            "SELECT MIN(submitted_at), COALESCE(submitted_by, ''), COALESCE(model, ''), seconds, currency,"
            f" CASE WHEN status = '{failed}' THEN 1 ELSE 0 END, COUNT(*), SUM(cost), COUNT(cost)"
            " FROM jobs WHERE submitted_at >= ?"
            " GROUP BY CAST((submitted_at - ?) / 3600 AS INTEGER), COALESCE(submitted_by, ''), COALESCE(model, ''),"
            f" seconds, currency, CASE WHEN status = '{failed}' THEN 1 ELSE 0 END",
            (since, since),
        ).fetchall()
    for at, person, model, seconds, currency, is_failed, count, cost, priced in rows:
        length = _seconds(seconds)
        for period in PERIODS:
            if at < starts[period]:
                continue
            for totals in (
                result.team[period],
                result.people[period].setdefault(person, Totals()),
                result.models[period].setdefault(model, Totals()),
            ):
                if priced and priced < count:  # some of the group had a price, some not
                    totals.add(priced, bool(is_failed), length, cost, currency)
                    totals.add(count - priced, bool(is_failed), length, None, None)
                else:
                    totals.add(count, bool(is_failed), length, cost if priced else None, currency)
    return result


def _seconds(text) -> float | None:
    try:
        value = float(str(text).strip().rstrip("s"))
    except (TypeError, ValueError):
        return None
    return value if 0 < value < 1e6 else None
