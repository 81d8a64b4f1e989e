"""The spending guard: submission rate and daily cap per person and per team, across workers and bursts,
and one job per filled form."""

import threading
import time

import pytest
import requests
from werkzeug.wrappers import Response

from app.jobs.spending_guard import Allowance, LimitReached, rules_from
from support.client import submit
from support.pages import hidden_value
from support.servers import AppProcess
from support.upstreams import ScriptedUpstream, default_handler, slow


def browser_submit(base_url, session, prompt, extra=None):
    form = session.get(base_url + "/", timeout=10).text
    token = hidden_value(form)
    return session.post(
        base_url + "/jobs",
        data={"csrf_token": token, "prompt": prompt, **(extra or {})},
        timeout=30,
        allow_redirects=False,
    )


def test_the_rate_limit_counts_across_workers_and_keeps_the_form(tmp_path):
    upstream = ScriptedUpstream()
    app = AppProcess(
        tmp_path / "app",
        {
            "VIDEO_API_BASE_URL": upstream.url,
            "VIDEO_API_KEY": "k",
            "WEB_WORKERS": "2",
            "SUBMIT_RATE_LIMIT": "3 per minute",
        },
    ).start()
    try:
        statuses = []
        for i in range(3):  # separate connections: the requests land on either worker
            with requests.Session() as s:
                statuses.append(browser_submit(app.base_url, s, f"job {i}").status_code)
        with requests.Session() as s:
            refused = browser_submit(app.base_url, s, "one too many", {"fps": "24"})
        assert statuses == [303, 303, 303]
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert "as many videos as this app allows" in refused.text and "3 per minute" in refused.text
        assert "one too many</textarea>" in refused.text and 'value="24"' in refused.text
        assert len(upstream.creates) == 3
    finally:
        app.stop()
        upstream.stop()


def test_failed_attempts_do_not_use_up_the_allowance(make_app, upstream):
    client = make_app(upstream.url, submit_rate_limit="2 per minute").test_client()
    for _ in range(3):
        assert submit(client, {"prompt": "p", "fps": "9999"}).status_code == 400
    assert [submit(client, {"prompt": "p"}).status_code for _ in range(3)] == [303, 303, 429]


def test_the_daily_cap_is_per_person(make_app, upstream):
    client = make_app(upstream.url, auth_header="X-User", submit_rate_limit="", daily_submit_cap=2).test_client()
    client.environ_base["HTTP_X_USER"] = "ana"
    assert [submit(client, {"prompt": "p"}).status_code for _ in range(3)] == [303, 303, 429]
    client.environ_base["HTTP_X_USER"] = "bo"
    assert submit(client, {"prompt": "p"}).status_code == 303


def test_the_same_filled_form_sent_twice_makes_one_job(client, upstream):
    page = client.get("/").get_data(as_text=True)
    token = hidden_value(page)
    once = hidden_value(page, "submission_id")
    form = {"csrf_token": token, "submission_id": once, "prompt": "only once"}
    first = client.post("/jobs", data=form)
    second = client.post("/jobs", data=form)  # back button and resubmit, or a retry
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert len(upstream.creates) == 1


def test_a_double_click_during_a_slow_answer_makes_one_job(make_app, upstream):
    upstream.handler = lambda req: (
        slow(1.5, default_handler(req))(req) if req.method == "POST" else default_handler(req)
    )
    app = make_app(upstream.url)
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    token = hidden_value(page)
    once = hidden_value(page, "submission_id")
    results = []

    def click():
        with app.test_client() as c:
            with client.session_transaction() as original, c.session_transaction() as sess:
                sess.update(original)
            results.append(c.post("/jobs", data={"csrf_token": token, "submission_id": once, "prompt": "dbl"}))

    threads = [threading.Thread(target=click) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in results] == [303, 303]
    assert results[0].headers["Location"] == results[1].headers["Location"]
    assert len(upstream.creates) == 1


def test_a_double_click_answered_between_the_jobs_id_and_the_forms_token_goes_to_the_same_job(
    make_app, upstream, monkeypatch
):
    """The second click waits for the first send; it may look just after the row took the upstream's id
    and before the form's token did (a busy machine makes that moment long, as here on purpose): it is
    sent to the job's own address all the same, not to the id the row had while being sent."""
    upstream.handler = lambda req: (
        slow(1.0, default_handler(req))(req) if req.method == "POST" else default_handler(req)
    )
    app = make_app(upstream.url)
    store = app.extensions["studio"].store
    finish = store.finish_submission

    def slow_to_write_the_upstream_id(token, job_id):
        if not job_id.startswith("local-"):
            time.sleep(1.5)
        finish(token, job_id)

    monkeypatch.setattr(store, "finish_submission", slow_to_write_the_upstream_id)
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    form = {"csrf_token": hidden_value(page), "submission_id": hidden_value(page, "submission_id"), "prompt": "dbl"}
    results = []

    def click():
        with app.test_client() as c:
            with client.session_transaction() as original, c.session_transaction() as sess:
                sess.update(original)
            results.append(c.post("/jobs", data=form))

    threads = [threading.Thread(target=click) for _ in range(2)]
    for t in threads:
        t.start()
        time.sleep(0.3)  # the second click comes while the first waits for the API
    for t in threads:
        t.join()
    assert [r.headers["Location"] for r in results] == ["/jobs/video_123", "/jobs/video_123"]
    assert len(upstream.creates) == 1


def test_after_an_upstream_error_the_same_form_can_be_sent_again(client, upstream):
    page = client.get("/").get_data(as_text=True)
    token = hidden_value(page)
    once = hidden_value(page, "submission_id")
    upstream.handler = lambda req: Response("busy", 503)
    assert client.post("/jobs", data={"csrf_token": token, "submission_id": once, "prompt": "p"}).status_code == 502
    upstream.handler = default_handler
    assert client.post("/jobs", data={"csrf_token": token, "submission_id": once, "prompt": "p"}).status_code == 303


def test_a_burst_of_parallel_submissions_never_gets_past_the_limits(tmp_path):
    """20 people's worth of submissions at once from one address, across two workers."""
    upstream = ScriptedUpstream(handler=lambda req: slow(0.3, default_handler(req))(req))
    app = AppProcess(
        tmp_path / "app",
        {
            "VIDEO_API_BASE_URL": upstream.url,
            "VIDEO_API_KEY": "k",
            "WEB_WORKERS": "2",
            "SUBMIT_RATE_LIMIT": "5 per minute",
            "DAILY_SUBMIT_CAP": "8",
        },
    ).start()
    try:
        sessions = [requests.Session() for _ in range(20)]
        tokens = [hidden_value(s.get(app.base_url + "/", timeout=10).text) for s in sessions]
        results, barrier = [], threading.Barrier(20)

        def send(session, token, i):
            barrier.wait()
            results.append(
                session.post(
                    app.base_url + "/jobs",
                    data={"csrf_token": token, "prompt": f"burst {i}"},
                    timeout=30,
                    allow_redirects=False,
                ).status_code
            )

        threads = [
            threading.Thread(target=send, args=(s, t, i)) for i, (s, t) in enumerate(zip(sessions, tokens, strict=True))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [303] * 5 + [429] * 15, results
        assert len(upstream.creates) == 5
    finally:
        app.stop()
        upstream.stop()


def test_signing_in_again_under_another_name_gives_no_fresh_allowance(make_app, upstream):
    client = make_app(upstream.url, app_password="team-pass", submit_rate_limit="2 per minute").test_client()

    def sign_in(name):
        token = hidden_value(client.get("/login").get_data(as_text=True))
        signed_in = client.post("/login", data={"csrf_token": token, "name": name, "password": "team-pass"})
        assert signed_in.status_code == 303

    sign_in("ana")
    assert [submit(client, {"prompt": "p"}).status_code for _ in range(2)] == [303, 303]
    sign_in("someone-else")
    refused = submit(client, {"prompt": "p"})
    assert refused.status_code == 429 and "2 per minute" in refused.get_data(as_text=True)
    assert len(upstream.creates) == 2


def test_the_team_cap_holds_whoever_sends(make_app, upstream):
    client = make_app(
        upstream.url, auth_header="X-User", submit_rate_limit="", daily_submit_cap=0, team_daily_cap=3
    ).test_client()
    statuses = []
    for name in ("ana", "bo", "cy", "di"):
        client.environ_base["HTTP_X_USER"] = name
        statuses.append(submit(client, {"prompt": f"by {name}"}))
    assert [r.status_code for r in statuses] == [303, 303, 303, 429]
    assert "per day for this team" in statuses[-1].get_data(as_text=True)
    assert len(upstream.creates) == 3


def test_a_refused_job_gives_its_place_back(make_app, upstream):
    client = make_app(upstream.url, submit_rate_limit="1 per minute").test_client()
    upstream.handler = lambda req: Response(
        '{"error": {"message": "bad prompt"}}', 400, content_type="application/json"
    )
    assert submit(client, {"prompt": "refused"}).status_code == 400
    upstream.handler = default_handler
    assert submit(client, {"prompt": "accepted"}).status_code == 303


def test_windows_slide_by_the_guards_clock_and_the_wait_is_exact(tmp_path):
    """The guard on its own clock: a place frees exactly when the oldest one counted leaves its window."""
    guard = Allowance(str(tmp_path / "guard.sqlite3"), rules_from("2 per minute", 3), team_daily_cap=4)
    clock = [1_000_000.0]
    guard.clock = lambda: clock[0]
    guard.reserve("ana")
    clock[0] += 20
    guard.reserve("ana")
    with pytest.raises(LimitReached) as refused:
        guard.reserve("ana")
    assert refused.value.wait == 40 and not refused.value.team  # the first place frees at 60 s
    clock[0] += 40.5
    third = guard.reserve("ana")  # it did
    clock[0] += 60
    with pytest.raises(LimitReached) as capped:
        guard.reserve("ana")  # the minute is free, the day is not
    assert "3 per day" in capped.value.rule and not capped.value.team
    guard.release(third)  # the API refused that one
    guard.reserve("ana")
    guard.reserve("bo")
    with pytest.raises(LimitReached) as team:
        guard.reserve("cy")  # four today, across the team
    assert team.value.team and team.value.wait == 86279  # the first place, 120.5 s ago, frees in a day
    clock[0] += 86400
    guard.reserve("cy")  # a day later, room again
