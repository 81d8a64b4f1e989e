"""Run by test_upload_memory in its own process (with PYTHONPATH set to the project): post a large image
through the app and report the peak of memory Python allocated while the app handled it.
Usage: upload_memory_probe.py UPSTREAM_URL DATA_DIR"""

import io
import json
import os
import sys
import tracemalloc

from PIL import Image
from werkzeug.test import EnvironBuilder

from app import create_app
from app.core.config import Settings


def main(upstream_url, data_dir):
    app = create_app(
        Settings(
            video_api_base_url=upstream_url,
            video_api_key="probe-key",
            secret_key="probe",
            data_dir=data_dir,
            max_upload_mb=12,
        )
    )
    app.config["WTF_CSRF_ENABLED"] = False
    app.extensions["studio"].follower.stop()  # only the submission is measured (and only its line is printed)
    buf = io.BytesIO()
    Image.frombytes("RGB", (1800, 1500), os.urandom(1800 * 1500 * 3)).save(buf, "PNG", compress_level=0)
    picture = buf.getvalue()
    environ = EnvironBuilder(
        path="/jobs", method="POST", data={"prompt": "a big picture", "image_file": (io.BytesIO(picture), "big.png")}
    ).get_environ()
    statuses = []
    tracemalloc.start()
    b"".join(app(environ, lambda status, headers, *a: statuses.append(status)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(json.dumps({"status": statuses[0], "peak": peak, "image_bytes": len(picture)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
