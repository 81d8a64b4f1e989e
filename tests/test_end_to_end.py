"""The whole path over real HTTP: a browser-like client -> the app under gunicorn -> the demo API."""

import re
import secrets

import pytest
import requests

from support.media import make_png
from support.pages import Page, hidden_value
from support.servers import AppProcess, DemoAPIProcess


@pytest.fixture
def demo_api(tmp_path):
    """A demo API of its own, with a key made for this run, so the test can look for it."""
    server = DemoAPIProcess(tmp_path / "demo", key="sk-e2e" + secrets.token_hex(16)).start()
    yield server
    server.stop()


@pytest.fixture
def live_app(demo_api, tmp_path):
    server = AppProcess(
        tmp_path / "app", {"VIDEO_API_BASE_URL": demo_api.base_url, "VIDEO_API_KEY": demo_api.key}
    ).start()
    yield server
    server.stop()


def test_submit_to_the_demo_api_and_see_the_card(live_app, demo_api):
    browser = requests.Session()
    form = browser.get(live_app.base_url + "/", timeout=10)
    assert form.status_code == 200 and "Make a video" in form.text
    assert "kling-v1" in form.text and "demo-v1" in form.text  # model suggestions from GET /v1/models
    token = hidden_value(form.text)
    resp = browser.post(
        live_app.base_url + "/jobs",
        timeout=30,
        data={
            "csrf_token": token,
            "model": "demo-v1",
            "prompt": "A lighthouse in a storm",
            "duration": "1",
            "width": "320",
            "height": "240",
            "fps": "8",
            "seed": "7",
            "n": "1",
            "response_format": "url",
            "user": "e2e",
            "style": "oil painting",
            "metadata": '{"cfg_scale": 0.5}',
        },
        files={"image_file": ("lighthouse.png", make_png(400, 300), "image/png")},
    )
    assert resp.status_code == 200, resp.text[:500]
    assert re.search(r"/jobs/video_[0-9a-f]+$", resp.url)
    page = resp.text
    assert "A lighthouse in a storm" in page
    assert "320x240" in page and "1 s" in page
    assert "cfg_scale" in page and "oil painting" in page
    badge = Page(page).find("span", data_status_badge="")[0]
    assert badge.attrs["class"].split()[1] in ("badge--queued", "badge--in_progress", "badge--completed")

    job_id = resp.url.rsplit("/", 1)[1]
    upstream_job = requests.get(
        f"{demo_api.base_url}/v1/videos/{job_id}", headers={"Authorization": f"Bearer {demo_api.key}"}, timeout=10
    ).json()
    assert upstream_job["metadata"] == {"cfg_scale": 0.5, "style": "oil painting"}
    assert upstream_job["seed"] == 7 and upstream_job["user"] == "e2e"
    assert demo_api.key not in page and demo_api.key not in live_app.log()
