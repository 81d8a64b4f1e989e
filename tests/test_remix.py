"""Remix: a finished job again with a new prompt, through the upstream's /remix route; where the upstream
has none, the form comes back with the same settings."""

import time

import requests
from werkzeug.wrappers import Response

from support.client import submit
from support.pages import Page, hidden_value


def finish(app, job_id, timeout=30):
    """Drive the follower until the job is completed and archived."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.extensions["studio"].follower.run_once()
        record = app.extensions["studio"].store.get(job_id)
        if record.status == "completed" and record.archive == "archived":
            return record
        time.sleep(0.1)
    raise AssertionError(f"{job_id} never finished")


def test_a_finished_job_is_remixed_and_links_back(make_app, demo_api):
    app = make_app(demo_api.base_url, video_api_key=demo_api.key, follow=False)
    client = app.test_client()
    source = (
        submit(client, {"prompt": "A lighthouse at dusk", "duration": "1", "width": "160", "height": "96", "fps": "8"})
        .headers["Location"]
        .rsplit("/", 1)[1]
    )
    finish(app, source)
    page = client.get(f"/jobs/{source}").get_data(as_text=True)
    assert Page(page).value("prompt") == "A lighthouse at dusk"  # the remix box starts from the prompt
    resp = client.post(
        f"/jobs/{source}/remix", data={"csrf_token": hidden_value(page), "prompt": "A lighthouse at dawn, in the snow"}
    )
    assert resp.status_code == 303
    remix_id = resp.headers["Location"].rsplit("/", 1)[1]
    assert remix_id != source
    upstream_job = requests.get(
        f"{demo_api.base_url}/v1/videos/{remix_id}", timeout=10, headers={"Authorization": f"Bearer {demo_api.key}"}
    ).json()
    assert upstream_job["remixed_from_video_id"] == source
    assert upstream_job["prompt"] == "A lighthouse at dawn, in the snow" and upstream_job["size"] == "160x96"
    source_job = requests.get(
        f"{demo_api.base_url}/v1/videos/{source}", timeout=10, headers={"Authorization": f"Bearer {demo_api.key}"}
    ).json()
    assert upstream_job["seed"] == source_job["seed"], "a remix of a random-seed job keeps the seed it used"
    record = finish(app, remix_id)
    assert record.params["remixed_from"] == source and record.params["prompt"].endswith("in the snow")
    card = client.get(f"/jobs/{remix_id}").get_data(as_text=True)
    assert "A remix of" in card and f"/jobs/{source}" in card


def test_an_upstream_without_remix_offers_the_settings_again(make_app, upstream, tiny_mp4):
    def handler(req):
        if req.path.endswith("/remix"):
            return Response('{"error": {"message": "Not Found"}}', 404, content_type="application/json")
        if req.path.endswith("/content"):
            return Response(tiny_mp4, mimetype="video/mp4") if "variant" not in req.args else Response("", 404)
        if req.method == "POST":
            return Response('{"id": "video_plain", "status": "queued"}', content_type="application/json")
        return Response(
            '{"id": "video_plain", "status": "completed", "progress": 100}', content_type="application/json"
        )

    upstream.handler = handler
    app = make_app(upstream.url, follow=False)
    client = app.test_client()
    submit(client, {"prompt": "A tram in the rain", "fps": "12"})
    app.extensions["studio"].follower.run_once()
    page = client.get("/jobs/video_plain").get_data(as_text=True)
    resp = client.post("/jobs/video_plain/remix", data={"csrf_token": hidden_value(page), "prompt": "A tram, sunny"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/?from=video_plain")
    form = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "This video API has no remix" in form and Page(form).value("fps") == "12"
    assert [r.job.id for r in app.extensions["studio"].store.history.search()[0]] == ["video_plain"]  # nothing added


def _finished_upstream(tiny_mp4):
    made = []

    def handler(req):
        if req.path.endswith("/content"):
            return Response(tiny_mp4, mimetype="video/mp4") if "variant" not in req.args else Response("", 404)
        if req.method == "POST":
            made.append(req.path)
            job_id = "video_source" if len(made) == 1 else f"video_remix_{len(made) - 1}"
            return Response(f'{{"id": "{job_id}", "status": "queued"}}', content_type="application/json")
        job_id = req.path.split("/")[3]
        return Response(
            f'{{"id": "{job_id}", "status": "completed", "progress": 100}}', content_type="application/json"
        )

    return handler, made


def test_the_same_remix_form_sent_twice_makes_one_remix_filed_under_who_sent_it(make_app, upstream, tiny_mp4):
    upstream.handler, made = _finished_upstream(tiny_mp4)
    app = make_app(upstream.url, follow=False, auth_header="X-User")
    ana, bob = app.test_client(), app.test_client()
    ana.environ_base["HTTP_X_USER"], bob.environ_base["HTTP_X_USER"] = "ana", "bob"
    submit(ana, {"prompt": "A kite over the dunes"})
    app.extensions["studio"].follower.run_once()
    page = bob.get("/jobs/video_source").get_data(as_text=True)  # Bob opens Ana's finished job
    form = {
        "csrf_token": hidden_value(page),
        "submission_id": hidden_value(page, "submission_id"),
        "prompt": "A kite over the dunes at night",
    }
    first = bob.post("/jobs/video_source/remix", data=form)
    again = bob.post("/jobs/video_source/remix", data=form)  # a double click
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"] and first.headers["Location"].endswith("_1")
    assert made == ["/v1/videos", "/v1/videos/video_source/remix"]  # one remix reached the API
    store = app.extensions["studio"].store
    assert store.get("video_source").submitted_by == "ana"
    assert store.get("video_remix_1").submitted_by == "bob"  # Bob's remix is Bob's
