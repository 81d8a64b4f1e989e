"""What the job card and its files show, whatever numbers and names the upstream sends."""

import re
import threading
import time
from urllib.parse import unquote

from werkzeug.wrappers import Response

from app.media.archive import VideoArchive
from app.upstream import Job, VideoAPI
from support.client import submit
from support.pages import Page, hidden_value
from support.upstreams import ScriptedUpstream, job_body, json_response


def test_absurd_numbers_in_a_job_never_break_its_page(make_app, upstream):
    # 1e308 and Infinity are valid to Python's JSON reader; a broken relay can send them.
    body = (
        '{"id": "video_huge", "object": "video", "status": "in_progress", "progress": Infinity,'
        ' "created_at": 1e308, "completed_at": -Infinity, "expires_at": NaN, "seed": 1e308, "fps": "inf"}'
    )
    upstream.handler = lambda req: Response(body, content_type="application/json")
    app = make_app(upstream.url, follow=False)
    client = app.test_client()
    assert submit(client, {"prompt": "huge numbers"}).headers["Location"].endswith("/jobs/video_huge")
    app.extensions["studio"].follower.run_once()
    for path in ("/jobs/video_huge", "/jobs/video_huge/status", "/jobs", "/?from=video_huge"):
        resp = client.get(path)
        assert resp.status_code == 200, (path, resp.status_code)
    state = client.get("/jobs/video_huge/status").get_json()
    assert state["progress"] == 0 and state["status"] == "in_progress"
    assert re.search(r"<dt>Created</dt><dd>\s*<span class=\"muted\">—", state["card_html"])  # no year 10^300


def test_the_seed_the_api_used_is_shown_and_reused(make_app, upstream):
    upstream.handler = lambda req: json_response(job_body("video_seeded", status="in_progress", seed=987654))
    app = make_app(upstream.url, follow=False)
    client = app.test_client()
    submit(client, {"prompt": "a seeded result"})  # no seed typed: the API chose one
    app.extensions["studio"].follower.run_once()
    card = client.get("/jobs/video_seeded").get_data(as_text=True)
    assert "Seed used" in card and "987654" in card
    again = client.get("/?from=video_seeded").get_data(as_text=True)
    assert 'id="seed"' in again and 'value="987654"' in again


def test_empty_number_inputs_say_default_rather_than_look_like_values(client):
    page = client.get("/").get_data(as_text=True)
    for field in ("fps", "n", "seed"):
        tag = page[page.index(f'id="{field}"') - 200 : page.index(f'id="{field}"') + 300]
        placeholder = tag.split('placeholder="', 1)[1].split('"', 1)[0]
        assert not placeholder.isdigit(), f"{field} shows {placeholder!r}, which reads as a value"


def test_a_chinese_prompt_keeps_its_words_in_the_download_name(make_app, upstream, tiny_mp4):
    def handler(req):
        if req.method == "POST":
            return json_response(job_body("video_d63a6274"))
        if req.path.endswith("/content"):
            if req.args.get("variant") == "thumbnail":
                return Response("", 404)
            return Response(tiny_mp4, mimetype="video/mp4")
        return json_response(job_body("video_d63a6274", status="completed", progress=100))

    upstream.handler = handler
    app = make_app(upstream.url, follow=False)
    client = app.test_client()
    submit(client, {"prompt": "一只猫在雨中的屋顶上散步"})
    app.extensions["studio"].follower.run_once()
    resp = client.get("/jobs/video_d63a6274/video/0.mp4?download=1")
    disposition = resp.headers["Content-Disposition"]
    assert resp.status_code == 200 and "filename*=UTF-8''" in disposition
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == "一只猫在雨中的屋顶上散步-d63a6274.mp4"


def test_two_fetches_at_once_each_renew_only_their_own_lease(tmp_path):
    """The archive object is shared by a worker's fetches; each heartbeat must stay with its fetch."""
    body = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 4000

    def dripping(req):
        if req.args.get("variant") == "thumbnail":
            return Response("", 404)

        def chunks():
            for i in range(0, len(body), 500):
                time.sleep(0.05)
                yield body[i : i + 500]

        return Response(chunks(), mimetype="video/mp4")

    upstream = ScriptedUpstream(handler=dripping)
    try:
        api = VideoAPI(upstream.url, "k")
        archive = VideoArchive(str(tmp_path / "archive"), heartbeat_seconds=0.01)
        beats = {"video_a": [], "video_b": []}

        def fetch(job_id):
            me = threading.current_thread().name
            archive.fetch(
                api,
                Job(id=job_id, status="completed"),
                heartbeat=lambda: beats[job_id].append(threading.current_thread().name == me),
            )

        threads = [threading.Thread(target=fetch, args=(j,), name=j) for j in beats]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert beats["video_a"] and beats["video_b"]
        assert all(beats["video_a"]) and all(beats["video_b"]), "a fetch renewed another fetch's lease"
    finally:
        upstream.stop()


def test_a_job_page_shows_the_api_message_when_it_stops_answering(make_app, upstream):
    upstream.handler = lambda req: (
        json_response(job_body("video_q"))
        if req.method == "POST"
        else json_response({"error": {"message": "服务维护中 (maintenance)"}}, 503)
    )
    app = make_app(upstream.url, follow=False)
    client = app.test_client()
    submit(client, {"prompt": "quiet api"})
    app.extensions["studio"].follower.run_once()
    state = client.get("/jobs/video_q/status").get_json()
    assert state["check_error"] and "服务维护中" in state["check_error"]
    assert "not answering status checks" in state["card_html"] and "Last checked" in state["card_html"]
    assert state["title"].startswith("Queued · quiet api")
    page = client.get("/jobs/video_q").get_data(as_text=True)
    token = hidden_value(page)
    assert token and "服务维护中" in page


def test_a_running_job_shows_its_time_and_an_estimate_from_earlier_jobs_like_it(make_app, upstream):
    app = make_app(upstream.url, follow=False)
    store, client = app.extensions["studio"].store, app.test_client()
    for i, took in enumerate((60, 90, 150)):  # earlier kling-v1 jobs at 5 s and 1280x720
        store.add(
            Job(
                id=f"video_done{i}",
                status="completed",
                model="kling-v1",
                seconds="5",
                size="1280x720",
                created_at=1_790_000_000,
                completed_at=1_790_000_000 + took,
            ),
            {"prompt": "earlier"},
        )
    store.add(
        Job(
            id="video_other",
            status="completed",
            model="kling-v1",
            seconds="10",
            size="1280x720",
            created_at=1_790_000_000,
            completed_at=1_790_003_000,
        ),
        {"prompt": "longer, not counted"},
    )
    store.add(
        Job(
            id="video_now",
            status="in_progress",
            model="kling-v1",
            seconds="5",
            size="1280x720",
            created_at=int(time.time()) - 30,
        ),
        {"prompt": "running"},
    )
    card = client.get("/jobs/video_now/status").get_json()["card_html"]
    text = " ".join(Page(card).find("p", class_="timing")[0].text.split())
    assert re.search(r"Running for 3\d seconds", text), text  # started 30 s ago
    assert "usually take about 2 minutes" in text and "median of 3 earlier kling-v1 jobs" in text
    store.add(Job(id="video_new", status="queued", model="veo-3", seconds="8", size="1280x720"), {"prompt": "p"})
    lone = Page(client.get("/jobs/video_new").get_data(as_text=True)).find("p", class_="timing")[0].text
    # queued: it is waiting, not running; and with nothing to compare with, no guess
    assert "In the queue for" in lone and "Running for" not in lone and "usually" not in lone
