"""Submitting the form: every field reaches the upstream with its value, with the stored key."""

import base64
import io
import json
import time

from support.client import TEST_KEY, submit
from support.media import make_png
from support.pages import Page, hidden_value
from support.upstreams import job_body, json_response

EVERY_FIELD = {
    "model": "my-relay-model",
    "prompt": "宇航员站起身走了 An astronaut stands up",
    "duration": "10",
    "width": "720",
    "height": "1280",
    "fps": "30",
    "seed": "20231234",
    "n": "2",
    "response_format": "url",
    "user": "user-1234",
    "negative_prompt": "blurry, text",
    "style": "anime",
    "quality_level": "high",
    "metadata": '{"cfg_scale": 0.5, "mode": "pro", "style": "ignored"}',
}


def test_every_field_reaches_the_upstream_with_its_value(client, upstream):
    png = make_png(640, 400)
    resp = submit(client, EVERY_FIELD, {"image_file": (io.BytesIO(png), "astronaut.png")})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    assert resp.headers["Location"].endswith("/jobs/video_123")

    [sent] = upstream.creates
    assert sent.method == "POST" and sent.path == "/v1/videos"
    assert sent.content_type.startswith("multipart/form-data")
    assert sent.headers["Authorization"] == f"Bearer {TEST_KEY}"
    expected = {
        "model": "my-relay-model",
        "prompt": EVERY_FIELD["prompt"],
        "duration": "10",
        "width": "720",
        "height": "1280",
        "fps": "30",
        "seed": "20231234",
        "n": "2",
        "response_format": "url",
        "user": "user-1234",
        "seconds": "10",
        "size": "720x1280",
    }
    for name, value in expected.items():
        assert sent.field(name) == value, name
    assert base64.b64decode(sent.field("image"), validate=True) == png
    assert json.loads(sent.field("metadata")) == {
        "cfg_scale": 0.5,
        "mode": "pro",
        "style": "anime",
        "negative_prompt": "blurry, text",
        "quality_level": "high",
    }
    assert sent.names.count("metadata") == 1


def test_an_image_url_is_passed_through_unchanged(client, upstream):
    url = "https://cdn.example.com/path/cat%20photo.jpg?sig=a+b&x=1"
    assert submit(client, {"prompt": "a cat", "image_url": url}).status_code == 303
    assert upstream.creates[0].field("image") == url


def test_data_url_format_when_configured(make_app, upstream):
    client = make_app(upstream.url, image_base64_format="data-url").test_client()
    jpeg = make_png(400, 400, fmt="JPEG")
    assert submit(client, {"prompt": "p"}, {"image_file": (io.BytesIO(jpeg), "a.jpg")}).status_code == 303
    assert upstream.creates[0].field("image") == "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()


def test_empty_optional_fields_are_left_out_and_aliases_can_be_off(make_app, upstream):
    client = make_app(upstream.url, send_compat_aliases=False).test_client()
    resp = submit(
        client,
        {
            "prompt": "just a prompt",
            "model": "",
            "duration": "5",
            "width": "",
            "height": "",
            "fps": "",
            "seed": "",
            "n": "",
            "response_format": "",
            "user": "",
            "metadata": "",
        },
    )
    assert resp.status_code == 303
    assert upstream.creates[0].names == ["prompt", "duration"]


def test_the_job_card_shows_every_field_of_the_job(client, upstream):
    upstream.handler = lambda req: json_response(
        job_body(
            "task_abc",
            status="processing",
            progress=40,
            created_at=1764000000123,
            expires_at=1764086400,
            metadata={"url": "https://x.example/v.mp4", "negative_prompt": "blur"},
        )
    )
    resp = submit(client, {"prompt": "an owl at night"})
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "task_abc" in page and "kling-v1" in page
    assert 'class="badge badge--in_progress"' in page and "In progress" in page
    assert 'value="40"' in page  # the progress bar
    assert "Nov 24, 2025, 4:00:00\u202fPM UTC" in page  # milliseconds read as such
    assert "1764000000123" in page  # the raw value stays available
    assert "Nov 25, 2025, 4:00:00\u202fPM UTC" in page
    assert "1280x720" in page and "5 s" in page
    assert "negative_prompt" in page and "https://x.example/v.mp4" in page
    assert "an owl at night" in page


def test_unknown_job_is_a_friendly_404(client):
    resp = client.get("/jobs/nope")
    assert resp.status_code == 404 and "No job with id nope" in resp.get_data(as_text=True)


def test_demo_mode_says_so_on_every_page(make_app, upstream):
    demo = make_app(upstream.url, demo_mode=True).test_client()
    assert "Demo mode." in demo.get("/").get_data(as_text=True)
    assert "Demo mode." in demo.get("/jobs").get_data(as_text=True)
    real = make_app(upstream.url).test_client()
    assert "Demo mode." not in real.get("/").get_data(as_text=True)


def test_the_page_takes_every_limit_from_the_form_itself(client):
    """One source for each limit: the inputs' min, max and maxlength are the validators' values."""
    from wtforms.validators import Length, NumberRange

    from app.media.images import IMAGE_RULES
    from app.web.forms import VideoJobForm

    page = Page(client.get("/").get_data(as_text=True))
    for name, unbound in VideoJobForm._unbound_fields:
        for validator in unbound.kwargs.get("validators", []):
            control = page.find(name=name)[0]
            if isinstance(validator, NumberRange):
                assert float(control.attrs["min"]) == validator.min and float(control.attrs["max"]) == validator.max
            if isinstance(validator, Length) and validator.max > 0:
                assert int(control.attrs["maxlength"]) == validator.max, name
    form = page.find("form", id="job-form")[0]
    assert float(form.attrs["data-kling-min-side"]) == IMAGE_RULES["min_side"]
    assert float(form.attrs["data-kling-max-ratio"]) == IMAGE_RULES["max_ratio"]
    assert "/ 2,500 characters" in page.text("prompt-count")


def test_an_example_fills_the_whole_form_and_its_picture_is_sent(client, upstream):
    from app.catalog.examples import load_examples

    example = next(e for e in load_examples() if e.image_path)
    form = client.get("/")
    assert f"/?example={example.id}" in form.get_data(as_text=True)
    page = Page(client.get(f"/?example={example.id}").get_data(as_text=True))
    assert page.value("prompt") == example.values["prompt"]
    assert (page.value("width"), page.value("height")) == (str(example.values["width"]), str(example.values["height"]))
    assert page.value("image_token") and page.find("img", alt="Preview of the chosen image")
    resp = client.post(
        "/jobs",
        data={
            "csrf_token": page.hidden(),
            "image_token": page.hidden("image_token"),
            **{n: page.value(n) for n in ("prompt", "model", "duration", "width", "height")},
        },
    )
    assert resp.status_code == 303
    with open(example.image_path, "rb") as fh:
        assert base64.b64decode(upstream.creates[0].field("image")) == fh.read()


def test_every_shipped_example_is_valid(client):
    from app.catalog.examples import load_examples

    examples = load_examples()
    assert len(examples) >= 4 and any(e.image_path for e in examples) and any(not e.image_path for e in examples)
    for example in examples:
        page = client.get(f"/?example={example.id}")
        assert page.status_code == 200 and "Filled in from the example" in page.get_data(as_text=True)


def test_the_empty_form_kept_for_everyone_still_gives_each_visit_its_own_tokens(app, upstream):
    """The empty form page is rendered once and reused (make bench); each visit still gets a CSRF token
    that works for its own session and a fresh one-time submission id, in its own language."""
    ana, bo = app.test_client(), app.test_client()
    pages = [
        ana.get("/").get_data(as_text=True),
        ana.get("/").get_data(as_text=True),
        bo.get("/").get_data(as_text=True),
    ]
    submissions = [hidden_value(p, "submission_id") for p in pages]
    assert len(set(submissions)) == 3, "a submission id was handed out twice"
    assert hidden_value(pages[0]) != hidden_value(pages[2]), "two visitors share a CSRF token"
    for client, page in ((ana, pages[1]), (bo, pages[2])):
        tokens = {e.attrs["value"] for e in Page(page).find("input", name="csrf_token")}
        assert len(tokens) == 1, "the page holds a token that is not this visitor's"  # switch and job form
        sent = client.post(
            "/jobs",
            data={
                "csrf_token": tokens.pop(),
                "prompt": "cached form",
                "submission_id": hidden_value(page, "submission_id"),
            },
            content_type="multipart/form-data",
        )
        assert sent.status_code == 303, sent.get_data(as_text=True)[:300]
    chinese = bo.get("/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert '<html lang="zh-CN">' in chinese and '<html lang="en">' in ana.get("/").get_data(as_text=True)


def test_the_kept_empty_form_follows_the_model_list_and_keeps_one_copy_per_language(make_app, upstream):
    """When the video API's model list changes, the next visit's form offers the new models; the kept
    copies do not pile up, one per language whatever the lists were."""
    offered = ["kling-v1"]

    def handler(req):
        if req.path == "/v1/models":
            return json_response({"object": "list", "data": [{"id": m, "object": "model"} for m in offered]})
        return json_response(job_body())

    upstream.handler = handler
    app = make_app(upstream.url, models_cache_seconds=0.001)
    client = app.test_client()
    assert "kling-v1" in client.get("/").get_data(as_text=True)
    catalogue = app.extensions["studio"].catalogue
    for name in ("veo-3-new", "seedance-9", "hailuo-7"):
        offered[:] = [name]
        deadline = time.monotonic() + 5
        while name not in catalogue.models() and time.monotonic() < deadline:  # refreshed in the background
            time.sleep(0.02)
        page = client.get("/").get_data(as_text=True)
        assert f'value="{name}"' in page, name
    client.get("/", headers={"Accept-Language": "zh-CN"})
    assert sorted(app.extensions["empty_form_pages"]) == ["en", "zh"]


def test_on_the_chinese_page_an_example_fills_its_chinese_prompt(client):
    from app.catalog.examples import load_examples

    example = next(e for e in load_examples() if e.id == "paper-boat")
    client.set_cookie("lang", "zh")
    page = Page(client.get(f"/?example={example.id}").get_data(as_text=True))
    assert page.value("prompt") == example.prompts["zh"] and "纸船" in page.value("prompt")
    client.set_cookie("lang", "en")
    assert Page(client.get(f"/?example={example.id}").get_data(as_text=True)).value("prompt").startswith("A paper boat")


def test_a_text_only_example_tile_shows_the_start_of_its_prompt(client):
    from app.catalog.examples import load_examples

    example = next(e for e in load_examples() if not e.image_path)
    tiles = Page(client.get("/").get_data(as_text=True)).find("span", class_="example-text")
    assert tiles and all("✎" not in t.text for t in tiles)
    assert any(example.values["prompt"][:20] in t.text for t in tiles)
