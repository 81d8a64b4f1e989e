"""What jobs cost: prices in the model profiles, the estimate on the card and kept with the job, and the
money budgets, checked in the same reservation as the job counts."""

import html
import threading

from app.catalog.prices import Price, estimate
from app.catalog.profiles import load_profiles
from app.jobs.spending_guard import Allowance, BudgetReached, Budgets
from support.client import submit
from support.pages import Page
from support.upstreams import job_body, json_response

DEMO = {"model": "demo-v1", "duration": "5", "width": "1280", "height": "720"}  # CN¥0.50 a second: CN¥2.50


def test_an_estimate_is_per_second_and_per_video_with_sizes_and_unknown_when_it_cannot_be_told():
    price = Price("CNY", per_second=0.5, per_video=1.0, by_size={"1920x1080": (0.8, None)})
    assert estimate(price, 5, "1280x720", 1).amount == 3.5
    assert estimate(price, 5, "1920x1080", 2).amount == 10.0  # (1.0 + 0.8 x 5) x 2
    assert estimate(price, None, "1280x720", 1) is None  # by the second, length unknown: no guess
    assert estimate(Price("CNY", per_video=2.0), None, None, 3).amount == 6.0
    assert estimate(None, 5, "1280x720", 1) is None
    profiles = load_profiles()
    assert profiles.priced(dict(DEMO))["estimate"]["amount"] == 2.5
    assert profiles.priced({"model": "kling-v1", "duration": 5})["estimate"] is None  # no price shipped: unknown


def test_the_card_shows_the_estimate_of_what_was_sent_or_says_the_price_is_unknown(client, upstream):
    upstream.handler = lambda req: json_response(job_body(f"video_c{len(upstream.creates)}"))
    submit(client, {"prompt": "priced", **DEMO})
    submit(client, {"prompt": "not priced", "model": "some-relay-model", "duration": "5"})
    priced = Page(client.get("/jobs/video_c1").get_data(as_text=True))
    assert priced.find(**{"data-cost": ""})[0].text.strip() == "about CN¥2.50"
    unknown = Page(client.get("/jobs/video_c2").get_data(as_text=True))
    assert unknown.find(**{"data-cost": ""})[0].text.strip() == "price unknown"
    client.set_cookie("lang", "zh")
    zh = Page(client.get("/jobs/video_c1").get_data(as_text=True))
    assert "¥2.50" in zh.find(**{"data-cost": ""})[0].text


def test_the_team_budget_refuses_the_job_that_would_pass_it_and_says_what_is_left(make_app, upstream):
    upstream.handler = lambda req: json_response(job_body(f"video_b{len(upstream.creates)}"))
    app = make_app(upstream.url, follow=False, team_daily_budget=6.0)
    client = app.test_client()
    assert submit(client, {"prompt": "one", **DEMO}).status_code == 303
    assert submit(client, {"prompt": "two", **DEMO}).status_code == 303
    refused = submit(client, {"prompt": "three", **DEMO})
    assert refused.status_code == 429 and len(upstream.creates) == 2
    text = " ".join(html.unescape(refused.get_data(as_text=True)).split())
    assert "this job would cost about CN¥2.50, and CN¥1.00 is left of the team's budget of CN¥6.00 a day" in text
    assert Page(refused.get_data(as_text=True)).value("prompt") == "three"  # the form is kept
    cheaper = submit(client, {"prompt": "short", **DEMO, "duration": "2"})  # CN¥1.00 fits exactly
    assert cheaper.status_code == 303 and len(upstream.creates) == 3
    unknown = submit(client, {"prompt": "no price", "model": "some-relay-model", "duration": "5"})
    assert unknown.status_code == 429 and "this model has no price" in unknown.get_data(as_text=True)
    assert len(upstream.creates) == 3


def test_a_person_budget_counts_each_person_apart(make_app, upstream):
    upstream.handler = lambda req: json_response(job_body(f"video_p{len(upstream.creates)}"))
    app = make_app(upstream.url, follow=False, person_daily_budget=3.0, auth_header="X-Forwarded-User")
    ana, bo = app.test_client(), app.test_client()
    ana.environ_base["HTTP_X_FORWARDED_USER"] = "ana"
    bo.environ_base["HTTP_X_FORWARDED_USER"] = "bo"
    assert submit(ana, {"prompt": "a", **DEMO}).status_code == 303
    second = submit(ana, {"prompt": "b", **DEMO})
    assert second.status_code == 429 and "of your budget of CN¥3.00 a day" in " ".join(
        second.get_data(as_text=True).split()
    )
    assert submit(bo, {"prompt": "c", **DEMO}).status_code == 303


def test_racing_reservations_never_spend_past_the_budget(tmp_path):
    from app.jobs.store import JobStore

    # the guard on the job store's database, as the app has it (WAL, its busy timeout)
    allowance = Allowance(JobStore(str(tmp_path / "jobs.sqlite3")).db.database, [], 0, Budgets(team=5.0))
    taken, refused, barrier = [], [], threading.Barrier(12)

    def reserve(i):
        barrier.wait()
        try:
            taken.append(allowance.reserve(f"p{i}", 1.0))
        except BudgetReached:
            refused.append(i)

    threads = [threading.Thread(target=reserve, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == 5 and len(refused) == 7
    assert allowance.spent() == 5.0
