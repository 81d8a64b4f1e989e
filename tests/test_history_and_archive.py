"""History, shared status reads, eviction, delete and reuse, against a scripted upstream on loopback."""

import io
import threading
import time

import pytest
from werkzeug.wrappers import Response

from app.upstream import Job
from support.client import submit
from support.media import make_png
from support.pages import Page, hidden_value
from support.servers import AppProcess
from support.upstreams import ScriptedUpstream, job_body, json_response


def lifecycle(tiny_mp4, status="completed", content_status=200, **job_extra):
    """An upstream whose jobs are in `status`, and whose /content serves tiny_mp4 (or fails)."""
    counter = {"n": 0}

    def handler(req):
        if req.path == "/v1/models":
            return json_response({"data": [{"id": "kling-v1"}]})
        if req.method == "POST":
            counter["n"] += 1
            return json_response(job_body(f"video_{counter['n']}", status="queued"))
        if req.method == "DELETE":  # OpenAI's answer to a delete
            return json_response({"id": req.path.rsplit("/", 1)[1], "object": "video.deleted", "deleted": True})
        if req.path.endswith("/content"):
            if content_status != 200:
                return json_response({"code": "invalid_request", "message": "task is not completed"}, content_status)
            if req.args.get("variant") == "thumbnail":
                return Response("no thumbnails here", 404)
            return Response(tiny_mp4, mimetype="video/mp4")
        if req.path.startswith("/v1/videos/"):
            return json_response(job_body(req.path.rsplit("/", 1)[1], status=status, progress=100, **job_extra))
        return Response("", 404)

    return handler


def wait_settled(client, job_id, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(f"/jobs/{job_id}/status").get_json()
        if state["finished"]:
            return state
        time.sleep(0.1)
    raise AssertionError(f"{job_id} never settled: {state}")


def test_many_viewers_of_one_running_job_share_about_one_upstream_read_per_second(tmp_path):
    upstream = ScriptedUpstream(
        handler=lambda req: (
            json_response(job_body("video_live", status="in_progress", progress=50))
            if req.method == "GET" and "/v1/videos/" in req.path
            else json_response(job_body("video_live"))
        )
    )
    app = AppProcess(
        tmp_path / "app", {"VIDEO_API_BASE_URL": upstream.url, "VIDEO_API_KEY": "k", "WEB_WORKERS": "2"}
    ).start()
    try:
        import requests

        browser = requests.Session()
        form = browser.get(app.base_url + "/", timeout=10).text
        token = hidden_value(form)
        job_url = browser.post(app.base_url + "/jobs", data={"csrf_token": token, "prompt": "p"}, timeout=10).url
        reads_before = len([r for r in upstream.requests if r.method == "GET" and "/v1/videos/" in r.path])
        answers, stop = [], time.monotonic() + 4.0

        def viewer():
            with requests.Session() as s:
                while time.monotonic() < stop:
                    answers.append(s.get(job_url + "/status", timeout=10).json()["progress"])
                    time.sleep(0.05)

        threads = [threading.Thread(target=viewer) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        reads = len([r for r in upstream.requests if r.method == "GET" and "/v1/videos/" in r.path]) - reads_before
        assert len(answers) > 200 and set(answers) <= {0, 50} and answers[-1] == 50
        assert reads <= 4 / 1.0 + 2, f"{reads} upstream reads for {len(answers)} page polls in 4 s"
    finally:
        app.stop()
        upstream.stop()


def test_milliseconds_and_relay_spellings_on_the_card(client, upstream, tiny_mp4):
    upstream.handler = lifecycle(tiny_mp4, status="SUCCESS", completed_at=1764000060000)
    job_id = submit(client, {"prompt": "ms"}).headers["Location"].rsplit("/", 1)[1]
    wait_settled(client, job_id)
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "Completed" in page and "SUCCESS" in page
    assert "Nov 24, 2025, 4:01:00\u202fPM UTC" in page and "1764000060000" in page


def test_metadata_url_is_used_when_content_is_refused(make_app, upstream, tiny_mp4):
    # A provider's storage on another host; on loopback here, so it is listed as an allowed private host.
    client = make_app(upstream.url, allowed_private_hosts=("127.0.0.1",)).test_client()
    cdn = ScriptedUpstream(handler=lambda req: Response(tiny_mp4, mimetype="video/mp4"))  # another host
    upstream.handler = lifecycle(tiny_mp4, content_status=400, metadata={"url": cdn.url + "/files/v.mp4"})
    job_id = submit(client, {"prompt": "relay"}).headers["Location"].rsplit("/", 1)[1]
    assert wait_settled(client, job_id)["archive"] == "archived"
    cdn.stop()
    assert client.get(f"/jobs/{job_id}/video/0.mp4").data == tiny_mp4
    poster = client.get(f"/jobs/{job_id}/poster/0.jpg")  # extracted from the video by the app
    assert poster.status_code == 200 and poster.data[:2] == b"\xff\xd8"
    fetched = [r for r in cdn.requests if r.path == "/files/v.mp4"]
    assert len(fetched) == 1 and "Authorization" not in fetched[0].headers  # the key stays home


def test_the_oldest_videos_are_evicted_beyond_the_archive_limit(make_app, upstream, tiny_mp4):
    app = make_app(upstream.url)
    client = app.test_client()
    upstream.handler = lifecycle(tiny_mp4)
    ids = []
    for i in range(3):
        ids.append(submit(client, {"prompt": f"job {i}"}).headers["Location"].rsplit("/", 1)[1])
        wait_settled(client, ids[-1])
        if i == 0:  # room for two videos with their posters, not three
            first = app.extensions["studio"].store.get(ids[0])
            app.extensions["studio"].archive.max_bytes = int(first.archive_bytes * 2.5)
        time.sleep(0.05)
    assert client.get(f"/jobs/{ids[0]}/video/0.mp4").status_code == 404
    assert client.get(f"/jobs/{ids[2]}/video/0.mp4").data == tiny_mp4
    history = client.get("/jobs").get_data(as_text=True)
    assert "job 0" in history and history.count(">video expired<") == 1
    assert "expired from the archive" in client.get(f"/jobs/{ids[0]}").get_data(as_text=True)


def test_videos_older_than_the_age_limit_are_evicted(make_app, upstream, tiny_mp4):
    app = make_app(upstream.url, archive_max_days=1)
    client = app.test_client()
    upstream.handler = lifecycle(tiny_mp4)
    job_id = submit(client, {"prompt": "old"}).headers["Location"].rsplit("/", 1)[1]
    wait_settled(client, job_id)
    evicted = app.extensions["studio"].archive.evict(app.extensions["studio"].store, now=time.time() + 2 * 86400)
    assert evicted == [job_id]
    assert client.get(f"/jobs/{job_id}/video/0.mp4").status_code == 404


def test_delete_removes_job_and_archive_and_tells_the_upstream(app, client, upstream, tiny_mp4):
    upstream.handler = lifecycle(tiny_mp4)
    job_id = submit(client, {"prompt": "to be deleted"}).headers["Location"].rsplit("/", 1)[1]
    wait_settled(client, job_id)
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    token = hidden_value(page)
    resp = client.post(f"/jobs/{job_id}/delete", data={"csrf_token": token})
    assert resp.status_code == 303
    history = client.get("/jobs").get_data(as_text=True)
    assert "The job was deleted." in history and "to be deleted" not in history
    assert client.get(f"/jobs/{job_id}").status_code == 404
    assert client.get(f"/jobs/{job_id}/video/0.mp4").status_code == 404
    assert any(r.method == "DELETE" and r.path == f"/v1/videos/{job_id}" for r in upstream.requests)


def test_use_these_settings_again_refills_the_form_with_the_image(client, upstream):
    png = make_png(500, 400)
    resp = submit(
        client,
        {
            "prompt": "again please",
            "model": "kling-v2-master",
            "duration": "10",
            "fps": "30",
            "seed": "99",
            "metadata": '{"mode": "pro"}',
            "style": "noir",
        },
        {"image_file": (io.BytesIO(png), "a.png")},
    )
    job_id = resp.headers["Location"].rsplit("/", 1)[1]
    form = Page(client.get(f"/?from={job_id}").get_data(as_text=True))
    assert form.value("prompt") == "again please"
    for name, value in (
        ("model", "kling-v2-master"),
        ("duration", "10"),
        ("fps", "30"),
        ("seed", "99"),
        ("style", "noir"),
    ):
        assert form.value(name) == value, name
    preview = form.find("img", alt="Preview of the chosen image")[0].attrs["src"]
    assert client.get(preview).data == png
    resubmit = submit(client, {"prompt": "again please", "image_token": preview.rsplit("/", 1)[1]})
    assert resubmit.status_code == 303


def test_history_search_filter_and_paging(app, client, upstream):
    store = app.extensions["studio"].store
    for i in range(25):
        store.add(
            Job(id=f"job{i:02d}", status="failed" if i % 5 == 0 else "queued"),
            {"prompt": f"{'astronaut' if i % 2 else 'lighthouse'} number {i}"},
            submitted_by="ana",
        )
        time.sleep(0.002)
    first = client.get("/jobs").get_data(as_text=True)
    assert "25 jobs" in first and "page 1 of 2" in first
    assert first.index("number 24") < first.index("number 23")  # newest first
    assert "number 4<" not in first and "number 5<" in first
    assert "number 4<" in client.get("/jobs?page=2").get_data(as_text=True)
    found = client.get("/jobs?q=astronaut").get_data(as_text=True)
    assert "12 jobs found" in found and "lighthouse" not in found
    failed = client.get("/jobs?status=failed").get_data(as_text=True)
    assert "5 jobs found" in failed
    assert "0 jobs found" in client.get("/jobs?q=100%25").get_data(as_text=True)


def test_a_fetch_left_by_a_worker_that_died_is_taken_over_after_its_lease(make_app, upstream, tiny_mp4):
    upstream.handler = lifecycle(tiny_mp4)
    app = make_app(upstream.url, follow=False)
    store, follower, client = app.extensions["studio"].store, app.extensions["studio"].follower, app.test_client()
    store.add(Job(id="video_orphan", status="completed", progress=100), {"prompt": "orphaned"})
    assert store.claims.claim_archive("video_orphan", follower.archive_lease)  # a worker claims the fetch, then dies
    follower.run_once()
    assert client.get("/jobs/video_orphan/status").get_json()["archive"] == "fetching"  # nobody steals a live lease
    store.db.execute(
        "UPDATE jobs SET archive_started = archive_started - ? WHERE id = ?",
        (follower.archive_lease + 1, "video_orphan"),
    )  # ...its lease runs out
    follower.run_once()
    assert client.get("/jobs/video_orphan/status").get_json()["archive"] == "archived"
    assert client.get("/jobs/video_orphan/video/0.mp4").data == tiny_mp4


def test_history_filters_by_model_and_person_and_shows_mine(make_app, upstream):
    app = make_app(upstream.url, follow=False, auth_header="X-User")
    store, client = app.extensions["studio"].store, app.test_client()
    for i, (model, person) in enumerate([("kling-v1", "ana"), ("kling-v1", "bo"), ("veo-3", "ana"), ("veo-3", "cy")]):
        store.add(
            Job(id=f"video_f{i}", status="queued", model=model),
            {"prompt": f"{model} by {person}", "model": model},
            submitted_by=person,
        )
    client.environ_base["HTTP_X_USER"] = "ana"

    def prompts(query):
        page = Page(client.get(f"/jobs?{query}").get_data(as_text=True))
        return sorted(
            " ".join(a.text.split())
            for a in page.find("a")
            if a.attrs.get("href", "").startswith("/jobs/video_f") and "history-thumb" not in a.attrs.get("class", "")
        )

    assert prompts("model=veo-3") == ["veo-3 by ana", "veo-3 by cy"]
    assert prompts("person=ana") == ["kling-v1 by ana", "veo-3 by ana"]
    assert prompts("model=kling-v1&person=bo") == ["kling-v1 by bo"]
    assert prompts("mine=1") == ["kling-v1 by ana", "veo-3 by ana"]
    assert prompts("model=nonexistent") == prompts("")  # an unknown filter value is ignored
    page = Page(client.get("/jobs").get_data(as_text=True))
    assert [o.attrs["value"] for o in page.find("option") if o.attrs.get("value") in ("kling-v1", "veo-3")] == [
        "kling-v1",
        "veo-3",
    ]
    assert "Only my jobs" in page.text("main")


@pytest.mark.parametrize(
    "header, start, stop",
    [
        ("bytes=0-99", 0, 100),
        ("bytes=-100", -100, None),
        ("bytes=1000-", 1000, None),
        ("bytes=500-999999999", 500, None),
    ],
)
def test_a_range_anywhere_in_an_archived_video_gives_exactly_those_bytes(
    client, upstream, tiny_mp4, header, start, stop
):
    upstream.handler = lifecycle(tiny_mp4)
    job_id = submit(client, {"prompt": "ranges"}).headers["Location"].rsplit("/", 1)[1]
    wait_settled(client, job_id)
    whole = client.get(f"/jobs/{job_id}/video/0.mp4")
    assert whole.status_code == 200 and whole.data == tiny_mp4
    part = client.get(f"/jobs/{job_id}/video/0.mp4", headers={"Range": header})
    expected = tiny_mp4[start:stop]
    first = start % len(tiny_mp4)
    assert part.status_code == 206 and part.data == expected
    assert part.headers["Content-Range"] == f"bytes {first}-{first + len(expected) - 1}/{len(tiny_mp4)}"
    assert int(part.headers["Content-Length"]) == len(expected) and part.headers["Content-Type"] == "video/mp4"
    beyond = client.get(f"/jobs/{job_id}/video/0.mp4", headers={"Range": f"bytes={len(tiny_mp4) + 10}-"})
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{len(tiny_mp4)}"


@pytest.mark.parametrize("answer", [404, 405])
def test_a_delete_the_api_does_not_have_says_the_api_keeps_its_copy(app, client, upstream, tiny_mp4, answer):
    handler = lifecycle(tiny_mp4)
    upstream.handler = lambda req: (
        json_response({"detail": "Method Not Allowed"}, answer) if req.method == "DELETE" else handler(req)
    )
    job_id = submit(client, {"prompt": "kept upstream"}).headers["Location"].rsplit("/", 1)[1]
    wait_settled(client, job_id)
    token = hidden_value(client.get(f"/jobs/{job_id}").get_data(as_text=True))
    assert client.post(f"/jobs/{job_id}/delete", data={"csrf_token": token}).status_code == 303
    history = client.get("/jobs").get_data(as_text=True)
    assert "Removed from this studio. The API keeps its copy until it expires." in history
    assert "The job was deleted." not in history and client.get(f"/jobs/{job_id}").status_code == 404
