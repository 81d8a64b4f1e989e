"""Shared fixtures: real servers on loopback, real files, test images."""

import io
import os
import sys

import pytest
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from servers import DemoAPIProcess, hidden_value  # noqa: E402


def make_png(width=640, height=400, colour=(200, 80, 40), fmt="PNG"):
    """The bytes of a real image."""
    buf = io.BytesIO()
    img = Image.new("RGB", (width, height), colour)
    for x in range(0, width, 40):
        img.paste((255, 255, 255), (x, 0, x + 4, height))
    img.save(buf, fmt)
    return buf.getvalue()


@pytest.fixture(scope="session")
def tiny_mp4(tmp_path_factory):
    """The bytes of a real 1 s, 64x64 H.264 MP4, drawn by the demo API's renderer."""
    from demo_api.render import render_video
    from demo_api.validation import JobSpec
    folder = tmp_path_factory.mktemp("mp4")
    spec = JobSpec(prompt="tiny", model="m", duration=1, width=64, height=64, fps=8, n=1, seed=1,
                   response_format="url", user=None)
    render_video(spec, 1, 0, str(folder / "v.mp4"), str(folder / "v.jpg"))
    return (folder / "v.mp4").read_bytes()


@pytest.fixture(scope="session")
def demo_api(tmp_path_factory):
    """The demo video API running as its own process on loopback (shared by a test session)."""
    server = DemoAPIProcess(tmp_path_factory.mktemp("demo_api")).start()
    yield server
    server.stop()


# --- the app ---------------------------------------------------------------------------------------

import secrets  # noqa: E402

from upstreams import ScriptedUpstream  # noqa: E402

from app import create_app  # noqa: E402
from app.config import Settings  # noqa: E402

# Made at run time, so no key-shaped string is committed; the tests look for it in pages and logs.
TEST_KEY = "sk-test" + secrets.token_hex(16)


@pytest.fixture
def upstream():
    """A recording, scriptable upstream on loopback."""
    server = ScriptedUpstream()
    yield server
    server.stop()


def make_settings(base_url, data_dir, **overrides):
    values = dict(video_api_base_url=base_url, video_api_key=TEST_KEY, secret_key="test-secret",
                  data_dir=str(data_dir), video_api_timeout=5.0, video_api_connect_timeout=2.0)
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def make_app(tmp_path):
    """Build the app against an upstream URL, with a real SQLite file under tmp_path.

    Its follower runs in the background as under gunicorn; follow=False stops it, so a test can drive
    it one round at a time with app.extensions["studio"].follower.run_once().
    """
    built = []

    def build(base_url, follow=True, **overrides):
        app = create_app(make_settings(base_url, tmp_path / "data", **overrides))
        app.config["TESTING"] = True
        built.append(app)
        if not follow:
            app.extensions["studio"].follower.stop()
        return app
    yield build
    for app in built:
        app.extensions["studio"].follower.stop()


@pytest.fixture
def app(make_app, upstream):
    return make_app(upstream.url)


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_token(client, path="/"):
    page = client.get(path).get_data(as_text=True)
    return hidden_value(page)


def submit(client, data, files=None):
    """POST the form the way a browser does, with a valid CSRF token."""
    payload = {"csrf_token": csrf_token(client), **data}
    if files:
        payload.update(files)
    return client.post("/jobs", data=payload, content_type="multipart/form-data")
