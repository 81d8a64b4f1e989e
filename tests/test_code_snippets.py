"""Copy as code: the curl and Python snippets of a job and of the form run as they are against the demo
API and create a job; the key never appears in them."""

import ast
import io
import json
import os
import shutil
import subprocess
import sys

import pytest

from support.client import TEST_KEY, csrf_token, submit
from support.media import make_png
from support.pages import Page


@pytest.fixture
def studio(make_app, demo_api):
    return make_app(demo_api.base_url, video_api_key=demo_api.key, follow=False).test_client()


def run_snippets(page, folder, demo_api):
    """Run both snippets from a code page in a shell, with the picture saved as image.png beside them."""
    code = Page(page)
    curl_text, python_text = code.by_id("code-curl").text, code.by_id("code-python").text
    (folder / "image.png").write_bytes(make_png(400, 300))
    env = {**os.environ, "VIDEO_API_KEY": demo_api.key}
    made = []
    if shutil.which("curl"):
        out = subprocess.run(["bash", "-c", curl_text], cwd=folder, env=env, capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0, out.stderr
        made.append(json.loads(out.stdout))
    (folder / "snippet.py").write_text(python_text)
    out = subprocess.run([sys.executable, "snippet.py"], cwd=folder, env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    made.append(ast.literal_eval(out.stdout.strip()))        # the snippet prints the job as a Python dict
    return curl_text + python_text, made


def test_a_jobs_request_as_code_runs_and_makes_a_job(studio, demo_api, tmp_path):
    resp = submit(studio, {"prompt": "A kite's \"loop\" over $HOME", "duration": "1", "width": "160", "height": "96",
                           "fps": "8", "metadata": '{"mode": "std"}'},
                  {"image_file": (io.BytesIO(make_png(400, 300)), "kite.png")})
    job_id = resp.headers["Location"].rsplit("/", 1)[1]
    assert "As code" in studio.get(f"/jobs/{job_id}").get_data(as_text=True)
    page = studio.get(f"/jobs/{job_id}/code").get_data(as_text=True)
    text, made = run_snippets(page, tmp_path, demo_api)
    assert TEST_KEY not in page and "$VIDEO_API_KEY" in text and demo_api.base_url in text
    assert "input_reference=@image.png" in text                     # the upload is a file argument
    assert len(made) >= 1
    for job in made:
        assert job["object"] == "video" and job["id"].startswith("video_") and job["id"] != job_id
        assert job["prompt"] == "A kite's \"loop\" over $HOME" and job["size"] == "160x96"


def history_rows(client):
    """The jobs the history lists (not the whole page: its CSRF tokens carry the second they were made)."""
    return [e.attrs.get("href") for e in Page(client.get("/jobs").get_data(as_text=True)).find("a")
            if (e.attrs.get("href") or "").startswith("/jobs/")]


def test_the_forms_values_as_code_without_sending_anything(studio, demo_api, tmp_path):
    before = history_rows(studio)
    page = studio.post("/code", data={"csrf_token": csrf_token(studio), "prompt": "only shown", "duration": "1",
                                      "width": "160", "height": "96", "fps": "8",
                                      "image_url": "https://example.com/cat.jpg"})
    assert page.status_code == 200
    text = Page(page.get_data(as_text=True)).text("code-curl")
    assert "image=https://example.com/cat.jpg" in text and "only shown" in text
    assert history_rows(studio) == before                             # nothing was sent or recorded
