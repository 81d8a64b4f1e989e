"""The request's image: an upload streamed to disk and checked with Pillow, sent as base64 from there;
or a URL passed through unchanged."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from typing import BinaryIO
from urllib.parse import urlsplit

from flask import Request, current_app
from PIL import Image, UnidentifiedImageError

from app.core.messages import N_, Problem
from app.storage.objects import ObjectStore, ObjectStoreError

log = logging.getLogger("app.media.images")

ALLOWED_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
TOKEN_RE = re.compile(r"\A[0-9a-f]{32}\.(png|jpg|webp)\Z")
KLING_MIN_SIDE = 300
KLING_MAX_RATIO = 2.5
# The same rules, for the page's script (which warns before sending); written from the constants above.
IMAGE_RULES = {"min_side": KLING_MIN_SIDE, "max_ratio": KLING_MAX_RATIO}
CHUNK = 256 * 1024
PARTIAL_UPLOAD_SECONDS = 3600
SPOOL_ABOVE = 500 * 1024  # as Werkzeug: a request body up to this size keeps its file fields in memory


class ImageError(ValueError):
    """The image cannot be used; the message is fit to show next to the field."""

    def __init__(self, message) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class CheckedImage:
    """An uploaded picture on disk that passed the checks, with advice that does not block sending."""

    path: str
    mime: str
    width: int
    height: int
    token: str = ""
    warnings: list = field(default_factory=list)


def check_image_file(path: str, max_bytes: int) -> CheckedImage:
    """Pillow must read it as png, jpeg or webp within the size limit; Kling's rules become warnings."""
    size = os.path.getsize(path)
    if size == 0:
        raise ImageError(Problem(N_("The chosen file is empty.")))
    if size > max_bytes:
        raise ImageError(
            Problem(
                N_("The image is %(size)s MB; at most %(limit)s MB is allowed."),
                size=f"{size / 1048576:.1f}",
                limit=f"{max_bytes / 1048576:.3g}",
            )
        )
    try:
        with Image.open(path) as img:
            fmt, (width, height) = img.format, img.size
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ImageError(
            Problem(N_("This file is not a picture that can be read. Choose a PNG, JPEG or WebP image."))
        ) from None
    if fmt not in ALLOWED_FORMATS:
        raise ImageError(
            Problem(N_("%(format)s images are not accepted. Choose a PNG, JPEG or WebP image."), format=fmt or "?")
        )
    warnings = []
    if min(width, height) < KLING_MIN_SIDE:
        warnings.append(
            Problem(
                N_(
                    "The image is %(width)sx%(height)s px; Kling models want at least %(side)s px "
                    "on each side and may refuse it."
                ),
                width=width,
                height=height,
                side=KLING_MIN_SIDE,
            )
        )
    ratio = max(width, height) / max(1, min(width, height))
    if ratio > KLING_MAX_RATIO:
        warnings.append(
            Problem(
                N_(
                    "The image's aspect ratio is %(ratio)s:1; Kling models accept at most "
                    "%(limit)s:1 and may refuse it."
                ),
                ratio=f"{ratio:.1f}",
                limit=KLING_MAX_RATIO,
            )
        )
    return CheckedImage(path, ALLOWED_FORMATS[fmt], width, height, warnings=warnings)


def check_image_url(url: str) -> str:
    """An http(s) address with a host, passed to the upstream unchanged."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ImageError(
            Problem(N_("Enter an address that starts with http:// or https://, like https://example.com/cat.jpg"))
        )
    if any(c.isspace() for c in url.strip()):
        raise ImageError(Problem(N_("The address contains spaces; paste it again without them.")))
    return url.strip()


class UploadStore:
    """Uploaded images kept on disk under a random token, so a form shown again keeps the chosen picture
    (a name nobody can guess; not a content hash, which cost time on every upload and saved almost nothing)."""

    def __init__(self, folder, objects: ObjectStore | None = None) -> None:
        self.folder = os.path.abspath(folder)
        # OBJECT_STORE_URL: every kept picture is also in the bucket under uploads/, so a form shown again
        # on another host still has it; the folder is then this host's cache of them.
        self.objects = objects
        os.makedirs(folder, exist_ok=True)

    def spool(self) -> UploadSpool:
        """Where a form's file field is written as it arrives (see UploadRequest)."""
        return UploadSpool(self.folder)

    def save_stream(self, stream: BinaryIO, max_bytes: int) -> CheckedImage:
        """Copy an upload to disk in chunks (never whole in memory), check it, and keep it under a new token.
        An upload already spooled into this folder (UploadSpool) is checked and renamed, not copied."""
        if isinstance(stream, UploadSpool) and os.path.dirname(stream.name) == self.folder:
            stream.flush()
            _check_size(stream.size, max_bytes)
            image = self._keep(stream.name, max_bytes)
            stream.kept = True  # renamed: closing it deletes nothing
            return image
        size = 0
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".upload")
        try:
            with os.fdopen(fd, "wb") as out:
                while True:
                    block = stream.read(CHUNK)
                    if not block:
                        break
                    size += len(block)
                    _check_size(size, max_bytes)
                    out.write(block)
            return self._keep(tmp, max_bytes)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise

    def _keep(self, tmp, max_bytes):
        """Check the picture written at tmp and move it to a new token's name."""
        image = check_image_file(tmp, max_bytes)
        image.token = f"{secrets.token_hex(16)}.{EXTENSIONS[image.mime]}"
        image.path = os.path.join(self.folder, image.token)
        os.replace(tmp, image.path)
        if self.objects is not None:
            try:
                self.objects.put_file("uploads/" + image.token, image.path, image.mime)
            except ObjectStoreError as exc:
                log.error("uploads: %s", exc)
                _remove_quietly(image.path)
                raise ImageError(
                    Problem(N_("The picture could not be kept: the storage is not answering. Try again in a moment."))
                ) from exc
        return image

    def path(self, token: str) -> str | None:
        """The file behind a token, or None when the token is malformed or unknown."""
        if not token or not TOKEN_RE.match(token):
            return None
        path = os.path.join(self.folder, token)
        if os.path.exists(path) or self.objects is None:
            return path if os.path.exists(path) else None
        fd, part = tempfile.mkstemp(dir=self.folder, suffix=".upload")  # kept on another host: fetch a copy
        os.close(fd)
        try:
            if not self.objects.get_file("uploads/" + token, part):
                return None
            os.replace(part, path)
            return path
        except (ObjectStoreError, OSError) as exc:
            log.error("uploads: %s", exc)
            return None
        finally:
            _remove_quietly(part)

    def load(self, token: str, max_bytes: int) -> CheckedImage | None:
        path = self.path(token)
        if path is None:
            return None
        image = check_image_file(path, max_bytes)
        image.token = token
        with contextlib.suppress(OSError):
            os.utime(path)  # in use again: housekeeping keeps it for another full period
        if self.objects is not None:
            try:
                self.objects.touch("uploads/" + token)
            except ObjectStoreError as exc:
                log.warning("uploads: %s", exc)
        return image

    def remove_older_than(self, cutoff: float, now: float | None = None) -> int:
        """Delete uploads last used before cutoff, and partial uploads left for an hour (a worker killed
        while one arrived: a live one is written to all along); returns how many."""
        partial_cutoff = max(cutoff, (now or time.time()) - PARTIAL_UPLOAD_SECONDS)
        removed = 0
        for entry in os.scandir(self.folder):
            partial = entry.name.endswith(".upload")
            if not entry.is_file() or not (TOKEN_RE.match(entry.name) or partial):
                continue
            try:
                if entry.stat().st_mtime < (partial_cutoff if partial else cutoff):
                    os.remove(entry.path)
                    removed += 1
            except OSError:
                pass
        if self.objects is not None:
            try:
                removed += self.objects.remove_older_than("uploads", cutoff)
            except ObjectStoreError as exc:
                log.error("uploads: %s", exc)
        return removed


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)


def _check_size(size, max_bytes):
    if size > max_bytes:
        raise ImageError(
            Problem(N_("The image is too large: at most %(limit)s MB is allowed."), limit=f"{max_bytes / 1048576:.3g}")
        )


class UploadSpool:
    """A form's file field written straight into the uploads folder as it arrives, so an image is
    written to disk once (Werkzeug's own spool would write it to /tmp, then save_stream copy it again).
    Deleted when closed (at the end of the request) unless save_stream kept it."""

    def __init__(self, folder) -> None:
        fd, self.name = tempfile.mkstemp(dir=folder, suffix=".upload")
        self.file = os.fdopen(fd, "w+b")
        self.size, self.kept = 0, False

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return self.file.write(data)

    def __getattr__(self, name):  # read, seek, tell, flush...: the file's own
        return getattr(self.file, name)

    def __iter__(self):
        return iter(self.file)

    def close(self) -> None:
        self.file.close()  # closing twice is harmless
        if not self.kept:
            with contextlib.suppress(OSError):
                os.remove(self.name)


class UploadRequest(Request):
    """Flask's request, with file fields spooled by the app's UploadStore (app.request_class)."""

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        studio = current_app.extensions.get("studio")
        if studio is None or (total_content_length or 0) <= SPOOL_ABOVE:  # a small body stays in memory
            return super()._get_file_stream(total_content_length, content_type, filename, content_length)
        spool = studio.uploads.spool()
        self.__dict__.setdefault("_spools", []).append(spool)
        return spool

    def close(self) -> None:
        """Also remove spooled files the form never reached: an upload cut off halfway (a tab closed)
        fails the parse before Werkzeug lists the file, so its own close() would not see it."""
        try:
            super().close()
        finally:
            for spool in self.__dict__.pop("_spools", ()):
                spool.close()
