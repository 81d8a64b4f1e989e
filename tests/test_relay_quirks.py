"""What relays and gateways do that the contract does not say, answered the way a person would want: an error
wrapped in a gateway's own error is unwrapped and shown at its field; a thumbnail answered with the video gives
the video's first frame as poster. The answers are LiteLLM's (litellm 1.108.7, seen from its proxy on
loopback: `litellm/proxy/video_endpoints/endpoints.py` raises them as ProxyException) and FastAPI's."""

import io
import json

import av
import pytest
from PIL import Image
from werkzeug.wrappers import Response

from app.upstream import Job
from support.client import submit
from support.pages import Page
from support.upstreams import job_body, json_response

# What LiteLLM's proxy answered for fps=500 sent through it to the demo API (captured 2026-12-01).
LITELLM_FLATTENED = {
    "error": {
        "message": 'litellm.BadRequestError: OpenAIException - {"error":{"message":"fps must be between 1 and 60.",'
        '"type":"invalid_request_error","param":"fps","code":"invalid_value"}}\n\n\nLiteLLM: '
        "model group 'sora-2' failed with the error above. No fallback was attempted.",
        "type": "invalid_request_error",
        "param": None,
        "code": "400",
    }
}
# What its FastAPI layer answered for input_reference sent as text.
FASTAPI_DETAIL = {
    "detail": [
        {
            "type": "value_error",
            "loc": ["body", "input_reference"],
            "msg": "Value error, Expected UploadFile, received: <class 'str'>",
        }
    ]
}


def field_errors(html):
    return {e.attrs["id"]: e.text for e in Page(html).find(class_="field-error")}


def test_an_error_wrapped_by_a_gateway_is_shown_at_its_field(make_app, upstream):
    upstream.handler = lambda req: json_response(LITELLM_FLATTENED, 400)
    client = make_app(upstream.url, follow=False).test_client()
    resp = submit(client, {"prompt": "a boat", "fps": "50"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert field_errors(html)["fps-error"].endswith("The video API says: fps must be between 1 and 60.")
    assert "OpenAIException" not in html and "litellm.BadRequestError" not in html
    assert Page(html).by_id("fps").attrs.get("value") == "50"  # what the person typed is kept


def test_a_fastapi_field_error_is_shown_at_the_image(make_app, upstream):
    upstream.handler = lambda req: json_response(FASTAPI_DETAIL, 422)
    client = make_app(upstream.url, follow=False).test_client()
    resp = submit(client, {"prompt": "a cat", "image_url": "https://example.com/cat.jpg"})
    errors = field_errors(resp.get_data(as_text=True))
    assert any("Expected UploadFile" in text for key, text in errors.items() if key.startswith("image")), errors


def two_colour_mp4():
    """A 2 s MP4 whose first frame is red and every later one blue."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i in range(20):
            frame = av.VideoFrame.from_image(Image.new("RGB", (64, 64), (220, 20, 20) if i == 0 else (20, 20, 220)))
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def test_a_thumbnail_answered_with_the_video_gives_its_first_frame(make_app, upstream):
    video = two_colour_mp4()
    asked = []

    def handler(req):
        if req.path.endswith("/content"):
            asked.append(req.args.get("variant", "video"))
            return Response(video, mimetype="video/mp4")  # variant ignored, as LiteLLM does
        return json_response(job_body("video_thumb", status="completed", progress=100))

    upstream.handler = handler
    app = make_app(upstream.url, follow=False)
    app.extensions["studio"].store.add(Job(id="video_thumb", status="queued"), {"prompt": "p"})
    app.extensions["studio"].follower.run_once()
    record = app.extensions["studio"].store.get("video_thumb")
    assert record.archive == "archived" and "thumbnail" in asked
    poster = app.test_client().get("/jobs/video_thumb/poster/0.jpg")
    assert poster.status_code == 200
    red, _, blue = Image.open(io.BytesIO(poster.data)).convert("RGB").resize((1, 1)).getpixel((0, 0))
    assert red > 150 and blue < 100, (red, blue)


@pytest.mark.parametrize(
    "body",
    [
        {"error": {"message": "outer", "param": None}},
        {"error": {"message": "see {not json at all"}},
        {"error": {"message": '{"error": {"message": ""}}'}},
    ],
)
def test_messages_that_only_look_wrapped_are_shown_as_they_are(make_app, upstream, body):
    upstream.handler = lambda req: json_response(body, 400)
    client = make_app(upstream.url, follow=False).test_client()
    html = submit(client, {"prompt": "a boat"}).get_data(as_text=True)
    assert json.loads(json.dumps(body))["error"]["message"].replace('"', "&#34;")[:10] in html


@pytest.mark.parametrize(
    "liveliness, headers, flavour",
    [
        (Response("not here", 404), {}, "relay"),  # new-api, one-api, the demo API
        (Response('"I\'m alive!"', 200, mimetype="application/json"), {}, "openai"),  # LiteLLM's proxy
        (Response("<html>console</html>", 200, mimetype="text/html"), {}, "relay"),  # new-api's web console
        (Response("not here", 404), {"x-litellm-version": "1.108.7"}, "openai"),  # learned from an answer
    ],
)
def test_auto_writes_requests_the_way_the_upstream_reads_them(make_app, upstream, liveliness, headers, flavour):
    def handler(req):
        if req.path == "/health/liveliness":
            return liveliness
        if req.path == "/v1/models":
            return json_response({"data": [{"id": "kling-v1"}]}, headers=headers)
        return json_response(job_body("video_auto"), headers=headers)

    upstream.handler = handler
    client = make_app(upstream.url, follow=False).test_client()
    client.get("/")  # the form page reads the model list
    assert submit(client, {"prompt": "a boat", "duration": "5", "width": "1280", "height": "720"}).status_code == 303
    names = [p[0] for p in upstream.creates[-1].parts()]
    assert (
        ("metadata" not in names and "duration" not in names and "seconds" in names)
        if flavour == "openai"
        else {"duration", "width", "height", "seconds", "size"} <= set(names)
    )


def openai_whole_object(job_id):
    """A job as LiteLLM re-serialises it: OpenAI's video object, nulls written, no metadata."""
    return {
        "id": job_id,
        "object": "video",
        "model": "kling-v1",
        "status": "queued",
        "progress": 0,
        "created_at": 1796137131,
        "completed_at": None,
        "expires_at": 1796223531,
        "error": None,
        "remixed_from_video_id": None,
        "seconds": "5",
        "size": "1280x720",
        "usage": {"duration_seconds": 5.0},
    }


def test_the_card_names_the_settings_an_openai_shaped_answer_dropped_and_escapes_them(make_app, upstream):
    upstream.handler = lambda req: json_response(openai_whole_object("video_dropped"))
    client = make_app(upstream.url, follow=False, video_api_flavor="relay").test_client()
    resp = submit(
        client, {"prompt": "a boat", "negative_prompt": "blur", "metadata": '{"<b>bold</b>": 1, "style_ref": "x"}'}
    )
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    notice = Page(html).find(data_ignored_fields="")
    assert notice and "negative_prompt" in notice[0].text and "style_ref" in notice[0].text
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html


def test_no_notice_when_the_answer_keeps_or_cannot_tell(make_app, upstream):
    upstream.handler = lambda req: json_response(job_body("video_kept", metadata={"negative_prompt": "blur"}))
    client = make_app(upstream.url, follow=False, video_api_flavor="relay").test_client()
    resp = submit(client, {"prompt": "a boat", "negative_prompt": "blur"})
    assert not Page(client.get(resp.headers["Location"]).get_data(as_text=True)).find(data_ignored_fields="")
