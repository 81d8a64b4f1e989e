"""OBJECT_STORE_URL: archived videos and posters in a real S3 API (SeaweedFS on loopback), served from it
with the request's Range, deleted and evicted by key, and nothing of them left under DATA_DIR."""

import base64
import io
import os
import time

import pytest
import requests
from test_history_and_archive import lifecycle, wait_settled

from app import create_app
from app.storage.objects import ObjectStore
from support.client import make_settings, submit
from support.media import make_png
from support.nginx import shipped_nginx
from support.object_store import SeaweedS3
from support.pages import Page, hidden_value
from support.servers import AppProcess, free_port
from support.upstreams import job_body, json_response
from support.waiting import wait_for


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    server = SeaweedS3(tmp_path_factory.mktemp("seaweedfs")).start()
    yield server
    server.stop()


@pytest.fixture
def stored_app(make_app, upstream, s3, monkeypatch, request):
    """The app with its archive in the bucket, under a prefix of this test's own."""
    for name, value in s3.env.items():
        monkeypatch.setenv(name, value)
    prefix = f"t{abs(hash(request.node.name)) % 10**8}"
    return make_app(upstream.url, object_store_url=f"s3://{s3.bucket}/{prefix}", secret_key_given=True), prefix


def archived(client, upstream, tiny_mp4, prompt="a kite over the dunes"):
    if not getattr(upstream, "serves_videos", False):  # one handler: its job ids count up
        upstream.handler, upstream.serves_videos = lifecycle(tiny_mp4), True
    job_id = submit(client, {"prompt": prompt}).headers["Location"].rsplit("/", 1)[1]
    state = wait_settled(client, job_id)
    assert state["archive"] == "archived", state
    return job_id


def test_a_finished_video_is_kept_in_the_bucket_and_served_from_it_with_ranges(stored_app, upstream, s3, tiny_mp4):
    app, prefix = stored_app
    client = app.test_client()
    job_id = archived(client, upstream, tiny_mp4)
    keys = s3.keys(prefix + "/")
    videos = [k for k in keys if k.endswith(".mp4")]
    assert len(videos) == 1 and videos[0].startswith(f"{prefix}/archive/"), keys
    assert any(k.endswith("/0.jpg") for k in keys), "the poster is stored beside the video"
    data_dir = app.extensions["studio"].settings.data_dir
    left = [n for _, _, names in os.walk(data_dir) for n in names if n.endswith((".mp4", ".jpg", ".part"))]
    assert left == [], "no copy stays on this host"
    whole = client.get(f"/jobs/{job_id}/video/0.mp4")
    assert whole.status_code == 200 and whole.data == tiny_mp4 and whole.headers["Content-Type"] == "video/mp4"
    assert whole.headers["Accept-Ranges"] == "bytes"
    part = client.get(f"/jobs/{job_id}/video/0.mp4", headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206 and part.data == tiny_mp4[100:1100]
    assert part.headers["Content-Range"] == f"bytes 100-1099/{len(tiny_mp4)}"
    tail = client.get(f"/jobs/{job_id}/video/0.mp4", headers={"Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.data == tiny_mp4[-50:]
    beyond = client.get(f"/jobs/{job_id}/video/0.mp4", headers={"Range": f"bytes={len(tiny_mp4) + 10}-"})
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{len(tiny_mp4)}"
    again = client.get(f"/jobs/{job_id}/video/0.mp4", headers={"If-None-Match": whole.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    download = client.get(f"/jobs/{job_id}/video/0.mp4?download=1")
    assert download.data == tiny_mp4 and download.headers["Content-Disposition"].startswith("attachment;")
    poster = client.get(f"/jobs/{job_id}/poster/0.jpg")
    assert poster.status_code == 200 and poster.data[:3] == b"\xff\xd8\xff"
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert f"/jobs/{job_id}/video/0.mp4" in page


def test_delete_and_eviction_remove_the_objects(stored_app, upstream, s3, tiny_mp4):
    app, prefix = stored_app
    client = app.test_client()
    first = archived(client, upstream, tiny_mp4, "first")
    second = archived(client, upstream, tiny_mp4, "second")
    assert len([k for k in s3.keys(prefix + "/") if k.endswith(".mp4")]) == 2
    studio = app.extensions["studio"]
    assert studio.archive.evict(studio.store, now=time.time() + 40 * 86400) == [first, second]
    assert s3.keys(prefix + "/archive/") == []
    assert client.get(f"/jobs/{first}/video/0.mp4").status_code == 404
    third = archived(client, upstream, tiny_mp4, "third")
    assert len(s3.keys(prefix + "/archive/")) == 2
    studio.follower.forget(third)
    assert s3.keys(prefix + "/archive/") == []


def test_a_store_that_stops_answering_is_a_clear_503_and_not_ready(stored_app, upstream, s3, tiny_mp4, monkeypatch):
    app, _ = stored_app
    client = app.test_client()
    job_id = archived(client, upstream, tiny_mp4)
    store = app.extensions["studio"].archive.objects
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{free_port()}")  # the store is down
    monkeypatch.setattr(app.extensions["studio"].archive, "objects", ObjectStore(store.url))
    resp = client.get(f"/jobs/{job_id}/video/0.mp4")
    assert resp.status_code == 503 and "storage is not answering" in resp.get_data(as_text=True)
    assert client.get("/readyz").status_code == 503


def test_a_tampered_presigned_address_is_refused_by_the_store(s3, monkeypatch):
    """What the nginx set-up relies on: the store itself checks the signature (a fake would not)."""
    for name, value in s3.env.items():
        monkeypatch.setenv(name, value)
    store = ObjectStore(f"s3://{s3.bucket}/signed")
    store.client.put_object(Bucket=s3.bucket, Key=store.key("archive/x/0.mp4"), Body=b"0123456789")
    signed = store.presigned_path("archive/x/0.mp4")
    good = requests.get(f"{s3.endpoint}/{signed}", headers={"Range": "bytes=2-5"}, timeout=10)
    assert good.status_code == 206 and good.content == b"2345"
    tampered = signed.replace("0.mp4", "1.mp4")
    assert requests.get(f"{s3.endpoint}/{tampered}", timeout=10).status_code == 403


def test_a_picture_kept_on_one_host_is_sent_by_another(stored_app, upstream, s3, tmp_path):
    """Two hosts share the bucket: the form shown again by A (a field was wrong) keeps the picture; sent
    through B, which never saw the upload, the picture still goes to the video API."""
    app_a, prefix = stored_app
    app_b = create_app(
        make_settings(
            upstream.url, tmp_path / "host-b", object_store_url=f"s3://{s3.bucket}/{prefix}", secret_key_given=True
        )
    )
    app_b.config["TESTING"] = True
    try:
        upstream.handler = lambda req: json_response(job_body("video_from_b", status="queued"))
        picture = make_png(400, 300)
        refused = submit(
            app_a.test_client(),
            {"prompt": "a lighthouse", "fps": "500"},
            files={"image_file": (io.BytesIO(picture), "lighthouse.png")},
        )
        assert refused.status_code == 400
        token = Page(refused.get_data(as_text=True)).value("image_token")
        assert token and s3.keys(f"{prefix}/uploads/") == [f"{prefix}/uploads/{token}"]
        sent = submit(app_b.test_client(), {"prompt": "a lighthouse", "image_token": token})
        assert sent.status_code == 303, sent.get_data(as_text=True)[:500]
        create = next(r for r in upstream.requests if r.method == "POST")
        assert base64.b64encode(picture).decode() in create.body.decode("latin-1")
    finally:
        app_b.extensions["studio"].follower.stop()


def test_behind_nginx_the_video_comes_from_the_store_by_a_signed_address_nobody_sees(demo_api, s3, tmp_path):
    """ARCHIVE_ACCEL_REDIRECT with OBJECT_STORE_URL and the shipped nginx location: nginx fetches the
    object from the store with the client's Range; the app only points, and the location is internal."""
    app = AppProcess(
        tmp_path / "app",
        {
            "VIDEO_API_BASE_URL": demo_api.base_url,
            "VIDEO_API_KEY": demo_api.key,
            "TRUSTED_PROXIES": "1",
            "OBJECT_STORE_URL": f"s3://{s3.bucket}/behind-nginx",
            "ARCHIVE_ACCEL_REDIRECT": "/_studio_store/",
            **s3.env,
        },
    ).start()
    try:
        with (
            shipped_nginx(str(tmp_path / "nginx"), app.port, store=f"127.0.0.1:{s3.port}") as (base_url, _),
            requests.Session() as browser,
        ):
            token = hidden_value(browser.get(base_url + "/", timeout=10).text)
            form = {"csrf_token": token, "prompt": "A paper boat", "duration": "1", "width": "320", "height": "180"}
            sent = browser.post(base_url + "/jobs", data={**form, "fps": "10"}, timeout=30)
            assert sent.status_code == 200, sent.text[:300]
            job_id = sent.url.rsplit("/", 1)[1]

            def settled():
                state = browser.get(f"{base_url}/jobs/{job_id}/status", timeout=10).json()
                return state if state["finished"] else None

            assert wait_for(settled, what="the job settling")["archive"] == "archived"
            keys = [k for k in s3.keys("behind-nginx/archive/") if k.endswith(".mp4")]
            assert len(keys) == 1
            expected = s3.client().get_object(Bucket=s3.bucket, Key=keys[0])["Body"].read()
            video_url = f"/jobs/{job_id}/video/0.mp4"
            whole = browser.get(base_url + video_url, timeout=10)
            assert whole.status_code == 200 and whole.content == expected
            assert whole.headers["Content-Type"] == "video/mp4" and "X-Accel-Redirect" not in whole.headers
            assert not any(h.lower().startswith(("x-amz", "seaweed")) for h in whole.headers), whole.headers
            assert whole.headers["Content-Disposition"].startswith("inline; filename=a_paper_boat")
            part = browser.get(base_url + video_url, headers={"Range": "bytes=100-1099"}, timeout=10)
            assert part.status_code == 206 and part.content == expected[100:1100]
            assert part.headers["Content-Range"] == f"bytes 100-1099/{len(expected)}"
            # The app only points, with a signature the browser never gets; the location is internal.
            direct = requests.get(app.base_url + video_url, timeout=10)
            hidden = direct.headers["X-Accel-Redirect"]
            assert direct.content == b"" and hidden.startswith("/_studio_store/videos/") and "X-Amz-Signature" in hidden
            assert requests.get(base_url + hidden, timeout=10).status_code == 404
            assert s3.endpoint.split("//")[1] not in browser.get(f"{base_url}/jobs/{job_id}", timeout=10).text
    finally:
        app.stop()
