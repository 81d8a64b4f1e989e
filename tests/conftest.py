"""Shared fixtures: real servers on loopback, a real SQLite file under each test's tmp_path, test media.
Helpers live in tests/support/ (imported as `support`)."""

import pytest

from app import create_app
from support.client import make_settings
from support.media import render_tiny_mp4
from support.servers import DemoAPIProcess
from support.upstreams import ScriptedUpstream


@pytest.fixture(scope="session")
def tiny_mp4(tmp_path_factory):
    """The bytes of a real 1 s, 64x64 H.264 MP4."""
    return render_tiny_mp4(tmp_path_factory.mktemp("mp4"))


@pytest.fixture(scope="session")
def demo_api(tmp_path_factory):
    """The demo video API running as its own process on loopback (shared by a test session)."""
    server = DemoAPIProcess(tmp_path_factory.mktemp("demo_api")).start()
    yield server
    server.stop()


@pytest.fixture
def upstream():
    """A recording, scriptable upstream on loopback."""
    server = ScriptedUpstream()
    yield server
    server.stop()


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
