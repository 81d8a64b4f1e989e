"""Shared fixtures: real servers on loopback, a real SQLite file under each test's tmp_path, test media.
Helpers live in tests/support/ (imported as `support`)."""

import pytest

from app import create_app
from support.browser import launched_chromium, require_browser
from support.client import make_settings
from support.media import make_png, render_tiny_mp4
from support.servers import DemoAPIProcess, demo_stack
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


# The browser stack: the app under gunicorn (demo mode) against the demo API, one per test module.
@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    require_browser()
    with demo_stack(tmp_path_factory.mktemp("browser-stack"), {"DEMO_MODE": "true"}, min_render_seconds=4) as app:
        yield app


@pytest.fixture(scope="module")
def browser(stack):
    yield from launched_chromium()


@pytest.fixture
def page(browser, stack):
    context = browser.new_context(
        viewport={"width": 1440, "height": 900}, accept_downloads=True, base_url=stack.base_url
    )
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="module")
def picture(tmp_path_factory):
    path = tmp_path_factory.mktemp("pictures") / "harbour.png"
    path.write_bytes(make_png(800, 450, colour=(30, 110, 160)))
    return str(path)
