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
    source = submit(client, {"prompt": "A lighthouse at dusk", "duration": "1", "width": "160", "height": "96",
                             "fps": "8"}).headers["Location"].rsplit("/", 1)[1]
    finish(app, source)
    page = client.get(f"/jobs/{source}").get_data(as_text=True)
    assert Page(page).value("prompt") == "A lighthouse at dusk"          # the remix box starts from the prompt
    resp = client.post(f"/jobs/{source}/remix", data={"csrf_token": hidden_value(page),
                                                        "prompt": "A lighthouse at dawn, in the snow"})
    assert resp.status_code == 303
    remix_id = resp.headers["Location"].rsplit("/", 1)[1]
    assert remix_id != source
    upstream_job = requests.get(f"{demo_api.base_url}/v1/videos/{remix_id}", timeout=10,
                                headers={"Authorization": f"Bearer {demo_api.key}"}).json()
    assert upstream_job["remixed_from_video_id"] == source
    assert upstream_job["prompt"] == "A lighthouse at dawn, in the snow" and upstream_job["size"] == "160x96"
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
        return Response('{"id": "video_plain", "status": "completed", "progress": 100}',
                        content_type="application/json")
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
    assert [r.job.id for r in app.extensions["studio"].store.search()[0]] == ["video_plain"]   # nothing added
