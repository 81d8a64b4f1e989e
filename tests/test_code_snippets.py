"""Copy as code is the request: each snippet (curl and Python) sends, byte for byte but the multipart boundary,
what the studio sent: a prompt with every field, an upload, an image address, every model profile's extras,
in both flavours, and a remix. Both run in a shell against a recording upstream on loopback; against the demo
API they make a real job. The key never appears in them."""

import ast
import io
import itertools
import json
import os
import shutil
import subprocess
import sys

import pytest
from werkzeug.wrappers import Response

from app.catalog.profiles import load_profiles
from support.client import TEST_KEY, csrf_token, submit
from support.media import make_png
from support.pages import Page
from support.upstreams import job_body, json_response

FLAVORS = ["relay", "openai"]
HAS_CURL = shutil.which("curl") is not None


def numbered_jobs(upstream):
    """Each create or remix gets a job of its own id (with "=" and "/", as relays' ids have)."""
    counter = itertools.count(1)

    def handler(req):
        if req.path == "/v1/models":
            return json_response({"data": [{"id": "kling-v1"}]})
        if req.method == "POST":
            return json_response(job_body(f"task_{next(counter)}/a==", status="queued"))
        if req.method == "GET":
            return json_response(job_body(req.path.split("/")[3], status="completed", progress=100))
        return Response("", 404)

    upstream.handler = handler


def sent_calls(upstream):
    return [r for r in upstream.requests if r.method == "POST"]


def run_snippets(client, job_url, folder, files=None):
    """Run the job's curl and Python snippets in a shell in folder, with its pictures saved under the names
    the snippets use; return the code page's text."""
    page = client.get(job_url + "/code")
    assert page.status_code == 200
    return run_code_page(page.get_data(as_text=True), folder, files)


def run_code_page(html, folder, files=None):
    code = Page(html)
    curl_text, python_text = code.by_id("code-curl").text, code.by_id("code-python").text
    for name, data in (files or {}).items():
        (folder / name).write_bytes(data)
    env = {**os.environ, "VIDEO_API_KEY": TEST_KEY}
    if HAS_CURL:
        out = subprocess.run(["bash", "-c", curl_text], cwd=folder, env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and '"id"' in out.stdout, out.stderr + out.stdout
    (folder / "snippet.py").write_text(python_text)
    out = subprocess.run(
        [sys.executable, "snippet.py"], cwd=folder, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return curl_text + "\n" + python_text


def assert_same_request(studio, snippets):
    """Every snippet's request is the studio's: method, path as on the wire, every part in order."""
    assert snippets, "no snippet reached the upstream"
    for other in snippets:
        assert (other.method, other.raw_path) == (studio.method, studio.raw_path)
        assert other.parts() == studio.parts()
        assert other.headers.get("Authorization") == studio.headers.get("Authorization") == f"Bearer {TEST_KEY}"


def send_and_compare(client, upstream, folder, data, files=None, pictures=None):
    before = len(sent_calls(upstream))
    resp = submit(client, data, files)
    assert resp.status_code == 303, Page(resp.get_data(as_text=True)).find(class_="field-error")
    studio = sent_calls(upstream)[before]
    text = run_snippets(client, resp.headers["Location"], folder, pictures)
    assert_same_request(studio, sent_calls(upstream)[before + 1 :])
    assert TEST_KEY not in text and "$VIDEO_API_KEY" in text
    return studio, text, resp.headers["Location"]


@pytest.mark.parametrize("flavor", FLAVORS)
def test_a_prompt_with_every_field_and_the_models_options(make_app, upstream, tmp_path, flavor):
    numbered_jobs(upstream)
    client = make_app(upstream.url, follow=False, video_api_flavor=flavor).test_client()
    studio, text, _ = send_and_compare(
        client,
        upstream,
        tmp_path,
        {
            "model": "kling-v1",
            "prompt": 'A paper boat\'s "trip" past $HOME; 雨',
            "duration": "5",
            "width": "1280",
            "height": "720",
            "seed": "42",
            "fps": "24",
            "response_format": "url",
            "user": "ana",
            "negative_prompt": "blur",
            "metadata": '{"camera": {"zoom": 2}}',
            "x-kling-mode": "pro",
            "x-kling-cfg_scale": "0.6",
        },
    )
    names = [p[0] for p in studio.parts()]
    if flavor == "relay":
        metadata = json.loads({p[0]: p[3] for p in studio.parts()}["metadata"])
        assert metadata == {"camera": {"zoom": 2}, "mode": "pro", "cfg_scale": 0.6, "negative_prompt": "blur"}
        assert {"duration", "width", "height", "seconds", "size"} <= set(names)
    else:
        values = {p[0]: p[3].decode() for p in studio.parts()}
        assert "metadata" not in names and "duration" not in names
        assert (values["mode"], values["cfg_scale"], values["negative_prompt"]) == ("pro", "0.6", "blur")
        assert (values["seconds"], values["size"], json.loads(values["camera"])) == ("5", "1280x720", {"zoom": 2})


@pytest.mark.parametrize("flavor", FLAVORS)
def test_an_uploaded_jpeg_goes_under_its_own_name_and_type(make_app, upstream, tmp_path, flavor):
    numbered_jobs(upstream)
    client = make_app(upstream.url, follow=False, video_api_flavor=flavor).test_client()
    jpeg = make_png(400, 300, fmt="JPEG")
    studio, text, _ = send_and_compare(
        client,
        upstream,
        tmp_path,
        {"prompt": "a boat from a photo"},
        {"image_file": (io.BytesIO(jpeg), "boat photo.jpg")},
        {"boat photo.jpg": jpeg},
    )
    assert "image.png" not in text and "boat photo.jpg" in text
    picture = [p for p in studio.parts() if p[0] in ("image", "input_reference")]
    if flavor == "openai":
        assert picture == [("input_reference", "boat photo.jpg", "image/jpeg", jpeg)]
    else:
        import base64

        assert picture == [("image", None, None, base64.b64encode(jpeg))]


@pytest.mark.parametrize("flavor", FLAVORS)
def test_an_image_address_is_passed_where_the_api_reads_it(make_app, upstream, tmp_path, flavor):
    numbered_jobs(upstream)
    client = make_app(upstream.url, follow=False, video_api_flavor=flavor).test_client()
    studio, _, _ = send_and_compare(
        client, upstream, tmp_path, {"prompt": "a cat", "image_url": "https://example.com/cat.jpg?a=1&b=2"}
    )
    picture = [(p[0], p[3].decode()) for p in studio.parts() if p[0] in ("image", "input_reference")]
    assert picture == [("image", "https://example.com/cat.jpg?a=1&b=2")]  # LiteLLM passes `image` on


def sample_value(extra):
    if extra.type == "choice":
        return str(extra.choices[-1])
    if extra.type == "number":
        return str(extra.max if extra.max is not None else 3)
    if extra.type == "json":
        return '{"type": "simple", "config": {"zoom": 5}}'
    return "a value"


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("profile", [p for p in load_profiles().all if p.extras], ids=lambda p: p.id)
def test_every_profiles_extras_are_sent_by_the_snippets_too(make_app, upstream, tmp_path, flavor, profile):
    numbered_jobs(upstream)
    client = make_app(upstream.url, follow=False, video_api_flavor=flavor).test_client()
    model = profile.models[0].replace("*", "x")
    data = {"model": model, "prompt": f"every option of {profile.id}"}
    if profile.durations:
        data["duration"] = str(profile.durations[0])
    if profile.sizes:
        data["width"], data["height"] = profile.sizes[0].split("x")
    data.update({extra.input_name: sample_value(extra) for extra in profile.extras})
    studio, _, _ = send_and_compare(client, upstream, tmp_path, data)
    sent = {p[0]: p[3].decode() for p in studio.parts()}
    options = json.loads(sent["metadata"]) if flavor == "relay" else sent
    assert {extra.key for extra in profile.extras} <= set(options)


@pytest.mark.parametrize("flavor", FLAVORS)
def test_a_remix_as_code_is_the_remix_call(make_app, upstream, tmp_path, flavor):
    numbered_jobs(upstream)
    app = make_app(upstream.url, follow=False, video_api_flavor=flavor)
    client = app.test_client()
    first = submit(client, {"prompt": "a teapot"})
    app.extensions["studio"].follower.run_once()
    source_url = first.headers["Location"]
    page = client.get(source_url).get_data(as_text=True)
    remix_form = Page(page).find("form", **{"class": "remix"})[0]
    before = len(sent_calls(upstream))
    remixed = client.post(
        remix_form.attrs["action"], data={"csrf_token": csrf_token(client), "prompt": "a teapot made of glass"}
    )
    assert remixed.status_code == 303
    studio = sent_calls(upstream)[before]
    assert studio.raw_path == "/v1/videos/task_1%2Fa%3D%3D/remix"
    run_snippets(client, remixed.headers["Location"], tmp_path)
    assert_same_request(studio, sent_calls(upstream)[before + 1 :])


def test_the_forms_code_is_what_sending_the_form_sends_and_nothing_is_sent(make_app, upstream, tmp_path):
    numbered_jobs(upstream)
    client = make_app(upstream.url, follow=False, video_api_flavor="openai").test_client()
    jpeg = make_png(400, 300, fmt="JPEG")
    form = {
        "csrf_token": csrf_token(client),
        "model": "kling-v1",
        "prompt": "only shown",
        "duration": "5",
        "x-kling-mode": "pro",
    }
    page = client.post(
        "/code", data={**form, "image_file": (io.BytesIO(jpeg), "kite.jpg")}, content_type="multipart/form-data"
    )
    assert page.status_code == 200
    assert sent_calls(upstream) == [] and client.get("/jobs").get_data(as_text=True).count("only shown") == 0
    run_code_page(page.get_data(as_text=True), tmp_path, {"kite.jpg": jpeg})
    snippets = sent_calls(upstream)
    resp = submit(
        client, {k: v for k, v in form.items() if k != "csrf_token"}, {"image_file": (io.BytesIO(jpeg), "kite.jpg")}
    )
    assert resp.status_code == 303
    assert_same_request(sent_calls(upstream)[-1], snippets)


def test_a_jobs_code_makes_the_same_job_at_the_demo_api(make_app, demo_api, tmp_path):
    client = make_app(demo_api.base_url, video_api_key=demo_api.key, follow=False).test_client()
    resp = submit(
        client,
        {
            "prompt": 'A kite\'s "loop" over $HOME',
            "duration": "1",
            "width": "160",
            "height": "96",
            "fps": "8",
            "metadata": '{"mode": "std"}',
        },
        {"image_file": (io.BytesIO(make_png(400, 300)), "kite.png")},
    )
    page = client.get(resp.headers["Location"] + "/code").get_data(as_text=True)
    code = Page(page)
    (tmp_path / "kite.png").write_bytes(make_png(400, 300))
    env = {**os.environ, "VIDEO_API_KEY": demo_api.key}
    (tmp_path / "snippet.py").write_text(code.by_id("code-python").text)
    out = subprocess.run(
        [sys.executable, "snippet.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    made = ast.literal_eval(out.stdout.strip())  # the snippet prints the job as a Python dict
    assert made["prompt"] == 'A kite\'s "loop" over $HOME' and made["size"] == "160x96"
    assert made["id"] != resp.headers["Location"].rsplit("/", 1)[1] and demo_api.key not in page


def test_a_job_sent_before_calls_were_kept_gets_its_settings_and_options_as_code(make_app, upstream, tmp_path):
    """Jobs in a history from before this version have no recorded call: their settings, the model's
    options included, are written as the relay flavour (what every earlier version sent)."""
    from app.upstream import Job

    numbered_jobs(upstream)
    app = make_app(upstream.url, follow=False)
    app.extensions["studio"].store.add(
        Job(id="video_old", status="completed"),
        {
            "model": "kling-v1",
            "prompt": "an old job",
            "duration": 5,
            "negative_prompt": "blur",
            "extras": {"mode": "pro", "cfg_scale": "0.6"},
        },
    )
    code = Page(app.test_client().get("/jobs/video_old/code").get_data(as_text=True)).text("code-curl")
    assert '"mode": "pro"' in code and '"cfg_scale": 0.6' in code and '"negative_prompt": "blur"' in code


def test_an_upload_as_a_data_url_is_made_the_same_way_by_the_snippets(make_app, upstream, tmp_path):
    numbered_jobs(upstream)
    client = make_app(
        upstream.url, follow=False, video_api_flavor="relay", image_base64_format="data-url"
    ).test_client()
    png = make_png(400, 300)
    studio, _, _ = send_and_compare(
        client,
        upstream,
        tmp_path,
        {"prompt": "a kite"},
        {"image_file": (io.BytesIO(png), "kite.png")},
        {"kite.png": png},
    )
    import base64

    assert [p[3] for p in studio.parts() if p[0] == "image"] == [b"data:image/png;base64," + base64.b64encode(png)]
