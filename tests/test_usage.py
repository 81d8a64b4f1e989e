"""The usage page and its CSV: jobs, seconds and estimated cost today, this week and this month, by person
and by model, read from the history; fast at 100,000 jobs is shown by make bench."""

import csv
import io
import time

from app.jobs.usage import period_starts, usage
from app.upstream import Job
from support.pages import Page


def add(store, job_id, at, person, model, seconds, cost, status="completed"):
    store.clock = lambda: at
    params = {"prompt": job_id, "model": model, "duration": seconds}
    params["estimate"] = {"amount": cost, "currency": "CNY"} if cost is not None else None
    store.add(Job(id=job_id, status=status, model=model, seconds=str(seconds)), params, submitted_by=person)


def test_usage_adds_up_by_period_person_and_model(app):
    store = app.extensions["studio"].store
    now = time.time()
    starts = period_starts(now, "UTC")
    add(store, "today_ana", now - 60, "ana", "demo-v1", 5, 2.5)
    add(store, "today_bo", now - 30, "bo", "kling-v1", 10, None)  # no price: counted apart, never as zero
    add(store, "today_failed", now - 20, "ana", "demo-v1", 5, 2.5, status="failed")
    add(store, "month_only", starts["month"] + 1, "ana", "demo-v1", 4, 2.0)
    add(store, "last_month", starts["month"] - 3600, "ana", "demo-v1", 9, 4.5)
    store.clock = time.time
    found = usage(store.db, now, "UTC")
    today = found.team["today"]
    early = starts["month"] + 1 >= starts["today"]  # on the 1st of a month, "month_only" is today's too
    assert (today.jobs, today.failed, today.seconds, today.costs, today.unpriced) == (
        (4, 1, 19.0, {"CNY": 4.5}, 1) if early else (3, 1, 15.0, {"CNY": 2.5}, 1)
    )
    assert found.people["today"]["ana"].costs == {"CNY": 4.5 if early else 2.5}
    assert found.people["today"]["bo"].unpriced == 1
    assert found.models["today"]["kling-v1"].seconds == 10.0
    month = found.team["month"]
    assert month.jobs == 4 and month.costs == {"CNY": 4.5}  # last month's job is not counted
    in_week = [at >= starts["week"] for at in (starts["month"] + 1, starts["month"] - 3600)]
    assert found.team["week"].jobs == 3 + sum(in_week)  # the week may begin in the month before


def test_the_usage_page_and_csv(client, app):
    store = app.extensions["studio"].store
    now = time.time()
    add(store, "p1", now - 10, "安娜", "demo-v1", 5, 2.5)
    add(store, "p2", now - 5, "=cmd()", "demo-v1", 2, 1.0)
    store.clock = time.time
    page = Page(client.get("/usage?period=today").get_data(as_text=True))
    today = page.find(**{"data-usage-period": "today"})[0]
    assert "CN¥3.50" in today.text and "2 jobs" in today.text
    people = page.find("table", **{"data-usage-person": ""})[0].text
    assert "安娜" in people and "=cmd()" in people
    assert "The spending guard's limits" in page.find("section", class_="card usage-limits")[0].text
    resp = client.get("/usage.csv")
    assert resp.mimetype == "text/csv" and "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    mine = [r for r in rows if r["period"] == "today" and r["by"] == "person" and r["name"] == "安娜"]
    assert mine == [
        {
            "period": "today",
            "by": "person",
            "name": "安娜",
            "jobs": "1",
            "failed": "0",
            "seconds": "5",
            "cost": "2.50",
            "currency": "CNY",
            "unpriced_jobs": "0",
        }
    ]
    assert any(r["name"] == "'=cmd()" for r in rows), "a name like a formula is kept as text"
