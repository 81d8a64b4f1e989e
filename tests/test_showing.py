"""Showing work to people: share links for people without a password, stopping a running job, a
comparison that says what differs, cards for people with the rest under "Details", and presentation mode.
In-process against a scripted upstream (the browser checks are in tests/test_browser_showing.py)."""

import hashlib
import re
import sqlite3

from test_history_and_archive import lifecycle, wait_settled

from support.client import csrf_token, submit
from support.pages import Page
from support.upstreams import job_body, json_response

PASSWORD = "correct horse battery"
PROMPT = "a lighthouse in a storm, waves breaking"


def signed_in(app):
    member = app.test_client()
    member.post("/login", data={"csrf_token": csrf_token(member, "/login"), "name": "Ana", "password": PASSWORD})
    return member


def finished_job(app, upstream, tiny_mp4, prompt=PROMPT):
    upstream.handler = lifecycle(tiny_mp4)
    member = signed_in(app)
    assert submit(member, {"prompt": prompt}).status_code == 303
    job_id = app.extensions["studio"].store.history.search()[0][0].id
    assert wait_settled(member, job_id)["archive"] == "archived"
    return member, job_id


def share(member, job_id, lifetime="week", allow_download=False):
    data = {"csrf_token": csrf_token(member, f"/jobs/{job_id}"), "lifetime": lifetime}
    if allow_download:
        data["allow_download"] = "1"
    resp = member.post(f"/jobs/{job_id}/share", data=data)
    assert resp.status_code == 303
    page = Page(member.get(resp.headers["Location"]).get_data(as_text=True))
    link = page.by_id("share-url").text.strip()
    assert re.fullmatch(r"http://localhost/s/[A-Za-z0-9_-]{32}", link), link
    return link.removeprefix("http://localhost")


def test_a_share_link_shows_the_video_and_prompt_to_someone_signed_out_and_nothing_else(make_app, upstream, tiny_mp4):
    app = make_app(upstream.url, app_password=PASSWORD)
    member, job_id = finished_job(app, upstream, tiny_mp4)
    path = share(member, job_id)
    stranger = app.test_client()
    resp = stranger.get(path)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    page = Page(html)
    assert PROMPT in html
    video = page.find("video")[0]
    source = page.find("source")[0].attrs["src"]
    assert source.startswith(path + "/video/") and video.attrs.get("poster", "").startswith(path + "/poster/")
    # only the video: no form of the studio, no history, no other page's link, no job id
    assert not page.find("form", id="job-form") and not page.find("textarea")
    assert "/jobs" not in html and job_id not in html
    assert page.find("meta", name="robots")[0].attrs["content"] == "noindex, nofollow"
    assert "noindex" in resp.headers["X-Robots-Tag"] and "private" in resp.headers["Cache-Control"]
    played = stranger.get(source, headers={"Range": "bytes=0-99"})
    assert played.status_code == 206 and len(played.data) == 100
    assert stranger.get(page.find("video")[0].attrs["poster"]).status_code in (200, 404)
    # downloads were not allowed: no button, and the address refuses
    assert not page.find("a", download="") and stranger.get(source + "?download=1").status_code == 404
    # the token opens no other route: the job's own pages still send a stranger to sign in
    token = path.rsplit("/", 1)[1]
    for other in (f"/jobs/{job_id}", f"/jobs/{job_id}/video/0.mp4", "/jobs", f"/jobs/{job_id}/status", "/"):
        asked = stranger.get(f"{other}?token={token}", headers={"Authorization": f"Bearer {token}"})
        assert asked.status_code in (302, 401) and PROMPT not in asked.get_data(as_text=True), other


def test_the_database_keeps_only_the_tokens_hash(make_app, upstream, tiny_mp4):
    app = make_app(upstream.url, app_password=PASSWORD)
    member, job_id = finished_job(app, upstream, tiny_mp4)
    token = share(member, job_id).rsplit("/", 1)[1]
    with sqlite3.connect(app.extensions["studio"].store.path) as db:
        dump = "\n".join(db.iterdump())
    assert token not in dump and hashlib.sha256(token.encode()).hexdigest() in dump


def test_a_revoked_link_and_an_expired_link_open_nothing(make_app, upstream, tiny_mp4):
    app = make_app(upstream.url, app_password=PASSWORD)
    member, job_id = finished_job(app, upstream, tiny_mp4)
    store = app.extensions["studio"].store
    kept, revoked, daily = (
        share(member, job_id),
        share(member, job_id, allow_download=True),
        share(member, job_id, "day"),
    )
    page = Page(member.get(f"/jobs/{job_id}").get_data(as_text=True))
    listed = page.find("ul", **{"data-share-list": ""})[0]
    assert listed.text.count("works until") == 3 and "downloads allowed" in listed.text
    stranger = app.test_client()
    assert stranger.get(revoked + "/video/0.mp4?download=1").status_code == 200  # allowed for this one
    link_id = store.shares.for_job(job_id)[1].id  # newest first: the daily link, then the revoked one
    revoke = member.post(
        f"/jobs/{job_id}/share/{link_id}/revoke", data={"csrf_token": csrf_token(member, f"/jobs/{job_id}")}
    )
    assert revoke.status_code == 303
    assert "revoked" in member.get(revoke.headers["Location"]).get_data(as_text=True)
    for gone in (revoked, revoked + "/video/0.mp4", revoked + "/poster/0.jpg"):
        resp = stranger.get(gone)
        assert resp.status_code == 404 and PROMPT not in resp.get_data(as_text=True), gone
    assert stranger.get(kept).status_code == 200 and stranger.get(daily).status_code == 200
    later = store.clock() + 86400 + 1
    store.clock = lambda: later  # a day and a second later: the day's link has run out, the week's has not
    assert stranger.get(daily).status_code == 404
    assert stranger.get(kept).status_code == 200
    assert len(Page(member.get(f"/jobs/{job_id}").get_data(as_text=True)).find("li")) >= 1
    assert [link.expires_at > later for link in store.shares.for_job(job_id)] == [True]


def test_made_up_or_malformed_tokens_open_nothing(make_app, upstream, tiny_mp4):
    app = make_app(upstream.url, app_password=PASSWORD)
    member, job_id = finished_job(app, upstream, tiny_mp4)
    real = share(member, job_id).rsplit("/", 1)[1]
    stranger = app.test_client()
    for token in ("A" * 32, real[:-1] + ("A" if real[-1] != "A" else "B"), real[:31], real + "x", "..%2Fjobs", "%00"):
        resp = stranger.get(f"/s/{token}")
        # a token with a slash in it names no share route at all: the sign-in page, as for any address
        assert resp.status_code == (302 if "%2F" in token else 404) and PROMPT not in resp.get_data(as_text=True), token


def test_deleting_a_job_ends_its_links(make_app, upstream, tiny_mp4):
    app = make_app(upstream.url, app_password=PASSWORD)
    member, job_id = finished_job(app, upstream, tiny_mp4)
    path = share(member, job_id)
    member.post(f"/jobs/{job_id}/delete", data={"csrf_token": csrf_token(member, f"/jobs/{job_id}")})
    assert app.test_client().get(path).status_code == 404
    assert app.extensions["studio"].store.shares.for_job(job_id) == []


def test_only_a_finished_video_can_be_shared(client, upstream):
    upstream.handler = lambda req: json_response(job_body("video_run", status="in_progress", progress=10))
    submit(client, {"prompt": "still running"})
    resp = client.post("/jobs/video_run/share", data={"csrf_token": csrf_token(client, "/jobs/video_run")})
    assert resp.status_code == 303
    assert "Only a finished video can be shared" in client.get(resp.headers["Location"]).get_data(as_text=True)


def test_stop_asks_the_api_to_cancel_stops_following_and_says_what_the_api_did(make_app, upstream):
    upstream.handler = lambda req: (
        json_response({"id": "video_long", "object": "video.deleted", "deleted": True})
        if req.method == "DELETE"
        else json_response(job_body("video_long", status="in_progress", progress=30))
    )
    app = make_app(upstream.url, follow=False)
    client = app.test_client()
    submit(client, {"prompt": "a very long job"})
    page = Page(client.get("/jobs/video_long").get_data(as_text=True))
    assert page.find("form", action="/jobs/video_long/stop")
    resp = client.post("/jobs/video_long/stop", data={"csrf_token": csrf_token(client, "/jobs/video_long")})
    assert resp.status_code == 303
    assert [r.method for r in upstream.requests if r.path == "/v1/videos/video_long"] == ["DELETE"]
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "the video API cancelled the job" in html
    card = Page(html).find(**{"data-job-card": ""})[0]
    assert card.attrs["data-settled"] == "true" and "Stopped" in card.text
    record = app.extensions["studio"].store.get("video_long")
    assert record.stopped and record.stopped["confirmed"] and not record.status.is_running
    follower = app.extensions["studio"].follower
    before = len(upstream.requests)
    follower.run_once()
    assert len(upstream.requests) == before, "a stopped job is not followed any more"
    assert not Page(client.get("/jobs/video_long").get_data(as_text=True)).find("form", action="/jobs/video_long/stop")


def test_stop_on_an_api_without_cancel_says_the_job_may_still_finish(make_app, upstream):
    upstream.handler = lambda req: (
        json_response({"error": {"message": "Method Not Allowed", "type": "invalid_request_error"}}, 405)
        if req.method == "DELETE"
        else json_response(job_body("video_relay", status="queued"))
    )
    app = make_app(upstream.url, follow=False)
    client = app.test_client()
    submit(client, {"prompt": "on a relay"})
    resp = client.post("/jobs/video_relay/stop", data={"csrf_token": csrf_token(client, "/jobs/video_relay")})
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "has no way to cancel a job, so it may still finish upstream and be charged" in html
    assert not app.extensions["studio"].store.get("video_relay").status.is_running


def test_a_comparison_is_headed_by_what_differs(client, upstream):
    upstream.handler = lambda req: json_response(job_body(f"video_s{len(upstream.creates)}"))
    long_prompt = "A fox in the snow at dusk, " + "with lanterns glowing along the frozen river " * 3
    resp = client.post(
        "/compare",
        data={
            "csrf_token": csrf_token(client),
            "prompt": long_prompt,
            "compare_mode": "seeds",
            "compare_values": "7 8 9",
        },
    )
    page = Page(client.get(resp.headers["Location"]).get_data(as_text=True))
    heading = page.find("h1")[0].text.strip()
    assert heading.startswith("3 seeds of “A fox in the snow at dusk") and heading.endswith("…”"), heading
    assert [v.text.strip() for v in page.find(**{"data-variant": ""})] == ["Seed 7", "Seed 8", "Seed 9"]
    # cards for people: the prompt on each card, ids and the request folded under Details
    assert page.find(**{"data-card-prompt": ""}) and page.find("details", class_="card-details")
    assert "video_s1" not in "".join(e.text for e in page.find("header", class_="job-card-head"))


def test_comparing_prompts_heads_each_card_with_its_prompt(client, upstream):
    upstream.handler = lambda req: json_response(job_body(f"video_p{len(upstream.creates)}"))
    resp = client.post(
        "/compare",
        data={
            "csrf_token": csrf_token(client),
            "prompt": "unused",
            "compare_mode": "prompts",
            "compare_values": "a red kite over a beach\na blue kite over a field",
        },
    )
    page = Page(client.get(resp.headers["Location"]).get_data(as_text=True))
    assert page.find("h1")[0].text.strip() == "2 prompts"
    assert [v.text.strip() for v in page.find(**{"data-variant": ""})] == [
        "a red kite over a beach",
        "a blue kite over a field",
    ]


def test_the_present_page_shows_the_picked_finished_videos_with_their_prompts(make_app, upstream, tiny_mp4):
    app = make_app(upstream.url)
    client = app.test_client()
    upstream.handler = lifecycle(tiny_mp4)
    ids = []
    for prompt in ("first: a kite", "second: a boat"):
        submit(client, {"prompt": prompt})
        ids.append(app.extensions["studio"].store.history.search()[0][0].id)
        wait_settled(client, ids[-1])
    history = Page(client.get("/jobs").get_data(as_text=True))
    assert sorted(i.attrs["value"] for i in history.find("input", name="id")) == sorted(ids)
    page = Page(client.get(f"/present?id={ids[0]}&id={ids[1]}&id=video_unknown&layout=one").get_data(as_text=True))
    slides = page.find("figure", class_="slide")
    assert len(slides) == 2 and "hidden" not in slides[0].attrs and "hidden" in slides[1].attrs
    assert "first: a kite" in slides[0].text and "second: a boat" in slides[1].text
    nxt = page.find("a", **{"data-present-next": ""})[0].attrs["href"]
    assert "at=1" in nxt and "layout=one" in nxt
    side = Page(client.get(f"/present?id={ids[0]}&id={ids[1]}&layout=side").get_data(as_text=True))
    assert not any("hidden" in s.attrs for s in side.find("figure", class_="slide"))
    assert client.get("/present?id=video_unknown").status_code == 404


def test_the_cards_details_are_in_the_pages_language(client, upstream):
    upstream.handler = lambda req: json_response(job_body("video_zh", status="in_progress", progress=5))
    submit(client, {"prompt": "一只猫", "model": "kling-v1", "seed": "5"})
    client.set_cookie("lang", "zh")
    page = Page(client.get("/jobs/video_zh").get_data(as_text=True))
    details = page.find("details", class_="card-details")[0]
    labels = [e.text.strip() for e in page.find("dt") if e.text.strip()]
    assert "模型" in labels and "种子" in labels, labels  # the form's own labels, in Chinese
    assert "model" not in labels and "seed" not in labels
    assert "详细信息" in details.text and "发送于" in details.text
