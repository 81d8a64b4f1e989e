"""An upstream that lies, floods or points inward: every answer is untrusted input. The hostile upstream is a
real server on loopback; an "internal service" listens on another loopback address, 127.0.0.2."""

import json
import os
import time

import pytest
from werkzeug.wrappers import Response

from app.problems import problem_text
from app.upstream import Job
from support.client import TEST_KEY, submit
from support.upstreams import ScriptedUpstream, job_body, json_response


def files_under(folder):
    return sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs)


@pytest.mark.parametrize("evil_id", ["..", ".", "../../etc", "a/../../b", "x" * 500])
def test_an_unsafe_job_id_never_reaches_a_path_and_deleting_it_deletes_nothing_else(make_app, upstream, tmp_path,
                                                                                    evil_id):
    upstream.handler = lambda req: json_response(job_body(evil_id))
    app = make_app(upstream.url, follow=False)
    client = app.test_client()
    data = tmp_path / "data"
    (data / "archive" / "keep").mkdir(parents=True)
    (data / "archive" / "keep" / "0.mp4").write_bytes(b"someone else's video")
    before = files_under(data)
    resp = submit(client, {"prompt": "an evil id"})
    assert resp.status_code == 502 and "not one this app can use safely" in resp.get_data(as_text=True)
    history = client.get("/jobs").get_data(as_text=True)
    assert "May have been created" in history                  # kept, not followed by that id
    local = list(app.extensions["studio"].store.search()[0])[0]
    page = client.get(f"/jobs/{local.id}").get_data(as_text=True)
    from support.pages import hidden_value
    assert client.post(f"/jobs/{local.id}/delete", data={"csrf_token": hidden_value(page)}).status_code == 303
    after = files_under(data)
    assert set(before) <= set(after), set(before) - set(after)
    assert client.get("/readyz").status_code in (200, 503) and client.get("/jobs").status_code == 200


def test_a_status_answer_with_an_unsafe_id_is_kept_under_the_id_asked_for(make_app, upstream):
    upstream.handler = lambda req: json_response({"id": "..", "status": "in_progress", "progress": 50})
    app = make_app(upstream.url, follow=False)
    app.extensions["studio"].store.add(Job(id="video_safe", status="queued"), {"prompt": "p"})
    app.extensions["studio"].follower.run_once()
    record = app.extensions["studio"].store.get("video_safe")
    assert record.job.id == "video_safe" and record.check_error and "safely" in record.check_error


def echoing(key):
    """An upstream that echoes the key everywhere it can."""
    long_text = "x" * 280 + key + "y" * 100        # the key straddles where an excerpt is cut
    def handler(req):
        if req.path == "/v1/models":
            return json_response({"data": []})
        if req.method == "POST" and req.field("prompt") == "fail":
            return json_response({"error": {"message": f"bad key {key}", "type": key, "code": key, "param": key}},
                                 429, headers={"Retry-After": key})
        if req.method == "POST" and req.field("prompt") == "html":
            return Response(f"<html><body>{long_text}</body></html>", 502, content_type="text/html")
        if req.method == "POST" and req.field("prompt") == "escaped":
            escaped = "".join(f"\\u{ord(c):04x}" for c in key)
            return Response('{"error": {"message": "token \\"' + escaped + '\\" refused"}}', 400,
                            content_type="application/json")
        return json_response(job_body("video_echo", status="in_progress", model=key,
                                      metadata={"echo": key, "nested": [{"k": key}]}, error={"message": key}))
    return handler


def test_an_echoed_key_is_never_shown_stored_or_logged(make_app, upstream, tmp_path, caplog):
    upstream.handler = echoing(TEST_KEY)
    app = make_app(upstream.url, follow=False)
    client = app.test_client()
    seen = []
    for prompt in ("fail", "html", "escaped"):
        resp = submit(client, {"prompt": prompt})
        assert resp.status_code in (400, 429, 502)
        seen.append(resp.get_data(as_text=True) + json.dumps(dict(resp.headers)))
    assert submit(client, {"prompt": "ok"}).status_code == 303
    app.extensions["studio"].follower.run_once()
    for path in ("/jobs/video_echo", "/jobs/video_echo/status", "/jobs", "/?from=video_echo"):
        seen.append(client.get(path).get_data(as_text=True))
    everything = "\n".join(seen)
    assert "[redacted]" in everything
    for prefix in (TEST_KEY, TEST_KEY[:12], TEST_KEY[-12:]):
        assert prefix not in everything, f"{prefix!r} shown"
        assert prefix not in caplog.text, f"{prefix!r} logged"
    stored = b"".join((tmp_path / "data" / name).read_bytes() for name in os.listdir(tmp_path / "data")
                      if name.startswith("jobs.sqlite3"))
    assert TEST_KEY.encode() not in stored and TEST_KEY[:12].encode() not in stored


@pytest.fixture
def internal():
    """A service on another loopback address that the app must never be made to fetch from."""
    server = ScriptedUpstream(host="127.0.0.2",
                              handler=lambda req: Response(b"\x00\x00\x00\x18ftypmp42 internal secrets",
                                                           mimetype="video/mp4"))
    yield server
    server.stop()


def completed_with(upstream, content, **extra):
    def handler(req):
        if req.path.endswith("/content"):
            return content(req)
        return json_response(job_body("video_inward", status="completed", progress=100, **extra))
    upstream.handler = handler


def test_metadata_url_pointing_inward_is_not_fetched(make_app, upstream, internal):
    completed_with(upstream, lambda req: json_response({"error": {"message": "use metadata.url"}}, 400),
                   metadata={"url": internal.url + "/admin/dump.mp4"})
    app = make_app(upstream.url, follow=False)
    app.extensions["studio"].store.add(Job(id="video_inward", status="queued"), {"prompt": "p"})
    app.extensions["studio"].follower.run_once()       # reads the status (with metadata.url), then fetches
    record = app.extensions["studio"].store.get("video_inward")
    assert record.archive == "retrying" and "private or local network" in record.archive_error
    assert internal.requests == []


def test_a_redirect_from_content_pointing_inward_is_not_followed(make_app, upstream, internal):
    completed_with(upstream, lambda req: Response("", 302, headers={"Location": internal.url + "/secret.mp4"}))
    app = make_app(upstream.url, follow=False)
    app.extensions["studio"].store.add(Job(id="video_inward", status="completed"), {"prompt": "p"})
    app.extensions["studio"].follower.run_once()
    record = app.extensions["studio"].store.get("video_inward")
    assert record.archive == "retrying" and "private or local network" in record.archive_error
    assert internal.requests == []


def test_a_listed_private_host_may_be_fetched_from(make_app, upstream, internal):
    completed_with(upstream, lambda req: Response("", 302, headers={"Location": internal.url + "/v.mp4"}))
    app = make_app(upstream.url, follow=False, allowed_private_hosts=("127.0.0.2",))
    app.extensions["studio"].store.add(Job(id="video_inward", status="completed"), {"prompt": "p"})
    app.extensions["studio"].follower.run_once()
    assert app.extensions["studio"].store.get("video_inward").archive == "archived"
    fetched = [r for r in internal.requests if r.path == "/v.mp4"]
    assert fetched and all(r.headers.get("Authorization") is None for r in fetched)   # the key stays home


def test_a_huge_json_answer_is_refused_unread(make_app, upstream):
    def flood(req):
        def body():
            yield b'{"id": "video_flood", "status": "in_progress", "pad": "'
            for _ in range(50):
                yield b"x" * (100 * 1024)
            yield b'"}'
        return Response(body(), content_type="application/json")
    upstream.handler = flood
    app = make_app(upstream.url, follow=False)
    app.extensions["studio"].store.add(Job(id="video_flood", status="queued"), {"prompt": "p"})
    app.extensions["studio"].follower.run_once()
    record = app.extensions["studio"].store.get("video_flood")
    assert record.check_error and "more than 2 MB" in problem_text(record.check_error)


def test_a_video_larger_than_the_archive_may_hold_is_stopped(make_app, upstream, tmp_path):
    sent = {"bytes": 0}

    def big(req):
        if req.args.get("variant") == "thumbnail":
            return Response("", 404)

        def body():
            for _ in range(300):                       # 30 MB, announced by no Content-Length
                sent["bytes"] += 100 * 1024
                yield b"\x00" * (100 * 1024)
        return Response(body(), mimetype="video/mp4")
    completed_with(upstream, big)
    app = make_app(upstream.url, follow=False, archive_max_mb=1)
    app.extensions["studio"].store.add(Job(id="video_inward", status="completed"), {"prompt": "p"})
    app.extensions["studio"].follower.run_once()
    record = app.extensions["studio"].store.get("video_inward")
    assert record.archive == "retrying" and "1.0 MB this app keeps" in problem_text(record.archive_error)
    assert sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(tmp_path / "data" / "archive")
               for f in fs) <= 1.2 * 1048576


def test_a_dripping_video_fetch_ends_at_its_deadline(make_app, upstream):
    def drip(req):
        if req.args.get("variant") == "thumbnail":
            return Response("", 404)

        def body():
            for _ in range(100):
                time.sleep(0.1)
                yield b"\x00" * 10
        return Response(body(), mimetype="video/mp4")
    completed_with(upstream, drip)
    app = make_app(upstream.url, follow=False, archive_fetch_seconds=1)
    app.extensions["studio"].store.add(Job(id="video_inward", status="completed"), {"prompt": "p"})
    app.extensions["studio"].follower.run_once()
    record = app.extensions["studio"].store.get("video_inward")
    # Left alone, the drip would end after 10 s with a complete (tiny) file and be archived.
    assert record.archive == "retrying" and "ARCHIVE_FETCH_SECONDS" in record.archive_error
