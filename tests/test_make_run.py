"""`make run` as a newcomer runs it: a fresh copy of the project, nothing configured, the default relative
DATA_DIR, the project folder as working directory. A job sent through the form must play its archived video."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from PIL import Image

from support.browser import CHROMIUM, CHROMIUM_ARGS, require_browser, screenshot
from support.servers import ROOT, free_port, wait_until_up

pytestmark = pytest.mark.browser

NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "data", "test-artifacts", "__pycache__", ".pytest_cache", ".hypothesis", ".env", "*.pyc"
)


@pytest.fixture
def fresh_clone(tmp_path):
    """The project's files in a new folder, as a clone would have them (no data, no .env)."""
    target = tmp_path / "video-studio"
    shutil.copytree(ROOT, target, ignore=NOT_COPIED)
    return target


@pytest.fixture
def make_run(fresh_clone):
    """scripts/serve.py (what `make run` runs) from the project folder, with no configuration at all."""
    port, demo_port = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VIDEO_API_", "APP_", "AUTH_", "DATA_DIR", "SECRET_KEY", "DEMO_", "BIND"))
    }
    env.update(PORT=str(port), DEMO_API_PORT=str(demo_port), DEMO_MIN_RENDER_SECONDS="2")
    log_path = fresh_clone / "make-run.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "scripts/serve.py"],
            cwd=fresh_clone,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base_url + "/healthz", proc, timeout=60, log_path=str(log_path))
        yield base_url, fresh_clone, log_path
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_make_run_from_a_fresh_clone_plays_the_archived_video(make_run):
    require_browser()
    from playwright.sync_api import sync_playwright

    base_url, clone, log_path = make_run
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900}, base_url=base_url)
        page.goto("/")
        assert "Demo mode" in page.inner_text(".demo-banner")
        page.fill("#prompt", "A lighthouse at night, waves breaking")
        # A photo as a phone takes it, several MB: larger than anything Werkzeug keeps in memory, so it
        # is spooled to disk by the app and sent to the demo API as a base64 field of several MB.
        photo = clone / "photo.png"
        Image.frombytes("RGB", (1100, 800), os.urandom(1100 * 800 * 3)).save(photo, "PNG", compress_level=1)
        assert photo.stat().st_size > 2_500_000
        page.set_input_files("#image_file", str(photo))
        page.fill("#duration", "2")
        page.fill("#fps", "12")
        page.click("[data-preset-width='1280'][data-preset-height='720']")
        page.click("[data-submit]")
        page.wait_for_url("**/jobs/video_*")
        video = page.locator("video[data-video]")
        video.wait_for(timeout=60000)  # the card follows the job and shows the player when it is archived
        page.evaluate("v => { v.muted = true; return v.play(); }", video.element_handle())
        page.wait_for_function(
            "v => v.readyState >= 2 && v.currentTime > 0.3", arg=video.element_handle(), timeout=15000
        )
        assert "could not be fetched" not in page.inner_text("[data-job-card]")
        screenshot(page, "make-run-fresh-clone-playing")
        job_id = page.url.rsplit("/", 1)[1]
        browser.close()

    # The copy lives where a newcomer would look for it: ./data under the project folder.
    with sqlite3.connect(clone / "data" / "jobs.sqlite3") as db:
        archive, files = db.execute("SELECT archive, files FROM jobs WHERE id = ?", (job_id,)).fetchone()
    assert archive == "archived" and json.loads(files)[0]["video"].endswith("0.mp4")
    assert any(p.suffix == ".mp4" and p.stat().st_size > 1000 for p in (clone / "data" / "archive").rglob("*"))
    assert (clone / "data" / "demo_api" / "videos").is_dir()
    kept = list((clone / "data" / "uploads").iterdir())
    assert len(kept) == 1 and kept[0].suffix == ".png" and kept[0].read_bytes() == photo.read_bytes()
    log = log_path.read_text(errors="replace")
    assert "Traceback" not in log and " 500 " not in log


def test_the_demo_api_serves_videos_from_a_relative_data_dir(tmp_path):
    """`python -m demo_api --data-dir data/demo_api` run from another folder than the package's."""
    import requests

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "demo_api", "--port", str(port), "--data-dir", "rel/demo", "--quiet"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": ROOT},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/", proc)
        auth = {"Authorization": "Bearer demo"}
        job = requests.post(
            base + "/v1/videos",
            data={"prompt": "tide", "seconds": "1", "size": "160x96", "fps": "8"},
            headers=auth,
            timeout=10,
        ).json()
        deadline = time.monotonic() + 30
        while requests.get(f"{base}/v1/videos/{job['id']}", headers=auth, timeout=5).json()["status"] != "completed":
            assert time.monotonic() < deadline, "the demo job never completed"
            time.sleep(0.1)
        content = requests.get(f"{base}/v1/videos/{job['id']}/content", headers=auth, timeout=10)
        assert content.status_code == 200 and content.content[4:8] == b"ftyp"
        assert (tmp_path / "rel" / "demo" / "videos" / f"{job['id']}_0.mp4").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("which", ["PORT", "DEMO_API_PORT"])
def test_make_run_stops_with_a_clear_line_when_a_port_is_taken(fresh_clone, which):
    """Another program on DEMO_API_PORT used to answer in the demo API's place; now nothing starts."""
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        taken = holder.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VIDEO_API_", "DEMO_", "BIND", "PORT"))}
        env.update(PORT=str(free_port()), DEMO_API_PORT=str(free_port()))
        env[which] = str(taken)
        done = subprocess.run(
            [sys.executable, "scripts/serve.py"], cwd=fresh_clone, env=env, capture_output=True, text=True, timeout=60
        )
    finally:
        holder.close()
    assert done.returncode != 0
    assert f"port {taken} on 127.0.0.1 is in use" in done.stderr and which in done.stderr, done.stderr
    assert "Video studio on" not in done.stdout, "it started anyway"
