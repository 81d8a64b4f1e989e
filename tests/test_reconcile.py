"""Jobs that may have been created are found again: in the API's list of recent jobs (same prompt and model,
made around when they were sent), or by a person pasting the id where the API has no list. With a worker
killed mid-send under gunicorn, the job the upstream made is found and archived."""

import contextlib
import os
import signal
import subprocess
import threading
import time

import pytest
import requests
from werkzeug.wrappers import Response

from app.core.instance import instance_id
from support.pages import Page, hidden_value
from support.servers import AppProcess
from support.upstreams import ScriptedUpstream, job_body, json_response
from support.waiting import wait_for


def dead_sender():
    proc = subprocess.Popen(["true"])
    proc.wait()
    return f"{instance_id()}:{proc.pid}"


def listed(job_id, prompt, created_at, model="kling-v1", status="completed"):
    return job_body(job_id, status=status, prompt=prompt, model=model, created_at=int(created_at), progress=100)


def test_a_lost_send_is_found_in_the_apis_list_and_only_its_own_job_is_taken(make_app, upstream):
    now = time.time()
    jobs = [
        listed("video_other_prompt", "a different prompt", now),
        listed("video_other_model", "a boat at dusk", now, model="wan-2"),
        listed("video_too_old", "a boat at dusk", now - 3600),
        listed("video_ours", "a boat at dusk", now + 2),
    ]

    def handler(req):
        if req.path == "/v1/videos" and req.method == "GET":
            return json_response({"object": "list", "data": jobs, "has_more": False})
        return json_response(job_body(req.path.rsplit("/", 1)[1], status="in_progress", progress=10))

    upstream.handler = handler
    app = make_app(upstream.url, follow=False)
    store = app.extensions["studio"].store
    store.add_sending("local-lost", {"prompt": "a boat at dusk", "model": "kling-v1"}, sender=dead_sender())
    app.extensions["studio"].follower.run_once()
    record = store.get("local-lost")
    assert record.id == "video_ours" and record.params["found_by"] == "list"
    assert [store.get(j) for j in ("video_other_prompt", "video_other_model", "video_too_old")] == [None] * 3
    page = app.test_client().get("/jobs/video_ours").get_data(as_text=True)
    assert "found it in the video API's list of recent jobs" in page and "This job may have been created" not in page


@pytest.mark.parametrize(
    "answer",
    [
        Response("404 page not found", 404),
        json_response(
            {"error": {"message": "litellm.BadRequestError: custom_llm_provider is required", "param": None}}, 400
        ),
    ],
)
def test_where_the_api_has_no_list_a_person_pastes_the_id(make_app, upstream, answer):
    def handler(req):
        if req.path == "/v1/videos" and req.method == "GET":
            return answer
        if req.path == "/v1/videos/task_pasted":
            return json_response(job_body("task_pasted", status="in_progress", progress=40))
        return json_response({"code": "task_not_exist", "message": "task_not_exist", "data": None}, 400)

    upstream.handler = handler
    app = make_app(upstream.url, follow=False)
    store = app.extensions["studio"].store
    store.add_sending("local-lost", {"prompt": "a kite"}, sender=dead_sender())
    app.extensions["studio"].follower.run_once()
    client = app.test_client()
    html = client.get("/jobs/local-lost").get_data(as_text=True)
    form = [f for f in Page(html).find("form") if f.attrs.get("action", "").endswith("/attach")]
    assert form and "I found it: paste the job id" in html
    wrong = client.post(
        form[0].attrs["action"], data={"csrf_token": hidden_value(html), "found_id": "task_nope"}, follow_redirects=True
    )
    assert "The video API does not know that job" in wrong.get_data(as_text=True)
    assert store.get("local-lost").status == "uncertain"
    right = client.post(form[0].attrs["action"], data={"csrf_token": hidden_value(html), "found_id": "task_pasted"})
    assert right.status_code == 303 and right.headers["Location"].endswith("/jobs/task_pasted")
    record = store.get("task_pasted")
    assert record.status == "in_progress" and record.params["found_by"] == "pasted"
    assert "its id was pasted in by a person" in client.get("/jobs/task_pasted").get_data(as_text=True)


def test_a_worker_killed_mid_send_loses_no_paid_job(tmp_path, tiny_mp4):
    """kill -9 of the worker while the upstream is making the job: the row is settled, the job found in
    the list, followed and archived."""
    made = {}

    def handler(req):
        if req.method == "POST" and req.path == "/v1/videos":
            made["job"] = listed("video_paid", req.field("prompt"), time.time(), model=req.field("model"))
            time.sleep(30)  # the worker is killed before this answer arrives
            return json_response(made["job"])
        if req.path == "/v1/videos" and req.method == "GET":
            return json_response({"object": "list", "data": [made["job"]] if made else [], "has_more": False})
        if req.path == "/v1/videos/video_paid/content":
            return Response(tiny_mp4, mimetype="video/mp4") if not req.args.get("variant") else Response("", 404)
        if req.path == "/v1/videos/video_paid":
            return json_response(made["job"])
        return json_response({"data": []})

    upstream = ScriptedUpstream(handler=handler)
    app = AppProcess(
        tmp_path / "app",
        {"VIDEO_API_BASE_URL": upstream.url, "VIDEO_API_KEY": "k", "WEB_WORKERS": "1", "VIDEO_API_TIMEOUT": "60"},
    )
    try:
        app.start()
        browser = requests.Session()
        token = hidden_value(browser.get(app.base_url + "/", timeout=30).text)
        threading.Thread(
            target=lambda: _quietly(
                lambda: browser.post(
                    app.base_url + "/jobs",
                    data={"csrf_token": token, "prompt": "paid for, then killed", "model": "kling-v1"},
                    timeout=40,
                )
            ),
            daemon=True,
        ).start()
        wait_for(lambda: "job" in made, timeout=60, what="the create reaching the upstream")
        for pid in app.children():  # the workers and the follower process
            os.kill(pid, signal.SIGKILL)

        def archived():
            try:
                page = requests.get(app.base_url + "/jobs/video_paid", timeout=10)
            except requests.RequestException:
                return None
            return page if page.status_code == 200 and "video/mp4" in page.text else None

        page = wait_for(archived, timeout=120, what="the paid job being found and archived")
        assert "found it in the video API's list of recent jobs" in page.text
    finally:
        app.stop()
        upstream.stop()


def _quietly(call):
    with contextlib.suppress(requests.RequestException):
        call()
