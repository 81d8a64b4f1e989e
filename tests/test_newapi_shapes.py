"""The studio behind new-api, replayed in the shapes its source writes (tests/support/newapi.py cites the
files): "task_..." ids, statuses, metadata.url, progress as a number, failures with a provider's message,
TaskError envelopes, a Chinese 429, and no DELETE route."""

from urllib.parse import unquote

import pytest
from werkzeug.wrappers import Response

from support.client import submit
from support.newapi import BUSY, NewAPIRelay
from support.pages import Page, hidden_value
from support.upstreams import ScriptedUpstream
from support.waiting import wait_for


@pytest.fixture
def newapi(make_app, upstream, tiny_mp4):
    """(app, client, relay): the studio in front of a replayed new-api whose videos sit on a file host."""
    host = ScriptedUpstream(lambda req: Response(tiny_mp4, mimetype="video/mp4"))  # the provider's file host
    relay = NewAPIRelay(tiny_mp4, host.url)
    upstream.handler = relay
    app = make_app(upstream.url, follow=False, status_cache_seconds=0)
    yield app, app.test_client(), relay
    host.stop()


def settle(app, job_id):
    """Run the follower until the job is settled; the progress values it showed on the way."""
    store, seen = app.extensions["studio"].store, []

    def settled():
        app.extensions["studio"].follower.run_once()
        record = store.get(job_id)
        seen.append(record.job.progress)
        return record.is_settled

    wait_for(settled, timeout=60, what="the job settling")
    return seen


def test_a_task_is_followed_to_its_video_under_its_task_id(newapi, upstream, tiny_mp4):
    app, client, relay = newapi
    resp = submit(
        client,
        {
            "model": "kling-v1",
            "prompt": "A paper boat",
            "duration": "5",
            "width": "1280",
            "height": "720",
            "negative_prompt": "blur",
        },
    )
    assert resp.status_code == 303
    job_id = unquote(resp.headers["Location"].rsplit("/", 1)[1])
    assert job_id.startswith("task_") and job_id in relay.jobs
    create = upstream.creates[-1]
    assert create.field("seconds") == "5" and create.field("size") == "1280x720"  # what new-api reads
    seen = settle(app, job_id)
    assert 30 in seen  # "30%" became a number on the way
    record = app.extensions["studio"].store.get(job_id)
    assert record.job.status == "completed" and record.archive == "archived"
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    video = Page(page).find("source", type="video/mp4")[0].attrs["src"]
    assert client.get(video).data == tiny_mp4
    assert "did not keep these settings" not in page  # new-api's answers simply leave metadata out


def test_a_failed_task_shows_the_providers_message_and_code(newapi, upstream, tiny_mp4):
    app, client, relay = newapi
    resp = submit(client, {"prompt": "this will fail"})
    settle(app, unquote(resp.headers["Location"].rsplit("/", 1)[1]))
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "The job failed" in page and "内容审核未通过 (content review failed)" in page and "task_failed" in page


def test_task_errors_and_the_busy_answer_are_readable(newapi, upstream, tiny_mp4):
    app, client, relay = newapi
    busy = submit(client, {"prompt": "busy"})
    assert busy.status_code == 429 and BUSY in busy.get_data(as_text=True)
    assert relay.jobs == {}


def test_deleting_a_task_says_new_api_keeps_its_copy(newapi, upstream, tiny_mp4):
    app, client, relay = newapi
    resp = submit(client, {"prompt": "to remove"})
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    client.post(resp.headers["Location"] + "/delete", data={"csrf_token": hidden_value(page)})
    history = client.get("/jobs").get_data(as_text=True)
    assert "Removed from this studio. The API keeps its copy until it expires." in history
    assert any(r.method == "DELETE" for r in upstream.requests)
