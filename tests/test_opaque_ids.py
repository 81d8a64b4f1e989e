"""Upstream ids are opaque: jobs whose ids are LiteLLM's (base64 ending in "=="), new-api's (task_...), 1,000
characters long, or full of "=", "+", "/", "%", ":", "?", spaces and non-ASCII are created, followed,
archived, played, remixed and deleted through the studio's own pages, every upstream path carrying the id
percent-encoded as one segment."""

import base64
from urllib.parse import quote

import pytest
from werkzeug.wrappers import Response

from support.client import csrf_token, submit
from support.pages import Page, hidden_value
from support.upstreams import job_body, json_response
from support.waiting import wait_for

LITELLM = (
    "video_"
    + base64.b64encode(
        b"litellm:custom_llm_provider:openai;model_id:kling-v1;video_id:"
        b"video_0123456789abcdef01234567;deployment_id:" + b"5e4d" * 16 + b"x"
    ).decode()
)
IDS = {
    "litellm": LITELLM,
    "new-api": "task_Zk3q9WcT1bYxN0aL7pQe2RsVu8HjMdFo",
    "1000 characters": "v" + "0123456789" * 99 + "abcdefghi",
    "punctuation": "a=b+c/d%2F:e?f#g h",
    "non-ASCII": "视频/任务=1+é:ü",
}


def upstream_of(source_id, remix_id, tiny_mp4):
    def handler(req):
        raw = req.raw_path
        if req.path == "/v1/models":
            return json_response({"data": [{"id": "kling-v1"}]})
        if req.method == "POST" and raw == "/v1/videos":
            return json_response(job_body(source_id))
        if req.method == "POST" and raw == f"/v1/videos/{quote(source_id, safe='')}/remix":
            return json_response(job_body(remix_id, remixed_from_video_id=source_id))
        for job_id in (source_id, remix_id):
            base = f"/v1/videos/{quote(job_id, safe='')}"
            if raw == base + "/content":
                return Response(tiny_mp4, mimetype="video/mp4") if not req.args.get("variant") else Response("", 404)
            if raw == base and req.method == "GET":
                return json_response(job_body(job_id, status="completed", progress=100))
            if raw == base and req.method == "DELETE":
                return json_response({"id": job_id, "object": "video.deleted", "deleted": True})
        return json_response({"error": {"message": f"no route {raw}", "type": "invalid_request_error"}}, 404)

    return handler


def archived(app, client, url):
    def done():
        app.extensions["studio"].follower.run_once()
        state = client.get(url + "/status").get_json()
        return state if state["archive"] == "archived" else None

    return wait_for(done, timeout=60, what="the job being archived")


@pytest.mark.parametrize("job_id", IDS.values(), ids=IDS.keys())
def test_a_job_of_any_printable_id_goes_all_the_way(make_app, upstream, tiny_mp4, job_id):
    remix_id = job_id + "-remix=="
    upstream.handler = upstream_of(job_id, remix_id, tiny_mp4)
    app = make_app(upstream.url, follow=False, status_cache_seconds=0)
    client = app.test_client()
    created = submit(client, {"prompt": "a boat"})
    assert created.status_code == 303
    url = created.headers["Location"]
    state = archived(app, client, url)
    assert state["id"] == job_id
    page = Page(client.get(url).get_data(as_text=True))
    video = client.get(page.find("source", type="video/mp4")[0].attrs["src"])
    assert video.status_code == 200 and video.data == tiny_mp4
    remix_action = page.find("form", class_="remix")[0].attrs["action"]
    remixed = client.post(remix_action, data={"csrf_token": csrf_token(client), "prompt": "a glass boat"})
    assert remixed.status_code == 303
    archived(app, client, remixed.headers["Location"])
    assert app.extensions["studio"].store.get(remix_id).params["remixed_from"] == job_id
    remix_page = client.get(remixed.headers["Location"]).get_data(as_text=True)
    back = [a.attrs["href"] for a in Page(remix_page).find("a") if a.attrs.get("href") == url]
    assert back, "the remix links back to its source"
    html = client.get(url).get_data(as_text=True)
    assert client.post(url + "/delete", data={"csrf_token": hidden_value(html)}).status_code == 303
    assert client.get(url).status_code == 404 and app.extensions["studio"].store.get(job_id) is None
    assert any(r.method == "DELETE" and r.raw_path == f"/v1/videos/{quote(job_id, safe='')}" for r in upstream.requests)


def test_a_line_break_in_a_url_cannot_forge_a_log_line(make_app, upstream, caplog):
    client = make_app(upstream.url, follow=False).test_client()
    client.get("/jobs/x%0A2026-12-01 INFO app.request: GET / -> 200 forged")
    lines = [r.getMessage() for r in caplog.records if r.name == "app.request"]
    assert lines and all("\n" not in line for line in lines)
    assert any("x\\n2026-12-01" in line for line in lines)
