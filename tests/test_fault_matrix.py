"""Every way the upstream can fail, for create, retrieve and content: a readable message, the values kept,
never a 500, nothing of the key."""

import html
import json

import pytest
from werkzeug.wrappers import Response

from app.upstream import Job
from support.client import TEST_KEY, submit
from support.faults import BlackHole, RawServer
from support.servers import free_port
from support.upstreams import ScriptedUpstream, json_response, slow


def http(status, body, content_type="application/json", headers=None):
    text = body if isinstance(body, str) else json.dumps(body)
    return lambda req: Response(text, status, headers=headers or {}, content_type=content_type)


HTML_500 = "<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head><body>oops</body></html>"
FAULTS = {
    "connection-refused": ("refused", None, "refused the connection"),
    "connect-timeout": ("blackhole", None, "did not accept a connection within 0.5 s"),
    "read-timeout": ("http", slow(3, Response("{}", content_type="application/json")), "did not answer within 0.5 s"),
    "401": (
        "http",
        http(401, {"error": {"message": "invalid token", "type": "new_api_error"}}),
        "refused the stored key",
    ),
    "403": ("http", http(403, {"error": {"message": "model not allowed for this group"}}), "does not allow this key"),
    "404": ("http", http(404, {"error": {"message": "no such video", "code": "not_found"}}), "no such video"),
    "400-spec": (
        "http",
        http(
            400,
            {
                "error": {
                    "message": "prompt too long",
                    "type": "invalid_request_error",
                    "param": "prompt",
                    "code": "too_long",
                }
            },
        ),
        "prompt too long",
    ),
    "400-relay": (
        "http",
        http(400, {"code": "task_not_exist", "message": "task_not_exist", "data": None}),
        "task_not_exist",
    ),
    "413": (
        "http",
        http(413, "<html><head><title>413 Request Entity Too Large</title></head></html>", "text/html"),
        "413 Request Entity Too Large",
    ),
    "429": (
        "http",
        http(429, {"error": {"message": "当前负载已饱和，请稍后再试"}}, headers={"Retry-After": "12"}),
        "busy or the quota is used up",
    ),
    "500-html": ("http", http(500, HTML_500, "text/html"), "HTML page (“500 Internal Server Error”)"),
    "502-text": ("http", http(502, "bad gateway", "text/plain"), "HTTP 502: bad gateway"),
    "503": ("http", http(503, "", "text/plain"), "HTTP 503 with an empty body"),
    "200-not-json": ("http", http(200, "<html><body>Welcome</body></html>", "text/html"), "instead of JSON"),
    "200-without-id": ("http", http(200, {"object": "video", "status": "queued"}), "no job id"),
    "truncated-body": ("truncate", None, "broke off in the middle"),
    "dropped-connection": ("drop", None, "closed the connection without answering"),
}
MAY_HAVE_CREATED = {"read-timeout", "200-not-json", "200-without-id", "truncated-body", "dropped-connection"}
# For content, a 200 is judged by whether it is a video, not JSON.
CONTENT_EXPECT = {
    "200-not-json": "text/html instead of a video",
    "200-without-id": "application/json instead of a video",
    "truncated-body": "application/json instead of a video",
}


@pytest.fixture(params=list(FAULTS), ids=list(FAULTS))
def faulty(request):
    kind, handler, expected = FAULTS[request.param]
    server = None
    if kind == "refused":
        url = f"http://127.0.0.1:{free_port()}"
    elif kind == "blackhole":
        server = BlackHole()
        url = server.url
    elif kind in ("truncate", "drop"):
        server = RawServer(kind)
        url = server.url
    else:
        server = ScriptedUpstream(
            handler=lambda req, h=handler: json_response({"data": []}) if req.path == "/v1/models" else h(req)
        )
        url = server.url
    yield request.param, url, expected
    if server:
        server.stop()


def build(make_app, url, **overrides):
    return make_app(url, video_api_timeout=0.5, video_api_connect_timeout=0.5, **overrides)


def test_create(make_app, faulty):
    name, url, expected = faulty
    client = build(make_app, url).test_client()
    resp = submit(client, {"prompt": "a calm lake", "fps": "24", "seed": "7", "metadata": '{"mode": "std"}'})
    page = html.unescape(resp.get_data(as_text=True))
    assert resp.status_code in (400, 413, 429, 502, 504), resp.status_code
    if name in MAY_HAVE_CREATED:  # the request reached the API and no usable answer came back
        assert "No usable answer came back from the video API" in page and "may have been created" in page
    else:
        assert "The video API could not create the job" in page and "Nothing was created" in page
    assert expected in page
    assert "a calm lake</textarea>" in page and 'value="24"' in page and 'value="7"' in page
    assert TEST_KEY not in page


def test_retrieve(make_app, faulty):
    name, url, expected = faulty
    app = build(make_app, url, follow=False)
    app.extensions["studio"].store.add(
        Job(id="video_abc", status="in_progress", progress=30), {"prompt": "a calm lake"}
    )
    app.extensions["studio"].follower.run_once()  # the follower's status read meets the fault
    client = app.test_client()
    page = client.get("/jobs/video_abc")
    text = html.unescape(page.get_data(as_text=True))
    assert page.status_code == 200
    assert "The video API is not answering status checks" in text and expected in text
    assert "a calm lake" in text and TEST_KEY not in text
    state = client.get("/jobs/video_abc/status")
    assert state.status_code == 200 and state.get_json()["status"] == "in_progress"
    assert state.get_json()["progress"] == 30 and expected in html.unescape(state.get_json()["card_html"])
    assert state.get_json()["check_error"] and state.get_json()["finished"] is False  # the page keeps watching


def test_content(make_app, faulty):
    name, url, expected = faulty
    expected = CONTENT_EXPECT.get(name, expected)
    app = build(make_app, url, follow=False)
    app.extensions["studio"].store.add(
        Job(id="video_done", status="completed", progress=100), {"prompt": "a calm lake"}
    )
    app.extensions["studio"].follower.run_once()  # the follower's fetch meets the fault
    client = app.test_client()
    state = client.get("/jobs/video_done/status")
    assert state.status_code == 200
    data = state.get_json()
    # Not given up: the follower tries again by itself, and the page keeps following.
    assert data["archive"] == "retrying" and data["finished"] is False
    assert "could not be fetched yet" in data["card_html"] and expected in html.unescape(data["card_html"])
    assert "Fetch again" in data["card_html"]
    page = html.unescape(client.get("/jobs/video_done").get_data(as_text=True))
    assert expected in page and TEST_KEY not in page
    assert client.get("/jobs/video_done/video/0.mp4").status_code == 404
