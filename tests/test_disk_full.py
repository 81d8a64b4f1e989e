"""A full disk is named as such: DATA_DIR on a small tmpfs filled to the last byte. /readyz answers 503, a
video that cannot be stored says the disk is full (and is fetched once room is made), a create that cannot be
recorded sends nothing and says why, and no half-written file is left behind."""

import contextlib
import os
import subprocess

import pytest
from werkzeug.wrappers import Response

from app import create_app
from support.client import make_settings, submit
from support.upstreams import job_body, json_response


@pytest.fixture
def tiny_disk(tmp_path):
    """A 16 MB tmpfs (root can mount one; elsewhere the test is skipped, and fails under REQUIRE_BROWSER=1)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        reason = f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill(folder, leave=0):
    """Take every free byte of the disk but `leave`; returns the filler's path (remove it to make room)."""
    path = os.path.join(folder, "filler")
    with open(path, "ab", buffering=0) as fh:  # unbuffered: closing has nothing left to write
        with contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * 65536)
        with contextlib.suppress(OSError):
            while True:  # the last few bytes of the disk
                fh.write(b"\0" * 512)
    if leave:
        os.truncate(path, max(0, os.path.getsize(path) - leave))
    return path


@pytest.fixture
def studio_on(tiny_disk, upstream):
    apps = []

    def build():
        app = create_app(make_settings(upstream.url, tiny_disk / "data"))
        app.config["TESTING"] = True
        app.extensions["studio"].follower.stop()
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["studio"].follower.stop()


def test_a_full_disk_is_named_in_readyz_the_card_and_the_create(studio_on, upstream, tiny_disk, tiny_mp4, caplog):
    big = tiny_mp4 * 200  # a video bigger than what is left

    def handler(req):
        if req.path == "/v1/models":
            return json_response({"data": [{"id": "kling-v1"}]})
        if req.path.endswith("/content"):
            return Response(big, mimetype="video/mp4") if not req.args.get("variant") else Response("", 404)
        return json_response(job_body("video_full", status="completed", progress=100))

    upstream.handler = handler
    app = studio_on()
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    store = app.extensions["studio"].store
    from app.upstream import Job

    store.add(Job(id="video_full", status="queued"), {"prompt": "no room for me"})
    filler = fill(tiny_disk, leave=512 * 1024)  # room for the history's rows, not for the video

    app.extensions["studio"].follower.run_once()
    record = store.get("video_full")
    assert record.archive == "retrying"
    card = client.get("/jobs/video_full").get_data(as_text=True)
    assert "The disk is full" in card and str(tiny_disk / "data") in card
    leftovers = [n for _, _, names in os.walk(tiny_disk / "data" / "archive") for n in names]
    assert leftovers == []

    fill(tiny_disk)  # now not a byte left
    assert client.get("/readyz").status_code == 503
    assert any("full" in r.getMessage() and str(tiny_disk) in r.getMessage() for r in caplog.records)
    resp = submit(client, {"prompt": "sent while the disk is full"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 503 and "disk" in page and "full" in page
    assert upstream.creates == []  # nothing was sent, nothing paid for

    os.remove(filler)
    assert client.get("/readyz").status_code == 200
    store.claims.fetch_again("video_full")
    app.extensions["studio"].follower.run_once()
    assert store.get("video_full").archive == "archived"
