"""What a person sees when the input is wrong or the upstream fails: a readable error, values kept, no 500."""

import io
import json
import logging
import re

import pytest
from werkzeug.wrappers import Response

from support.client import TEST_KEY, csrf_token, submit
from support.media import make_png
from support.pages import Page, hidden_value
from support.servers import free_port
from support.upstreams import json_response, slow

FILLED = {
    "model": "kling-v1",
    "prompt": "a red fox in the snow",
    "duration": "5",
    "width": "1280",
    "height": "720",
    "fps": "24",
    "seed": "42",
    "user": "ana",
    "metadata": '{"mode": "pro"}',
}


def assert_values_kept(html):
    page = Page(html)
    assert page.value("prompt") == "a red fox in the snow"
    for name, value in (
        ("model", "kling-v1"),
        ("duration", "5"),
        ("width", "1280"),
        ("fps", "24"),
        ("seed", "42"),
        ("user", "ana"),
    ):
        assert page.value(name) == value, name
    assert page.value("metadata") == '{"mode": "pro"}'


def field_error(html, field):
    """The error message rendered next to a field, tied to it by aria-describedby."""
    page = Page(html)
    assert page.find(id=f"{field}-error"), f"no error next to {field}"
    assert f"{field}-error" in page.by_id(field).attrs.get("aria-describedby", "").split()
    return page.text(f"{field}-error").replace("Error:", "").strip()


UPSTREAM_FAILURES = [
    (
        "spec-400-with-param",
        lambda r: json_response(
            {
                "error": {
                    "message": "duration must be 5 or 10",
                    "type": "invalid_request_error",
                    "param": "duration",
                    "code": "invalid_duration",
                }
            },
            400,
        ),
        400,
        ["duration must be 5 or 10", "invalid_request_error", "invalid_duration"],
        "duration",
    ),
    (
        "relay-task-error",
        lambda r: json_response({"code": "invalid_request", "message": "prompt is required", "data": None}, 400),
        400,
        ["prompt is required", "invalid_request"],
        "prompt",
    ),
    (
        "relay-size-param",
        lambda r: json_response(
            {"error": {"message": "size not supported", "type": "new_api_error", "param": "size", "code": None}}, 400
        ),
        400,
        ["size not supported"],
        "width",
    ),
    (
        "auth-401",
        lambda r: json_response(
            {"error": {"message": "无效的令牌", "type": "new_api_error", "param": "", "code": "invalid_api_key"}}, 401
        ),
        502,
        ["refused the stored key", "无效的令牌"],
        None,
    ),
    (
        "busy-429",
        lambda r: json_response(
            {"error": {"message": "当前分组上游负载已饱和，请稍后再试", "type": "new_api_error"}},
            429,
            {"Retry-After": "30"},
        ),
        429,
        ["busy or the quota is used up", "请稍后再试", "30 s"],
        None,
    ),
    (
        "gateway-html-502",
        lambda r: Response(
            "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>",
            502,
            mimetype="text/html",
        ),
        502,
        ["HTML page", "502 Bad Gateway"],
        None,
    ),
    (
        "plain-text-503",
        lambda r: Response("upstream connect error or disconnect/reset before headers", 503, mimetype="text/plain"),
        502,
        ["HTTP 503", "upstream connect error"],
        None,
    ),
    ("200-not-json", lambda r: Response("OK", 200, mimetype="text/plain"), 502, ["not JSON"], None),
    ("200-without-id", lambda r: json_response({"object": "video", "status": "queued"}), 502, ["no job id"], None),
]


@pytest.mark.parametrize("name,handler,status,texts,field", UPSTREAM_FAILURES, ids=[u[0] for u in UPSTREAM_FAILURES])
def test_upstream_failures_are_readable_and_keep_the_values(client, upstream, name, handler, status, texts, field):
    upstream.handler = handler
    resp = submit(client, FILLED)
    page = resp.get_data(as_text=True)
    assert resp.status_code == status
    if name.startswith("200-"):  # the API said yes but its answer is unusable: the job may exist
        assert "No usable answer came back from the video API" in page and "may have been created" in page
        # the notice links to the row kept in the history, so the person can check it before sending again
        assert re.search(r'It is in the <a href="/jobs/[^"]+">history as “may have been created”</a>', page)
    else:
        assert "The video API could not create the job" in page and "Nothing was created" in page
    for text in texts:
        assert text in page, text
    assert_values_kept(page)
    if field:
        assert "The video API says" in field_error(page, field)
    assert TEST_KEY not in page


def test_a_read_timeout_is_answered_near_the_configured_limit(make_app, upstream):
    upstream.handler = slow(5, Response("{}", mimetype="application/json"))
    client = make_app(upstream.url, video_api_timeout=1.0).test_client()
    token = csrf_token(client)
    resp = client.post("/jobs", data={**FILLED, "csrf_token": token}, content_type="multipart/form-data")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 504
    assert "did not answer within 1 s" in page  # the configured limit is what ended the wait
    assert_values_kept(page)


def test_connection_refused_is_explained(make_app):
    client = make_app(f"http://127.0.0.1:{free_port()}").test_client()
    resp = submit(client, FILLED)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 502
    assert "refused the connection" in page
    assert_values_kept(page)


def test_a_post_without_csrf_token_is_refused_with_the_values_kept(client, upstream):
    resp = client.post("/jobs", data=FILLED, content_type="multipart/form-data")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "nothing was sent" in page
    assert_values_kept(page)
    assert upstream.creates == []


@pytest.mark.parametrize(
    "fields,field,message",
    [
        ({"prompt": ""}, "prompt", "Describe the video you want."),
        ({"prompt": "x" * 2501}, "prompt", "at most 2,500 characters"),
        ({"metadata": "{not json"}, "metadata", "not valid JSON"),
        ({"metadata": "[1, 2]"}, "metadata", "must be a JSON object"),
        ({"fps": "500"}, "fps", "between 1 and 120"),
        ({"fps": "thirty"}, "fps", "whole number"),
        ({"duration": "five"}, "duration", "number of seconds"),
        ({"seed": "-5"}, "seed", "between 0 and"),
        ({"width": "1280", "height": ""}, "height", "both width and height"),
        ({"image_url": "ftp://example.com/a.png"}, "image_url", "http:// or https://"),
        ({"response_format": "gif"}, "response_format", "Not a valid choice"),
        # Numbers far too long are refused before they are converted (they used to answer 500).
        ({"seed": "9" * 400}, "seed", "far too large"),
        ({"fps": "-" + "9" * 400}, "fps", "far too large"),
        ({"n": "+" + "1" * 401}, "n", "far too large"),
        ({"width": "9" * 400, "height": "720"}, "width", "far too large"),
        ({"width": "1280", "height": "9" * 400}, "height", "far too large"),
        ({"metadata": '{"mode": ' + "9" * 5000 + "}"}, "metadata", "far too long"),
        ({"metadata": '{"a": [' + "1" * 4400 + "]}"}, "metadata", "far too long"),
    ],
)
def test_bad_input_is_shown_next_to_its_field_and_in_the_summary(client, upstream, fields, field, message):
    resp = submit(client, {**FILLED, **fields})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert message in field_error(page, field)
    assert f'<a href="#{field}">' in page  # the summary links to the field
    assert "<title>Error: " in page
    assert upstream.creates == []


@pytest.mark.parametrize(
    "data,message",
    [
        (b"GIF89a" + b"\x00" * 40, "not a picture"),
        (b"just text", "not a picture"),
    ],
)
def test_a_file_that_is_not_an_allowed_image_is_refused(client, upstream, data, message):
    resp = submit(client, {"prompt": "p"}, {"image_file": (io.BytesIO(data), "a.png")})
    assert resp.status_code == 400
    assert message in field_error(resp.get_data(as_text=True), "image_file")


def test_a_gif_is_refused_by_format(client, upstream):
    gif = make_png(400, 400, fmt="GIF")
    resp = submit(client, {"prompt": "p"}, {"image_file": (io.BytesIO(gif), "a.gif")})
    assert "GIF images are not accepted" in field_error(resp.get_data(as_text=True), "image_file")


def test_an_image_over_the_limit_is_refused(make_app, upstream):
    client = make_app(upstream.url, max_upload_mb=0.05).test_client()
    big = make_png(2000, 2000, fmt="BMP")[:200_000]
    resp = submit(client, {"prompt": "p"}, {"image_file": (io.BytesIO(big), "a.png")})
    assert resp.status_code == 400
    assert "at most 0.05 MB" in field_error(resp.get_data(as_text=True), "image_file")


def test_a_body_beyond_the_limit_gets_the_friendly_413_page(make_app, upstream):
    client = make_app(upstream.url, max_upload_mb=0.05).test_client()
    resp = submit(client, {"prompt": "p"}, {"image_file": (io.BytesIO(b"x" * 1_200_000), "a.png")})
    assert resp.status_code == 413
    assert "Images may be at most 0.05 MB" in resp.get_data(as_text=True)


def test_the_chosen_image_is_kept_when_the_form_comes_back(client, upstream):
    png = make_png(500, 400)
    resp = submit(client, {**FILLED, "fps": "500"}, {"image_file": (io.BytesIO(png), "fox.png")})
    page = resp.get_data(as_text=True)
    token = hidden_value(page, "image_token")
    preview = Page(page).find("img", alt="Preview of the chosen image")[0].attrs["src"]
    assert client.get(preview).data == png
    again = submit(client, {**FILLED, "image_token": token})
    assert again.status_code == 303
    import base64

    assert base64.b64decode(upstream.creates[0].field("image")) == png


def test_both_an_upload_and_a_url_is_refused(client, upstream):
    resp = submit(
        client,
        {"prompt": "p", "image_url": "https://example.com/a.png"},
        {"image_file": (io.BytesIO(make_png()), "a.png")},
    )
    assert "not both" in field_error(resp.get_data(as_text=True), "image_url")


def test_small_or_stretched_images_get_a_warning_not_a_refusal(client, upstream):
    resp = submit(client, {"prompt": "p"}, {"image_file": (io.BytesIO(make_png(1000, 200)), "a.png")})
    assert resp.status_code == 303
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "at least 300 px" in page and "at most 2.5:1" in page


def test_the_key_never_appears_in_pages_or_logs(client, upstream, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    upstream.handler = lambda r: json_response({"error": {"message": f"bad key {TEST_KEY}", "type": "x"}}, 401)
    page = submit(client, FILLED).get_data(as_text=True)
    assert "[redacted]" in page
    upstream.handler = lambda r: json_response({"id": "v1", "status": "queued"})
    job_page = client.get(submit(client, FILLED).headers["Location"]).get_data(as_text=True)
    out, err = capfd.readouterr()
    for text in (page, job_page, caplog.text, out, err):
        assert TEST_KEY not in text


@pytest.mark.parametrize(
    "metadata,message",
    [
        ("[" * 5000 + "]" * 5000, "nested too deeply"),
        ('{"a":' * 2000 + "1" + "}" * 2000, "nested too deeply"),
        (json.dumps({"notes": "x" * 20000}), "at most 16,384 characters"),
    ],
)
def test_metadata_that_is_too_deep_or_too_large_is_a_clear_error(client, upstream, metadata, message):
    resp = submit(client, {"prompt": "meta", "metadata": metadata})
    assert resp.status_code == 400 and message in field_error(resp.get_data(as_text=True), "metadata")
    assert not upstream.creates


@pytest.mark.parametrize("query", ["page=1e20", "page=99999999999999999999999", "page=-5", "page=%00", "q=%FF%FE"])
def test_odd_history_queries_never_cause_a_500(client, query):
    assert client.get(f"/jobs?{query}").status_code == 200
