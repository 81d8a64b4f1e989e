"""Shared fixtures: real servers on loopback, real files, test images."""

import io
import os
import sys

import pytest
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from servers import DemoAPIProcess  # noqa: E402


def make_png(width=640, height=400, colour=(200, 80, 40), fmt="PNG"):
    """The bytes of a real image."""
    buf = io.BytesIO()
    img = Image.new("RGB", (width, height), colour)
    for x in range(0, width, 40):
        img.paste((255, 255, 255), (x, 0, x + 4, height))
    img.save(buf, fmt)
    return buf.getvalue()


@pytest.fixture(scope="session")
def demo_api(tmp_path_factory):
    """The demo video API running as its own process on loopback (shared by a test session)."""
    server = DemoAPIProcess(tmp_path_factory.mktemp("demo_api")).start()
    yield server
    server.stop()
