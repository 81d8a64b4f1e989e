"""With ARCHIVE_ACCEL_REDIRECT and the shipped nginx settings in front, archived videos are sent by nginx
itself after the app has checked the request: the same bytes, Range, the download name, and nothing
reachable around the app."""

import os

import requests

from support.nginx import shipped_nginx
from support.pages import Page, hidden_value
from support.servers import AppProcess
from support.waiting import wait_for

LOCATION = "/_studio_archive/"


def test_nginx_sends_the_archived_video_the_app_points_it_to(demo_api, tmp_path):
    data_dir = tmp_path / "app"
    app = AppProcess(
        data_dir,
        {
            "VIDEO_API_BASE_URL": demo_api.base_url,
            "VIDEO_API_KEY": demo_api.key,
            "TRUSTED_PROXIES": "1",
            "ARCHIVE_ACCEL_REDIRECT": LOCATION,
        },
    ).start()
    try:
        with (
            shipped_nginx(str(tmp_path / "nginx"), app.port, data_dir=data_dir) as (base_url, _),
            requests.Session() as browser,
        ):
            token = hidden_value(browser.get(base_url + "/", timeout=10).text)
            sent = browser.post(
                base_url + "/jobs",
                timeout=30,
                data={
                    "csrf_token": token,
                    "prompt": "A paper boat on a rainy street",
                    "duration": "1",
                    "width": "320",
                    "height": "180",
                    "fps": "10",
                },
            )
            assert sent.status_code == 200, sent.text[:300]
            job_id = sent.url.rsplit("/", 1)[1]

            def settled():
                state = browser.get(f"{base_url}/jobs/{job_id}/status", timeout=10).json()
                return state if state["finished"] else None

            state = wait_for(settled, what="the job settling")
            assert state["archive"] == "archived", state
            page = Page(browser.get(f"{base_url}/jobs/{job_id}", timeout=10).text)
            video_url = page.find("source", type="video/mp4")[0].attrs["src"]
            on_disk = [
                os.path.join(folder, name)
                for folder, _, names in os.walk(data_dir / "archive")
                for name in names
                if name.endswith(".mp4")
            ]
            assert len(on_disk) == 1
            with open(on_disk[0], "rb") as fh:
                expected = fh.read()

            whole = browser.get(base_url + video_url, timeout=10)
            assert whole.status_code == 200 and whole.content == expected
            assert whole.headers["Content-Type"] == "video/mp4"
            assert whole.headers["Server"].startswith("nginx") and "X-Accel-Redirect" not in whole.headers
            assert whole.headers["Content-Disposition"].startswith("inline; filename=a_paper_boat")
            assert "max-age=86400" in whole.headers["Cache-Control"]
            part = browser.get(base_url + video_url, headers={"Range": "bytes=100-1099"}, timeout=10)
            assert part.status_code == 206 and part.content == expected[100:1100]
            assert part.headers["Content-Range"] == f"bytes 100-1099/{len(expected)}"
            tail = browser.get(base_url + video_url, headers={"Range": "bytes=-50"}, timeout=10)
            assert tail.status_code == 206 and tail.content == expected[-50:]
            download = browser.get(base_url + video_url + "?download=1", timeout=10)
            assert download.content == expected
            assert download.headers["Content-Disposition"].startswith("attachment; filename=a_paper_boat")

            # The app only points; the file is not reachable around it.
            direct = requests.get(app.base_url + video_url, timeout=10)
            assert direct.status_code == 200 and direct.content == b""
            hidden = direct.headers["X-Accel-Redirect"]
            assert hidden.startswith(LOCATION) and hidden.endswith(".mp4")
            assert requests.get(base_url + hidden, timeout=10).status_code == 404
            missing = browser.get(f"{base_url}/jobs/video_nobody/video/0.mp4", timeout=10)
            assert missing.status_code == 404 and "X-Accel-Redirect" not in missing.headers
    finally:
        app.stop()
