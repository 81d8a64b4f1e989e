"""Pictures and videos to send and compare."""

import io

from PIL import Image


def make_png(width=640, height=400, colour=(200, 80, 40), fmt="PNG"):
    """The bytes of a real image."""
    buf = io.BytesIO()
    img = Image.new("RGB", (width, height), colour)
    for x in range(0, width, 40):
        img.paste((255, 255, 255), (x, 0, x + 4, height))
    img.save(buf, fmt)
    return buf.getvalue()


def render_tiny_mp4(folder):
    """The bytes of a real 1 s, 64x64 H.264 MP4, drawn by the demo API's renderer."""
    from demo_api.render import render_video
    from demo_api.validation import JobSpec

    spec = JobSpec(
        prompt="tiny", model="m", duration=1, width=64, height=64, fps=8, n=1, seed=1, response_format="url", user=None
    )
    render_video(spec, 1, 0, str(folder / "v.mp4"), str(folder / "v.jpg"))
    return (folder / "v.mp4").read_bytes()
