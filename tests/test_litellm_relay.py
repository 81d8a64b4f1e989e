"""The studio behind LiteLLM's proxy, a real relay nobody here wrote, in front of the demo API: every job to a
playing video with LiteLLM's own 234-character ids, the picture (upload or address) reaching the provider,
the model's options sent where LiteLLM passes them on, a remix, an honest delete, an upstream 400 shown at its
field, and, in the relay flavour, the notice that LiteLLM dropped the metadata."""

import base64
import os
import re
from urllib.parse import unquote

import pytest
import requests
from werkzeug.wrappers import Response

from support.browser import CHROMIUM, CHROMIUM_ARGS, require_browser
from support.loopback import LoopbackServer
from support.media import make_png
from support.pages import Page, hidden_value
from support.relays import LiteLLMProxy, require_litellm
from support.servers import AppProcess, DemoAPIProcess
from support.waiting import wait_for

PICTURE = make_png(640, 360, colour=(30, 110, 160))


class PictureHost(LoopbackServer):
    """An image address the provider (the demo API) fetches: records each fetch."""

    def __init__(self):
        self.fetches = []
        super().__init__(self._wsgi)

    def _wsgi(self, environ, start_response):
        self.fetches.append(environ["PATH_INFO"])
        return Response(PICTURE, mimetype="image/png")(environ, start_response)


@pytest.fixture(scope="module")
def relay(tmp_path_factory):
    require_litellm()
    root = tmp_path_factory.mktemp("litellm")
    demo = DemoAPIProcess(root / "demo", min_render_seconds=1, extra_args=["--allow-private-urls"]).start()
    proxy = pictures = None
    try:
        proxy = LiteLLMProxy(root / "proxy", demo.base_url, demo.key).start()
        pictures = PictureHost()
        yield demo, proxy, pictures
    finally:
        for server in (pictures, proxy, demo):
            if server is not None:
                server.stop()


@pytest.fixture(scope="module")
def studio(relay, tmp_path_factory):
    """The app under gunicorn pointed at LiteLLM, flavour left to "auto"."""
    _, proxy, _ = relay
    app = AppProcess(
        tmp_path_factory.mktemp("studio"), {"VIDEO_API_BASE_URL": proxy.base_url, "VIDEO_API_KEY": proxy.key}
    ).start()
    yield app
    app.stop()


def send(app, fields, files=None, session=None):
    session = session or requests.Session()
    token = hidden_value(session.get(app.base_url + "/", timeout=30).text)
    return session, session.post(app.base_url + "/jobs", data={"csrf_token": token, **fields}, files=files, timeout=120)


def settled(session, app, job_url):
    def done():
        state = session.get(app.base_url + job_url + "/status", timeout=30).json()
        return state if state["finished"] and state["archive"] in ("archived", "failed") else None

    return wait_for(done, timeout=180, what="the job being followed and archived")


def upstream_id(litellm_id):
    """The demo API's id inside LiteLLM's: video_ + base64('litellm:...;video_id:<id>;deployment_id:...')."""
    encoded = litellm_id[len("video_") :]
    decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    return re.search(r"video_id:([^;]+)", decoded).group(1)


def demo_job(demo, litellm_id):
    return requests.get(
        f"{demo.base_url}/v1/videos/{upstream_id(litellm_id)}",
        headers={"Authorization": f"Bearer {demo.key}"},
        timeout=10,
    ).json()


def job_id_of(resp):
    return unquote(resp.url.rsplit("/", 1)[1])


def test_a_prompt_with_options_goes_through_litellm_to_a_playing_video(relay, studio):
    demo, _, _ = relay
    session, resp = send(
        studio,
        {
            "model": "kling-v1",
            "prompt": "A paper boat in the rain",
            "duration": "5",
            "width": "1280",
            "height": "720",
            "negative_prompt": "blur",
            "x-kling-mode": "pro",
            "x-kling-cfg_scale": "0.6",
        },
    )
    assert resp.status_code == 200, resp.text[:500]
    job_id = job_id_of(resp)
    assert job_id.startswith("video_") and len(job_id) > 200  # LiteLLM's own id, kept as it came
    state = settled(session, studio, urlpath(resp))
    assert state["archive"] == "archived" and state["status"] == "completed"
    # The options reached the provider (LiteLLM passed them on as fields; the demo API keeps them).
    assert {"mode": "pro", "cfg_scale": "0.6", "negative_prompt": "blur"}.items() <= demo_job(demo, job_id)[
        "metadata"
    ].items()
    page = Page(session.get(studio.base_url + urlpath(resp), timeout=30).text)
    video_url = page.find("source", type="video/mp4")[0].attrs["src"]
    video = session.get(studio.base_url + video_url, timeout=30)
    assert video.status_code == 200 and video.headers["Content-Type"] == "video/mp4" and video.content[4:8] == b"ftyp"
    assert page.find("video")[0].attrs.get("poster")
    assert not page.find(data_ignored_fields="")
    code = Page(session.get(studio.base_url + urlpath(resp) + "/code", timeout=30).text).text("code-curl")
    assert "mode=pro" in code and "cfg_scale=0.6" in code and "metadata=" not in code
    play_in_browser(studio.base_url + urlpath(resp))


def urlpath(resp):
    return "/" + resp.url.split("/", 3)[3]


def play_in_browser(url):
    """A real browser opens the job page and the video plays."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = chromium.new_page()
            page.goto(url)
            page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; return v.play(); }")
            wait_for(
                lambda: page.evaluate("() => document.querySelector('video').currentTime > 0.2"),
                timeout=60,
                what="the video playing",
            )
        finally:
            chromium.close()


def test_an_upload_reaches_the_provider_as_a_file(relay, studio):
    demo, _, _ = relay
    session, resp = send(
        studio,
        {"model": "demo-v1", "prompt": "The harbour wakes up", "duration": "1", "width": "320", "height": "180"},
        files={"image_file": ("harbour at dawn.png", PICTURE, "image/png")},
    )
    assert resp.status_code == 200, resp.text[:500]
    assert settled(session, studio, urlpath(resp))["archive"] == "archived"
    inputs = os.path.join(demo.data_dir, "inputs", upstream_id(job_id_of(resp)) + ".img")
    with open(inputs, "rb") as fh:
        assert fh.read() == PICTURE  # the very picture, byte for byte
    code = Page(session.get(studio.base_url + urlpath(resp) + "/code", timeout=30).text).text("code-curl")
    assert 'input_reference=@"harbour at dawn.png";type=image/png' in code


def test_an_image_address_reaches_the_provider(relay, studio):
    _, _, pictures = relay
    session, resp = send(
        studio,
        {
            "model": "demo-v1",
            "prompt": "A cat",
            "duration": "1",
            "width": "320",
            "height": "180",
            "image_url": pictures.url + "/cat.png",
        },
    )
    assert resp.status_code == 200, resp.text[:500]
    assert settled(session, studio, urlpath(resp))["archive"] == "archived"
    assert "/cat.png" in pictures.fetches


def test_remix_and_an_honest_delete(relay, studio):
    demo, _, _ = relay
    session, resp = send(
        studio, {"model": "demo-v1", "prompt": "A teapot", "duration": "1", "width": "320", "height": "180"}
    )
    source = urlpath(resp)
    assert settled(session, studio, source)["archive"] == "archived"
    html = session.get(studio.base_url + source, timeout=30).text
    action = Page(html).find("form", class_="remix")[0].attrs["action"]
    remixed = session.post(
        studio.base_url + action,
        data={"csrf_token": hidden_value(html), "prompt": "A teapot made of glass"},
        timeout=120,
    )
    assert remixed.status_code == 200 and urlpath(remixed) != source
    assert settled(session, studio, urlpath(remixed))["archive"] == "archived"
    made = demo_job(demo, job_id_of(remixed))
    assert made["prompt"] == "A teapot made of glass"
    assert made["remixed_from_video_id"] == upstream_id(job_id_of(resp))
    code = Page(session.get(studio.base_url + urlpath(remixed) + "/code", timeout=30).text).text("code-curl")
    assert "/remix" in code
    html = session.get(studio.base_url + source, timeout=30).text
    delete = [f for f in Page(html).find("form") if f.attrs.get("action", "").endswith("/delete")][0]
    after = session.post(studio.base_url + delete.attrs["action"], data={"csrf_token": hidden_value(html)}, timeout=60)
    assert "Removed from this studio. The API keeps its copy until it expires." in after.text
    assert session.get(studio.base_url + source, timeout=30).status_code == 404


def test_an_upstream_refusal_is_shown_at_its_field(relay, studio):
    _, resp = send(
        studio,
        {"model": "demo-v1", "prompt": "Too fast", "duration": "1", "width": "320", "height": "180", "fps": "100"},
    )
    assert resp.status_code == 400
    errors = {e.attrs["id"]: e.text for e in Page(resp.text).find(class_="field-error")}
    assert "fps must be between 1 and 60." in errors.get("fps-error", ""), errors
    assert "OpenAIException" not in resp.text and 'value="100"' in resp.text


def test_in_the_relay_flavour_the_card_says_litellm_dropped_the_metadata(relay, tmp_path):
    _, proxy, _ = relay
    app = AppProcess(
        tmp_path / "relay-flavour",
        {"VIDEO_API_BASE_URL": proxy.base_url, "VIDEO_API_KEY": proxy.key, "VIDEO_API_FLAVOR": "relay"},
    ).start()
    try:
        session, resp = send(
            app,
            {
                "model": "demo-v1",
                "prompt": "A kite",
                "duration": "1",
                "width": "320",
                "height": "180",
                "negative_prompt": "blur",
            },
        )
        assert resp.status_code == 200, resp.text[:500]
        notice = Page(resp.text).find(data_ignored_fields="")
        assert notice and "did not keep these settings" in notice[0].text and "negative_prompt" in notice[0].text
        assert settled(session, app, urlpath(resp))["archive"] == "archived"  # the job itself still works
    finally:
        app.stop()
