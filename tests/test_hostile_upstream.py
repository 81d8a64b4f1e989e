"""An upstream that lies, floods or points inward: every answer is untrusted input. The hostile upstream is a
real server on loopback; an "internal service" listens on another loopback address, 127.0.0.2."""

import json
import os
import time
from urllib.parse import quote

import pytest
from werkzeug.wrappers import Response

from app.core.i18n import problem_text
from app.upstream import Job
from support.client import TEST_KEY, submit
from support.pages import hidden_value
from support.upstreams import ScriptedUpstream, job_body, json_response


def files_under(folder):
    return sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs)


def beside_someone_elses_video(make_app, upstream, tmp_path, job_id, **job):
    """(app, client, data folder, files in it): an upstream answering jobs of this id, an archive that
    already holds another job's video."""
    upstream.handler = lambda req: json_response(job_body(job_id, **job))
    app = make_app(upstream.url, follow=False)
    data = tmp_path / "data"
    (data / "archive" / "keep").mkdir(parents=True)
    (data / "archive" / "keep" / "0.mp4").write_bytes(b"someone else's video")
    return app, app.test_client(), data, files_under(data)


@pytest.mark.parametrize(
    "odd_id", ["../../etc", "a/../../b", "x" * 1024, "%2e%2e%2f", "~home", "a?b#c", "名字 with space"]
)
def test_a_path_like_id_is_kept_as_sent_sent_escaped_and_never_names_a_file(make_app, upstream, tmp_path, odd_id):
    app, client, data, before = beside_someone_elses_video(
        make_app, upstream, tmp_path, odd_id, status="in_progress", progress=40
    )
    resp = submit(client, {"prompt": "an odd id"})
    assert resp.status_code == 303
    page = client.get(resp.headers["Location"])
    assert page.status_code == 200 and "an odd id" in page.get_data(as_text=True)
    app.extensions["studio"].follower.run_once()
    assert app.extensions["studio"].store.get(odd_id).job.progress == 40
    reads = [r for r in upstream.requests if r.method == "GET" and r.path.startswith("/v1/videos/")]
    assert reads and reads[-1].raw_path == "/v1/videos/" + quote(odd_id, safe="")
    token = hidden_value(page.get_data(as_text=True))
    deleted = client.post(resp.headers["Location"] + "/delete", data={"csrf_token": token})
    assert deleted.status_code == 303 and app.extensions["studio"].store.get(odd_id) is None
    assert set(before) <= set(files_under(data))


@pytest.mark.parametrize("evil_id", ["..", ".", "x" * 1025, "line\nbreak", "bell\x07", "nul\x00"])
def test_an_id_no_address_can_carry_is_refused_and_deleting_it_deletes_nothing_else(
    make_app, upstream, tmp_path, evil_id
):
    app, client, data, before = beside_someone_elses_video(make_app, upstream, tmp_path, evil_id)
    resp = submit(client, {"prompt": "an evil id"})
    assert resp.status_code == 502 and "not one any address can carry" in resp.get_data(as_text=True)
    history = client.get("/jobs").get_data(as_text=True)
    assert "May have been created" in history  # kept, not followed by that id
    local = list(app.extensions["studio"].store.history.search()[0])[0]
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
    assert record.job.id == "video_safe" and record.check_error and "can carry" in record.check_error


def echoing(key):
    """An upstream that echoes the key everywhere it can."""
    long_text = "x" * 280 + key + "y" * 100  # the key straddles where an excerpt is cut

    def handler(req):
        if req.path == "/v1/models":
            return json_response({"data": []})
        if req.method == "POST" and req.field("prompt") == "fail":
            return json_response(
                {"error": {"message": f"bad key {key}", "type": key, "code": key, "param": key}},
                429,
                headers={"Retry-After": key},
            )
        if req.method == "POST" and req.field("prompt") == "html":
            return Response(f"<html><body>{long_text}</body></html>", 502, content_type="text/html")
        if req.method == "POST" and req.field("prompt") == "escaped":
            escaped = "".join(f"\\u{ord(c):04x}" for c in key)
            return Response(
                '{"error": {"message": "token \\"' + escaped + '\\" refused"}}', 400, content_type="application/json"
            )
        return json_response(
            job_body(
                "video_echo",
                status="in_progress",
                model=key,
                metadata={"echo": key, "nested": [{"k": key}]},
                error={"message": key},
            )
        )

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
    stored = b"".join(
        (tmp_path / "data" / name).read_bytes()
        for name in os.listdir(tmp_path / "data")
        if name.startswith("jobs.sqlite3")
    )
    assert TEST_KEY.encode() not in stored and TEST_KEY[:12].encode() not in stored


@pytest.fixture
def internal():
    """A service on another loopback address that the app must never be made to fetch from."""
    server = ScriptedUpstream(
        host="127.0.0.2",
        handler=lambda req: Response(b"\x00\x00\x00\x18ftypmp42 internal secrets", mimetype="video/mp4"),
    )
    yield server
    server.stop()


def completed_with(upstream, content, **extra):
    def handler(req):
        if req.path.endswith("/content"):
            return content(req)
        return json_response(job_body("video_inward", status="completed", progress=100, **extra))

    upstream.handler = handler


def test_metadata_url_pointing_inward_is_not_fetched(make_app, upstream, internal):
    completed_with(
        upstream,
        lambda req: json_response({"error": {"message": "use metadata.url"}}, 400),
        metadata={"url": internal.url + "/admin/dump.mp4"},
    )
    app = make_app(upstream.url, follow=False)
    app.extensions["studio"].store.add(Job(id="video_inward", status="queued"), {"prompt": "p"})
    app.extensions["studio"].follower.run_once()  # reads the status (with metadata.url), then fetches
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
    assert fetched and all(r.headers.get("Authorization") is None for r in fetched)  # the key stays home


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
            for _ in range(300):  # 30 MB, announced by no Content-Length
                sent["bytes"] += 100 * 1024
                yield b"\x00" * (100 * 1024)

        return Response(body(), mimetype="video/mp4")

    completed_with(upstream, big)
    app = make_app(upstream.url, follow=False, archive_max_mb=1)
    app.extensions["studio"].store.add(Job(id="video_inward", status="completed"), {"prompt": "p"})
    app.extensions["studio"].follower.run_once()
    record = app.extensions["studio"].store.get("video_inward")
    assert record.archive == "retrying" and "1.0 MB this app keeps" in problem_text(record.archive_error)
    assert (
        sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(tmp_path / "data" / "archive") for f in fs)
        <= 1.2 * 1048576
    )


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


def test_a_video_trickling_a_byte_at_a_time_under_its_content_length_ends_at_the_deadline(make_app, upstream):
    """The attack: Content-Length given, one byte every 0.5 s; reads of 256 KiB blocks never came back in time."""

    def trickle(req):
        if req.args.get("variant") == "thumbnail":
            return Response("", 404)

        def body():
            for _ in range(60):
                time.sleep(0.3)
                yield b"\x00"

        return Response(body(), mimetype="video/mp4", headers={"Content-Length": "60"}, direct_passthrough=True)

    completed_with(upstream, trickle)
    app = make_app(upstream.url, follow=False, archive_fetch_seconds=2)
    app.extensions["studio"].store.add(Job(id="video_inward", status="queued"), {"prompt": "p"})
    app.extensions["studio"].follower.run_once()
    record = app.extensions["studio"].store.get("video_inward")
    # Left alone, the trickle ends after 18 s with all 60 bytes, and the video would be archived.
    assert record.archive == "retrying" and "ARCHIVE_FETCH_SECONDS" in record.archive_error


def test_a_video_that_stops_sending_ends_at_the_fetch_deadline_not_the_read_timeout(make_app, upstream):
    def stall(req):
        if req.args.get("variant") == "thumbnail":
            return Response("", 404)

        def body():
            yield b"\x00"
            time.sleep(20)
            yield b"\x00"

        return Response(body(), mimetype="video/mp4", headers={"Content-Length": "2"}, direct_passthrough=True)

    completed_with(upstream, stall)
    # The read timeout (10 s) is longer than the fetch's whole deadline (2 s): the socket is told what is left.
    app = make_app(upstream.url, follow=False, archive_fetch_seconds=2, video_api_timeout=10)
    app.extensions["studio"].store.add(Job(id="video_inward", status="queued"), {"prompt": "p"})
    app.extensions["studio"].follower.run_once()
    record = app.extensions["studio"].store.get("video_inward")
    assert record.archive == "retrying" and "ARCHIVE_FETCH_SECONDS" in record.archive_error


def encoded_video(path, width, height, frames=1, fmt="mp4"):
    """A real H.264 video of blank frames (small on disk whatever its frame size)."""
    import av

    container = av.open(str(path), "w", format=fmt)
    stream = container.add_stream("libx264", rate=24)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    for _ in range(frames):
        frame = av.VideoFrame(width, height, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path.read_bytes()


def serving_video(upstream, video, thumbnail=None, thumbnail_type="image/png"):
    def content(req):
        if req.args.get("variant") == "thumbnail":
            return Response(thumbnail, mimetype=thumbnail_type) if thumbnail else Response("", 404)
        return Response(video, mimetype="video/mp4")

    completed_with(upstream, content)


def archived(make_app, upstream):
    app = make_app(upstream.url, follow=False)
    app.extensions["studio"].store.add(Job(id="video_inward", status="queued"), {"prompt": "p"})
    app.extensions["studio"].follower.run_once()
    return app, app.extensions["studio"].store.get("video_inward")


@pytest.mark.parametrize("width, height", [(8192, 8192), (4100, 4100)])
def test_a_video_with_huge_frames_is_kept_without_decoding_a_poster(make_app, upstream, tmp_path, width, height):
    """The attack: an 8192x8192 one-frame MP4 of 198 KB took a worker to 1.09 GB making its poster."""
    serving_video(upstream, encoded_video(tmp_path / "huge.mp4", width, height))
    app, record = archived(make_app, upstream)
    assert record.archive == "archived" and record.files[0]["poster"] is None
    assert app.test_client().get("/jobs/video_inward/video/0.mp4").status_code == 200


def test_a_raw_h264_stream_without_timestamps_still_gets_a_poster_from_its_first_frames(make_app, upstream, tmp_path):
    """The attack's variant: a raw H.264 file (no container, no timestamps) used to be decoded to its end."""
    serving_video(upstream, encoded_video(tmp_path / "raw.h264", 320, 240, frames=600, fmt="h264"))
    _app, record = archived(make_app, upstream)
    assert record.archive == "archived" and record.files[0]["poster"]


def png_header(width, height):
    """A PNG that claims width x height (a decompression bomb's header) with one byte of data."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00"))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "thumbnail, kind", [(png_header(20000, 20000), "image/png"), (b"\xff\xd8\xff\xe0 not really a jpeg", "image/jpeg")]
)
def test_a_thumbnail_that_cannot_be_decoded_is_skipped_and_the_video_kept(
    make_app, upstream, tiny_mp4, thumbnail, kind
):
    serving_video(upstream, tiny_mp4, thumbnail, kind)
    app, record = archived(make_app, upstream)
    assert record.archive == "archived" and record.files[0]["poster"]  # the app's own poster instead
    poster = app.test_client().get("/jobs/video_inward/poster/0.jpg")
    assert poster.status_code == 200 and poster.data[:3] == b"\xff\xd8\xff"


@pytest.mark.parametrize("failing", ["missing", "too large"])
def test_a_multi_video_job_whose_fetch_fails_leaves_no_files(make_app, upstream, tmp_path, tiny_mp4, failing):
    """The attack: variants fetched before one that failed stayed on disk, counted by no ARCHIVE_MAX_MB."""

    def content(req):
        if req.args.get("variant") == "thumbnail":
            return Response("", 404)
        if req.args.get("index") == "2":
            return (
                json_response({"error": {"message": "gone"}}, 404)
                if failing == "missing"
                else Response(b"\x00" * (2 * 1048576), mimetype="video/mp4")
            )
        return Response(tiny_mp4, mimetype="video/mp4")

    completed_with(upstream, content, variants=[{"index": 0}, {"index": 1}, {"index": 2}])
    app = make_app(upstream.url, follow=False, video_max_mb=1)
    app.extensions["studio"].store.add(Job(id="video_inward", status="queued"), {"prompt": "p"})
    app.extensions["studio"].follower.run_once()
    assert app.extensions["studio"].store.get("video_inward").archive == "retrying"
    assert files_under(tmp_path / "data" / "archive") == []


@pytest.mark.parametrize("job_id", ["video_1\n", "video_1\r\n"])
def test_an_id_with_a_trailing_line_break_is_not_used(make_app, upstream, job_id):
    upstream.handler = lambda req: json_response(job_body(job_id))
    client = make_app(upstream.url, follow=False).test_client()
    resp = submit(client, {"prompt": "a boat"})
    assert resp.status_code == 502 and "not one any address can carry" in resp.get_data(as_text=True)
