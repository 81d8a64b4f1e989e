"""The request's image: an upload checked with Pillow, kept on disk and sent as base64; or a URL passed through."""

import base64
import hashlib
import io
import os
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from PIL import Image, UnidentifiedImageError

ALLOWED_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
TOKEN_RE = re.compile(r"^[0-9a-f]{32}\.(png|jpg|webp)$")
KLING_MIN_SIDE = 300
KLING_MAX_RATIO = 2.5


class ImageError(ValueError):
    """The image cannot be used; the message is fit to show next to the field."""


@dataclass
class CheckedImage:
    """An uploaded picture that passed the checks, with advice that does not block sending."""

    data: bytes
    mime: str
    width: int
    height: int
    warnings: list = field(default_factory=list)


def check_image(data, max_bytes):
    """Pillow must read it as png, jpeg or webp within the size limit; Kling's rules become warnings."""
    if not data:
        raise ImageError("The chosen file is empty.")
    if len(data) > max_bytes:
        raise ImageError(f"The image is {len(data) / 1048576:.1f} MB; at most {max_bytes / 1048576:.3g} MB is allowed.")
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, (width, height) = img.format, img.size
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ImageError("This file is not a picture that can be read. Choose a PNG, JPEG or WebP image.") from None
    if fmt not in ALLOWED_FORMATS:
        raise ImageError(f"{fmt or 'This'} images are not accepted. Choose a PNG, JPEG or WebP image.")
    warnings = []
    if min(width, height) < KLING_MIN_SIDE:
        warnings.append(f"The image is {width}x{height} px; Kling models want at least "
                        f"{KLING_MIN_SIDE} px on each side and may refuse it.")
    ratio = max(width, height) / max(1, min(width, height))
    if ratio > KLING_MAX_RATIO:
        warnings.append(f"The image's aspect ratio is {ratio:.1f}:1; Kling models accept at most "
                        f"{KLING_MAX_RATIO}:1 and may refuse it.")
    return CheckedImage(data, ALLOWED_FORMATS[fmt], width, height, warnings)


def encode_image(data, mime, fmt="raw"):
    """Base64 of the bytes: raw (as Kling wants) or as a data: URL (as OpenAI-style upstreams want)."""
    encoded = base64.b64encode(data).decode("ascii")
    return f"data:{mime};base64,{encoded}" if fmt == "data-url" else encoded


def check_image_url(url):
    """An http(s) address with a host, passed to the upstream unchanged."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ImageError("Enter an address that starts with http:// or https://, like https://example.com/cat.jpg")
    if any(c.isspace() for c in url.strip()):
        raise ImageError("The address contains spaces; paste it again without them.")
    return url.strip()


class UploadStore:
    """Uploaded images kept on disk by content hash, so a form shown again keeps the chosen picture."""

    def __init__(self, folder):
        self.folder = folder
        os.makedirs(folder, exist_ok=True)

    def save(self, image: CheckedImage):
        token = f"{hashlib.sha256(image.data).hexdigest()[:32]}.{EXTENSIONS[image.mime]}"
        path = os.path.join(self.folder, token)
        if not os.path.exists(path):
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "wb") as fh:
                fh.write(image.data)
            os.replace(tmp, path)
        return token

    def path(self, token):
        """The file behind a token, or None when the token is malformed or unknown."""
        if not token or not TOKEN_RE.match(token):
            return None
        path = os.path.join(self.folder, token)
        return path if os.path.exists(path) else None

    def load(self, token, max_bytes):
        path = self.path(token)
        if path is None:
            return None
        with open(path, "rb") as fh:
            return check_image(fh.read(), max_bytes)
