"""Draw placeholder frames with Pillow and encode them as H.264 MP4 with PyAV.

The same JobSpec and seed always give the same frames: colours come from a seeded
random generator and every drawing step depends only on the frame index.
"""

import contextlib
import io
import ipaddress
import logging
import os
import queue
import random
import socket
import threading
import time
import urllib.request
from fractions import Fraction
from urllib.parse import urlsplit

import av
from PIL import Image, ImageDraw, ImageFont, ImageOps

from demo_api.limits import MAX_IMAGE_PIXELS

BUNDLED_FONT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fonts", "wqy-microhei-gb2312.ttf")
FONT_CANDIDATES = (  # a full system CJK font first; the bundled one draws Chinese on a bare machine
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    BUNDLED_FONT,
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)
IMAGE_FETCH_TIMEOUT = 5  # per socket operation
IMAGE_FETCH_DEADLINE = 15  # for the whole download, however slowly it drips
IMAGE_FETCH_LIMIT = 10 * 1024 * 1024
log = logging.getLogger("demo_api")


class Cancelled(Exception):
    """The job was deleted while it rendered."""


def font(size: int) -> ImageFont.FreeTypeFont:
    """A scalable font that draws Chinese: a system CJK font when present, else the bundled one."""
    for path in FONT_CANDIDATES:
        if os.path.exists(path):
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)  # pyright: ignore[reportReturnType]  (with a size: a FreeTypeFont)


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Every redirect is checked like the first address."""

    def __init__(self, allow_private) -> None:
        super().__init__()
        self.allow_private = allow_private

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        refuse_private(newurl, self.allow_private)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def refuse_private(url, allow_private: bool = False):
    """Raise ValueError unless url is http(s) on a public address (or private ones are allowed)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) address: {url[:100]}")
    if allow_private:
        return
    for info in socket.getaddrinfo(parts.hostname, parts.port or 80, type=socket.SOCK_STREAM):
        if not ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]).is_global:
            raise ValueError(f"{parts.hostname} is a private, loopback or link-local address")


def fetch_image(url, allow_private: bool = False):
    """The bytes behind an image URL, or None when it cannot or may not be had (offline demo, private address)."""
    try:
        refuse_private(url, allow_private)
        opener = urllib.request.build_opener(_CheckedRedirects(allow_private))
        deadline, chunks, size = time.monotonic() + IMAGE_FETCH_DEADLINE, [], 0
        with opener.open(url, timeout=IMAGE_FETCH_TIMEOUT) as resp:
            while size <= IMAGE_FETCH_LIMIT and time.monotonic() < deadline:
                chunk = resp.read(64 * 1024)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            else:
                raise ValueError("too large or too slow")
        data = b"".join(chunks)
        check_picture(data)
        return data
    except Exception as exc:  # any failure means: draw without the picture
        log.warning("image %s not used: %s", url[:100], exc)
        return None


def check_picture(data):
    """Raise ValueError unless data is a picture Pillow reads, of sensible pixel count."""
    with Image.open(io.BytesIO(data)) as img:
        if img.size[0] * img.size[1] > MAX_IMAGE_PIXELS:
            raise ValueError(
                f"the picture is {img.size[0]}x{img.size[1]} px, more than {MAX_IMAGE_PIXELS // 1_000_000} megapixels"
            )
        img.verify()


class FramePainter:
    """Paints frame i of one variant of a job."""

    def __init__(self, spec, seed, variant, image_bytes=None) -> None:
        self.w, self.h = spec.width, spec.height
        self.total = spec.frame_count
        self.fps = spec.fps
        rng = random.Random(f"{seed}:{variant}")
        colours = [tuple(rng.randrange(40, 230) for _ in range(3)) for _ in range(3)]
        self.background = self._gradient(colours)
        self.picture = self._cover(image_bytes) if image_bytes else None
        self.overlay = self._overlay(spec, seed, variant)
        self.overlay_parts = [(box, self.overlay.crop(box)) for box in _drawn_bands(self.overlay)]
        self.small = font(max(12, self.h // 28))

    def _gradient(self, colours):
        """A horizontal gradient twice the frame width that wraps around, shaded top to bottom."""
        wide = self.w * 2
        line = Image.new("RGB", (wide, 1))
        stops = colours + colours[:1]
        seg = wide / (len(stops) - 1)
        pixels = []
        for x in range(wide):
            k = min(int(x // seg), len(stops) - 2)
            t = (x - k * seg) / seg
            a, b = stops[k], stops[k + 1]
            pixels.append(tuple(round(a[c] + (b[c] - a[c]) * t) for c in range(3)))
        line.putdata(pixels)
        grad = line.resize((wide, self.h), Image.Resampling.NEAREST)
        shade = Image.linear_gradient("L").resize((wide, self.h)).point(lambda v: v * 0.45)
        return Image.composite(Image.new("RGB", grad.size, (0, 0, 0)), grad, shade)

    def _cover(self, data):
        """The picture scaled to cover 125% of the frame, for a slow pan and zoom."""
        with Image.open(io.BytesIO(data)) as img:
            img = ImageOps.exif_transpose(img).convert("RGB")
            return ImageOps.fit(img, (round(self.w * 1.25), round(self.h * 1.25)), Image.Resampling.BILINEAR)

    def _overlay(self, spec, seed, variant):
        """Everything that does not move: the prompt band and the label, drawn once."""
        layer = Image.new("RGBA", (self.w, self.h), (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        big = font(max(14, self.h // 18))
        small = font(max(12, self.h // 30))
        pad = max(8, self.h // 30)
        wrapped = _wrap(" ".join(spec.prompt.split()), big, self.w - 2 * pad)
        lines = wrapped[:4]
        if len(wrapped) > 4:
            while lines[-1] and big.getlength(lines[-1] + "…") > self.w - 2 * pad:
                lines[-1] = lines[-1][:-1]
            lines[-1] += "…"
        line_h = int(big.size * 1.25)
        band_h = pad * 2 + line_h * len(lines)
        draw.rectangle((0, self.h - band_h, self.w, self.h), fill=(0, 0, 0, 120))
        for i, text in enumerate(lines):
            draw.text((pad, self.h - band_h + pad + i * line_h), text, font=big, fill=(255, 255, 255, 255))
        parts = ["DEMO", spec.model, spec.size, f"{spec.fps} fps", f"seed {seed}"]
        if spec.n > 1:
            parts.append(f"variant {variant + 1}/{spec.n}")
        room = self.w - 3 * pad - font(max(12, self.h // 28)).getlength("00.00s")  # the time stamp's place
        while len(parts) > 2 and small.getlength("  ".join(parts)) > room:
            del parts[2 if len(parts) > 3 else 1]  # a narrow frame keeps DEMO and the seed
        draw.text((pad, pad), "  ".join(parts), font=small, fill=(255, 255, 255, 230))
        self.band_h = band_h
        self.pad = pad
        return layer

    def frame(self, i):
        t = i / max(1, self.total - 1)
        if self.picture is not None:
            pw, ph = self.picture.size
            zoom = 1.0 - 0.2 * t  # 125% -> 100% of the frame: a slow zoom out
            cw, ch = pw * zoom, ph * zoom
            left, top = (pw - cw) * t, (ph - ch) * 0.5
            # BOX averages the source pixels each output pixel covers: at this mild zoom (at most 1.25x) it
            # looks like BILINEAR and takes about two thirds of the time (measured by make bench).
            img = self.picture.resize((self.w, self.h), Image.Resampling.BOX, box=(left, top, left + cw, top + ch))
        else:
            offset = round(t * self.w)
            img = self.background.crop((offset, 0, offset + self.w, self.h))
        for box, piece in self.overlay_parts:  # only the bands that hold something, not the whole frame
            img.paste(piece, box[:2], piece)
        draw = ImageDraw.Draw(img)
        bar_y = self.h - self.band_h - max(4, self.h // 120)
        draw.rectangle(
            (0, bar_y, round(self.w * (i + 1) / self.total), bar_y + max(3, self.h // 160)), fill=(255, 255, 255)
        )
        stamp = f"{i / self.fps:5.2f}s"
        draw.text(
            (self.w - self.pad - self.small.getlength(stamp), self.pad), stamp, font=self.small, fill=(255, 255, 255)
        )
        return img


def _wrap(text, face, width):
    """Lines of text no wider than width pixels: broken at spaces, or anywhere in Chinese (no spaces)."""
    lines, line = [], ""
    for char in text:
        if face.getlength(line + char) <= width or not line:
            line += char
            continue
        cut = line.rfind(" ")
        if cut > 0 and char != " ":
            lines.append(line[:cut])
            line = line[cut + 1 :] + char
        else:
            lines.append(line.rstrip())
            line = char.lstrip()
    return [*lines, line] if line else lines


def _drawn_bands(layer):
    """The boxes of the runs of rows where a transparent layer has something drawn."""
    alpha, bands, start = layer.getchannel("A"), [], None
    for y in range(layer.height + 1):
        drawn = y < layer.height and alpha.crop((0, y, layer.width, y + 1)).getbbox() is not None
        if drawn and start is None:
            start = y
        elif not drawn and start is not None:
            bands.append((0, start, layer.width, y))
            start = None
    return bands


def render_video(spec, seed, variant, mp4_path, thumb_path, on_frame=None, image_bytes=None) -> None:
    """Write one variant as an MP4 (and a JPEG thumbnail); on_frame(i) may raise Cancelled."""
    painter = FramePainter(spec, seed, variant, image_bytes)
    tmp = f"{mp4_path}.part"
    with av.open(tmp, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=Fraction(spec.fps))
        stream.width, stream.height, stream.pix_fmt = spec.width, spec.height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "23"}
        stream.codec_context.time_base = Fraction(1, spec.fps)
        with contextlib.closing(_drawn_ahead(painter, thumb_path)) as frames:  # closed at once if stopped
            for i, frame in frames:
                frame.pts = i
                frame.time_base = Fraction(1, spec.fps)
                for packet in stream.encode(frame):
                    out.mux(packet)
                if on_frame:
                    on_frame(i + 1)
        for packet in stream.encode():
            out.mux(packet)
    os.replace(tmp, mp4_path)


SPRITE_TILES = 10  # frames in a spritesheet (variant=spritesheet), evenly spaced
SPRITE_TILE_WIDTH = 160


def sprite_path(thumb_path):
    return thumb_path[: -len(".jpg")] + "_sprite.jpg"


def save_spritesheet(tiles, path) -> None:
    """The frames side by side, five to a row, as one JPEG."""
    if not tiles:
        return
    width, height = tiles[0].size
    columns = min(5, len(tiles))
    sheet = Image.new("RGB", (width * columns, height * -(-len(tiles) // columns)))
    for n, tile in enumerate(tiles):
        sheet.paste(tile, ((n % columns) * width, (n // columns) * height))
    sheet.save(path, "JPEG", quality=80)


def _drawn_ahead(painter, thumb_path, ahead: int = 4):
    """(index, video frame) in order, drawn by a thread of their own a few frames ahead: Pillow's resize
    and libx264 both let go of the GIL, so drawing the next frame overlaps encoding this one (on 2 cores,
    a 5 s 1280x720 pan and zoom took 3.0 s drawn and encoded in turn; make bench shows it now).
    Stopping early (a cancelled job) stops the drawing too."""
    frames, stop = queue.Queue(maxsize=ahead), threading.Event()
    thumb_at = painter.total // 2
    sprite_every = max(1, -(-painter.total // SPRITE_TILES))
    tiles = []

    def draw() -> None:
        try:
            for i in range(painter.total):
                if stop.is_set():
                    return
                img = painter.frame(i)
                if i == thumb_at:
                    img.save(thumb_path, "JPEG", quality=85)
                if i % sprite_every == 0:
                    tile = img.copy()
                    tile.thumbnail((SPRITE_TILE_WIDTH, SPRITE_TILE_WIDTH))
                    tiles.append(tile)
                frames.put((i, av.VideoFrame.from_image(img)))
            save_spritesheet(tiles, sprite_path(thumb_path))
            frames.put(None)
        except BaseException as exc:  # handed to the encoding side, which raises it
            frames.put(exc)

    drawer = threading.Thread(target=draw, name="demo-render-draw", daemon=True)
    drawer.start()
    try:
        while (item := frames.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while drawer.is_alive():  # let a drawer blocked on a full queue see the stop
            with contextlib.suppress(queue.Empty):
                frames.get(timeout=0.05)
        drawer.join()
