"""The usage page: what the studio cost today, this week and this month, by person and by model, with
the spending guard's limits beside it; and the same as CSV (app/jobs/usage.py reads the history)."""

import csv
import io

from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue

from app.jobs.spending_guard import rule_text
from app.jobs.usage import PERIODS, usage
from app.services import services

bp = Blueprint("usage", __name__)


@bp.get("/usage")
def usage_page() -> ResponseReturnValue:
    svc = services()
    period = request.args.get("period", "month")
    period = period if period in PERIODS else "month"
    found = usage(svc.store.db, svc.store.clock(), svc.settings.time_zone)
    allowance = svc.allowance
    limits = {
        "person": [rule_text(rule) for rule in allowance.person_rules],
        "team_cap": allowance.team_daily_cap,
        "budgets": allowance.budgets,
        "team_spent": allowance.spent() if allowance.budgets.team else None,
        "currency": svc.profiles.currency,
    }
    return render_template(
        "usage/usage.html", usage=found, period=period, periods=PERIODS, limits=limits, zone=svc.settings.time_zone
    )


@bp.get("/usage.csv")
def usage_csv() -> ResponseReturnValue:
    """One row per period, person and model: jobs, failed, seconds, estimated cost, jobs of unknown price."""
    svc = services()
    found = usage(svc.store.db, svc.store.clock(), svc.settings.time_zone)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["period", "by", "name", "jobs", "failed", "seconds", "cost", "currency", "unpriced_jobs"])
    for period in PERIODS:
        for kind, groups in (("person", found.people[period]), ("model", found.models[period])):
            for name, totals in sorted(groups.items()):
                costs = totals.costs or {"": None}
                for currency, cost in costs.items():
                    writer.writerow(
                        [
                            period,
                            kind,
                            _cell(name),
                            totals.jobs,
                            totals.failed,
                            f"{totals.seconds:g}",
                            "" if cost is None else f"{cost:.2f}",
                            currency,
                            totals.unpriced,
                        ]
                    )
    return Response(
        "\ufeff" + out.getvalue(),  # a byte-order mark: Excel then reads Chinese names as UTF-8
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="studio-usage.csv"'},
    )


def _cell(text: str) -> str:
    """A name as a spreadsheet cell: one starting like a formula is kept as text (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
