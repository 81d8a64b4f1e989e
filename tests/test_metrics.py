"""/metrics in the Prometheus text format: who may read it, and counters that move during a real run under
gunicorn (several workers and the follower process counting into one set of files)."""

import re

import requests

from support.client import submit
from support.servers import demo_stack
from support.upstreams import job_body, json_response
from support.waiting import wait_for


def value(text, name, labels=""):
    """A sample's value in an exposition, 0 when it is not there yet."""
    found = re.search(rf"^{re.escape(name)}{re.escape(labels)} ([0-9.e+-]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def test_metrics_are_for_this_machine_or_the_token_only(make_app, upstream):
    upstream.handler = lambda req: json_response(job_body(f"video_m{len(upstream.creates)}"))
    app = make_app(upstream.url, follow=False, metrics_token="s3cret-scrape", app_password="pw")
    local = app.test_client()
    before = value(local.get("/metrics").get_data(as_text=True), "studio_jobs_created_total")
    member = app.test_client()
    from support.client import csrf_token

    member.post("/login", data={"csrf_token": csrf_token(member, "/login"), "name": "ana", "password": "pw"})
    assert submit(member, {"prompt": "counted"}).status_code == 303
    resp = local.get("/metrics")  # loopback, signed out: allowed
    assert resp.status_code == 200 and resp.content_type.startswith("text/plain; version=0.0.4")
    assert value(resp.get_data(as_text=True), "studio_jobs_created_total") == before + 1
    assert "studio_archive_bytes" in resp.get_data(as_text=True)
    outsider = app.test_client()
    outsider.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    assert outsider.get("/metrics").status_code == 404
    assert outsider.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    assert outsider.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"}).status_code == 200
    # through a proxy on this machine (nginx in front, TRUSTED_PROXIES unset): not this machine's own
    assert local.get("/metrics", headers={"X-Forwarded-For": "198.51.100.7"}).status_code == 404


def test_a_scrape_during_a_run_under_gunicorn_sees_the_counters_move(tmp_path):
    with demo_stack(tmp_path, {"WEB_WORKERS": "2"}) as app:
        scrape = lambda: requests.get(app.base_url + "/metrics", timeout=10).text  # noqa: E731
        first = scrape()
        session = requests.Session()
        from support.pages import hidden_value

        for n in range(3):
            form = session.get(app.base_url + "/", timeout=10).text
            sent = session.post(
                app.base_url + "/jobs",
                data={
                    "csrf_token": hidden_value(form),
                    "prompt": f"metrics {n}",
                    "model": "demo-v1",
                    "duration": "1",
                    "width": "160",
                    "height": "96",
                    "fps": "8",
                },
                timeout=30,
                allow_redirects=False,
            )
            assert sent.status_code == 303
        wait_for(
            lambda: value(scrape(), "studio_archive_files") >= 3, timeout=120, what="three archived videos", every=1
        )
        last = scrape()
        assert value(last, "studio_jobs_created_total") - value(first, "studio_jobs_created_total") == 3
        assert value(last, "studio_status_reads_total") > value(first, "studio_status_reads_total")
        assert value(last, "studio_jobs_finished_total", '{status="completed"}') >= 3
        assert value(last, "studio_follower_lag_seconds_count") >= 3
        assert value(last, "studio_archive_bytes") > 0


def test_refusals_and_upstream_errors_are_counted_by_kind(make_app, upstream):
    upstream.handler = lambda req: (
        json_response({"error": {"message": "overloaded", "type": "server_error"}}, 500)
        if req.method == "POST"
        else json_response({"data": [{"id": "demo-v1"}]})
    )
    app = make_app(upstream.url, follow=False, team_daily_budget=1.0)
    client = app.test_client()
    before = client.get("/metrics").get_data(as_text=True)
    demo = {"model": "demo-v1", "duration": "1", "width": "640", "height": "360"}  # CN¥0.50: within the budget
    assert submit(client, {"prompt": "refused upstream", **demo}).status_code != 303
    assert submit(client, {"prompt": "no price", "model": "some-relay-model"}).status_code == 429
    after = client.get("/metrics").get_data(as_text=True)
    http = '{kind="http"}'
    assert value(after, "studio_upstream_errors_total", http) == value(before, "studio_upstream_errors_total", http) + 1
    budget = '{limit="budget"}'
    assert (
        value(after, "studio_guard_refusals_total", budget) == value(before, "studio_guard_refusals_total", budget) + 1
    )
