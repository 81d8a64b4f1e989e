"""Upstream text is data: whatever it looks like, it is shown as sent (cut to a few kB), never read as one of
the app's own messages, and never shows the key, in any case, escape or piece."""

import json
import logging
import sqlite3
from urllib.parse import quote

from markupsafe import escape
from werkzeug.wrappers import Response

from app.core.i18n import problem_text
from app.jobs.store import JobStore
from app.upstream import Job
from support.client import TEST_KEY, submit
from support.upstreams import job_body, json_response


def bomb(depth=6, width=40):
    """100-odd bytes that, read as the app's message, expand to width**depth characters."""
    record = {"m": "boom", "a": {}}
    for _ in range(depth):
        record = {"m": "%(x)s" * width, "a": {"x": record}}
    return json.dumps(record)


def failing_status(upstream, message):
    def handler(req):
        if req.method == "GET" and req.path.startswith("/v1/videos/"):
            return json_response({"error": {"message": message}}, 503)
        return json_response(job_body())

    upstream.handler = handler


def test_an_upstream_error_shaped_like_our_message_is_shown_as_sent_not_expanded(make_app, upstream):
    failing_status(upstream, bomb())
    app = make_app(upstream.url, follow=False)
    app.extensions["studio"].store.add(Job(id="video_1", status="queued"), {"prompt": "p"})
    app.extensions["studio"].follower.run_once()
    client = app.test_client()
    page = client.get("/jobs/video_1").get_data(as_text=True)
    status = client.get("/jobs/video_1/status").get_data(as_text=True)
    assert len(page) < 200_000 and len(status) < 50_000
    assert str(escape('{"m": "%(x)s%(x)s')) in page  # the text itself, as it came
    assert json.loads(status)["check_error"].startswith('{"m": "%(x)s')


def test_an_upstream_error_cannot_forge_one_of_our_sentences(make_app, upstream):
    forged = json.dumps(
        {"m": "The video API refused the stored key (HTTP 401). %(message)s", "a": {"message": "Pay at evil.example"}}
    )
    failing_status(upstream, forged)
    app = make_app(upstream.url, follow=False)
    app.extensions["studio"].store.add(Job(id="video_1", status="queued"), {"prompt": "p"})
    app.extensions["studio"].follower.run_once()
    record = app.extensions["studio"].store.get("video_1")
    assert problem_text(record.check_error) == forged
    client = app.test_client()
    client.set_cookie("lang", "zh")
    page = client.get("/jobs/video_1").get_data(as_text=True)
    # The words appear only inside the raw text, quotes and all, never as a sentence of ours.
    assert page.count("Pay at evil.example") == page.count(str(escape('"Pay at evil.example"'))) > 0


def test_a_create_refused_with_a_bomb_shows_a_small_form_page(make_app, upstream):
    upstream.handler = lambda req: json_response({"error": {"message": bomb(), "param": "prompt"}}, 400)
    client = make_app(upstream.url, follow=False).test_client()
    resp = submit(client, {"prompt": "a cat"})
    assert resp.status_code in (400, 502) and len(resp.get_data()) < 300_000


def test_our_own_messages_still_read_in_the_readers_language(make_app, upstream):
    """The same path with a message of ours (a refused address) is translated as before."""

    def handler(req):
        if req.path.endswith("/content"):
            return Response("", 302, headers={"Location": "http://127.0.0.2:9/v.mp4"})
        return json_response(job_body("video_1", status="completed", progress=100))

    upstream.handler = handler
    app = make_app(upstream.url, follow=False)
    app.extensions["studio"].store.add(Job(id="video_1", status="queued"), {"prompt": "p"})
    app.extensions["studio"].follower.run_once()
    client = app.test_client()
    client.set_cookie("lang", "zh")
    page = client.get("/jobs/video_1").get_data(as_text=True)
    assert "视频" in page and "The video API did not hand over the video" not in page


def test_messages_stored_before_they_were_typed_are_read_safely(make_app, upstream, tmp_path):
    """An old database: our own old records stay ours, an upstream's look-alike becomes text."""
    app = make_app(upstream.url, follow=False)
    store = app.extensions["studio"].store
    store.add(Job(id="video_ours", status="queued"), {"prompt": "p"})
    store.add(Job(id="video_theirs", status="queued"), {"prompt": "p"})
    ours = json.dumps({"m": "The video API answered HTTP %(status)s with an empty body.", "a": {"status": 502}})
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE jobs SET check_error = ? WHERE id = 'video_ours'", (ours,))
        db.execute("UPDATE jobs SET check_error = ? WHERE id = 'video_theirs'", (bomb(),))
        db.execute("PRAGMA user_version = 0")
    reopened = JobStore(store.path)  # what the next start-up of the app opens
    assert str(reopened.get("video_ours").check_error) == "The video API answered HTTP 502 with an empty body."
    assert reopened.get("video_theirs").check_error == bomb()


def echo_error(body, status=400, content_type="application/json"):
    def handler(req):
        if req.method == "POST":
            return Response(body, status, content_type=content_type)
        return json_response({"data": []})

    return handler


def no_piece_of_the_key(text):
    for start in range(len(TEST_KEY) - 11):
        piece = TEST_KEY[start : start + 12]
        assert piece.lower() not in text.lower(), f"{piece!r} shown"


def test_the_key_as_html_entities_where_the_excerpt_is_cut_is_not_shown(make_app, upstream, caplog):
    entities = "".join(f"&#{ord(c)};" for c in TEST_KEY)
    for pad in (280, 290, 295):  # the key straddles the 300th character of the excerpt
        upstream.handler = echo_error(f"<html><body>{'x' * pad} {entities} tail</body></html>", 502, "text/html")
        client = make_app(upstream.url, follow=False).test_client()
        page = submit(client, {"prompt": "a cat"}).get_data(as_text=True)
        no_piece_of_the_key(page)
    no_piece_of_the_key(caplog.text)


def test_the_key_url_escaped_or_in_another_case_is_not_shown(make_app, upstream, caplog):
    for spelled in (
        quote(TEST_KEY, safe=""),
        "".join(f"%{ord(c):02X}" for c in TEST_KEY),
        TEST_KEY.upper(),
        TEST_KEY.lower(),
        TEST_KEY[:20],
    ):
        upstream.handler = echo_error(json.dumps({"error": {"message": f"key {spelled} is not valid"}}), 401)
        client = make_app(upstream.url, follow=False).test_client()
        page = submit(client, {"prompt": "a cat"}).get_data(as_text=True)
        assert "[redacted]" in page
        no_piece_of_the_key(page)
    no_piece_of_the_key(caplog.text)


def test_the_key_in_a_redirects_host_name_is_neither_shown_nor_logged(make_app, upstream, caplog, monkeypatch):
    """requests and urllib3 lower-case a host name: the key comes back in lower case."""
    caplog.set_level(logging.INFO)
    import socket as real_socket

    def resolve(host, *args, **kwargs):
        if "sk-" in host.lower():
            raise real_socket.gaierror(-2, "Name or service not known")
        return real_getaddrinfo(host, *args, **kwargs)

    real_getaddrinfo = real_socket.getaddrinfo
    monkeypatch.setattr("app.upstream.addresses.socket.getaddrinfo", resolve)
    for host in (TEST_KEY.upper(), TEST_KEY):

        def handler(req, host=host):
            if req.path.endswith("/content"):
                return Response("", 302, headers={"Location": f"http://{host}.videos.example/v.mp4"})
            return json_response(job_body("video_1", status="completed", progress=100))

        upstream.handler = handler
        app = make_app(upstream.url, follow=False)
        app.extensions["studio"].store.add(Job(id="video_1", status="queued"), {"prompt": "p"})
        app.extensions["studio"].follower.run_once()
        assert app.extensions["studio"].store.get("video_1").archive == "retrying"
        page = app.test_client().get("/jobs/video_1").get_data(as_text=True)
        assert "[redacted]" in page
        no_piece_of_the_key(page)
    no_piece_of_the_key(caplog.text)
