"""The archive of finished videos: fetched once from the upstream, streamed to disk, served from here."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from PIL import Image

from app.core.messages import N_, Problem
from app.storage.objects import ObjectBody, ObjectStore, ObjectStoreError
from app.upstream import Job, UpstreamError, VideoAPI

log = logging.getLogger("app.media.archive")
CHUNK = 256 * 1024
HEARTBEAT_SECONDS = 5
POSTER_MAX_BYTES = 10 * 1024 * 1024
POSTER_SECONDS = 30  # the longest a poster may take to extract, the child process killed after
POSTER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "poster.py")


class ArchiveError(Exception):
    """The video could not be archived; the message is fit to show a person."""

    def __init__(self, message) -> None:
        super().__init__(message)
        self.message = message


class VideoArchive:
    """Files under DATA_DIR/archive/<hash of the job id>/: <i>.mp4 and <i>.jpg (the poster) for each variant.

    With an object store (OBJECT_STORE_URL) the same names live in the bucket under archive/, so every host
    serves every video: a fetch still streams to DATA_DIR first (the size limits, the poster), then uploads
    the files and removes its local copy."""

    def __init__(
        self,
        folder,
        max_bytes=None,
        max_age_seconds=None,
        heartbeat_seconds=HEARTBEAT_SECONDS,
        max_file_bytes=None,
        fetch_seconds: float = 900.0,
        objects: ObjectStore | None = None,
    ) -> None:
        self.folder = os.path.abspath(folder)
        self.objects = objects
        self.heartbeat_seconds = heartbeat_seconds
        # No single file may be larger than this, nor than the whole archive's budget.
        self.max_file_bytes = min(b for b in (max_file_bytes, max_bytes, 2**62) if b is not None)
        self.fetch_seconds = fetch_seconds
        self.max_bytes, self.max_age_seconds = max_bytes, max_age_seconds
        os.makedirs(folder, exist_ok=True)

    def job_dir(self, job_id: str) -> str:
        """The job's folder: named from a hash of its id, never from upstream text itself."""
        return os.path.join(self.folder, hashlib.sha256(str(job_id).encode("utf-8")).hexdigest()[:32])

    def path(self, relative: str) -> str | None:
        """The absolute path of an archived file, refusing anything outside the archive."""
        full = os.path.realpath(os.path.join(self.folder, relative))
        root = os.path.realpath(self.folder)
        if not full.startswith(root + os.sep) or not os.path.isfile(full):
            return None
        return full

    def fetch(self, api: VideoAPI, job: Job, heartbeat: Callable[[], None] | None = None) -> tuple[list, int]:
        """Download every variant of a completed job (and a poster for each); returns (files, bytes).

        heartbeat() is called every few seconds while bytes arrive, so other workers know the fetch is alive.
        It is this fetch's own: the archive object is shared by every fetch of the worker.
        """
        folder = self.job_dir(job.id)
        os.makedirs(folder, exist_ok=True)
        files, total = [], 0
        deadline = time.monotonic() + self.fetch_seconds
        try:
            for index in range(job.variant_count):
                video = os.path.join(folder, f"{index}.mp4")
                total += self._download_video(api, job, index, video, heartbeat, deadline)
                poster = os.path.join(folder, f"{index}.jpg")
                thumbnail = self._download_poster(api, job, index, poster, deadline)
                # A thumbnail answered with the video itself (LiteLLM ignores variant=thumbnail): its first frame.
                has_poster = thumbnail is True or extract_poster(
                    video, poster, at_seconds=0.0 if thumbnail == FIRST_FRAME else 1.0
                )
                rel = os.path.relpath(folder, self.folder)
                files.append(
                    {
                        "index": index,
                        "video": f"{rel}/{index}.mp4",
                        "poster": f"{rel}/{index}.jpg" if has_poster else None,
                    }
                )
                if has_poster:
                    total += os.path.getsize(poster)
            if self.objects is not None:
                self._upload(files)
        except BaseException:
            # Nothing of a fetch that failed is kept: the retry fetches every variant again, and files no row
            # counts as archived would escape ARCHIVE_MAX_MB.
            self.remove(job.id)
            raise
        return files, total

    def _upload(self, files: list) -> None:
        """Move a fetched job's files to the object store: the poster first, the video last, so a video that
        can be played always has its poster; the local copies go once all are stored."""
        assert self.objects is not None
        for entry in files:
            for kind, content_type in (("poster", "image/jpeg"), ("video", "video/mp4")):
                if entry.get(kind):
                    try:
                        self.objects.put_file("archive/" + entry[kind], self._local(entry[kind]), content_type)
                    except ObjectStoreError as exc:
                        raise ArchiveError(
                            Problem(N_("The video could not be stored: %(reason)s"), reason=str(exc))
                        ) from exc
        for entry in files:
            shutil.rmtree(os.path.dirname(self._local(entry["video"])), ignore_errors=True)

    def _local(self, relative: str) -> str:
        return os.path.join(self.folder, relative)

    def open(self, relative: str, byte_range: str | None = None, if_none_match: str | None = None) -> ObjectBody | None:
        """An archived file's bytes from the object store (None: not there); only with OBJECT_STORE_URL."""
        assert self.objects is not None
        if not re.fullmatch(r"[0-9a-f]{32}/\d+\.(mp4|jpg)", relative):
            return None
        return self.objects.open("archive/" + relative, byte_range, if_none_match)

    def presigned_path(self, relative: str) -> str:
        """For nginx's internal location to the store: the object's signed path and query."""
        assert self.objects is not None
        return self.objects.presigned_path("archive/" + relative)

    def _download_video(self, api, job, index, target, heartbeat, deadline):
        try:
            resp = api.open_content(job.id, index=index)
        except UpstreamError as exc:
            if not (job.video_url and index == 0):
                raise ArchiveError(
                    Problem(N_("The video API did not hand over the video: %(reason)s"), reason=exc.message)
                ) from exc
            try:
                resp = api.open_content(job.id, url=job.video_url)
            except UpstreamError as exc2:
                raise ArchiveError(
                    Problem(N_("The video could not be downloaded: %(reason)s"), reason=exc2.message)
                ) from exc2
        with resp:
            kind = resp.headers.get("Content-Type", "")
            if kind.startswith(("application/json", "text/")):
                raise ArchiveError(
                    Problem(N_("The video API sent %(kind)s instead of a video."), kind=kind.split(";")[0])
                )
            return _stream_to(resp, target, heartbeat, self.heartbeat_seconds, self.max_file_bytes, deadline)

    def _download_poster(self, api, job, index, target, deadline):
        try:
            resp = api.open_content(job.id, variant="thumbnail", index=index)
        except UpstreamError:
            return False
        with resp:
            kind = resp.headers.get("Content-Type", "")
            if kind.startswith("video/"):
                return FIRST_FRAME  # closed unread: the same video was just downloaded
            if not kind.startswith("image/"):
                return False
            try:
                _stream_to(resp, target, max_bytes=POSTER_MAX_BYTES, deadline=min(deadline, time.monotonic() + 60))
                with Image.open(target) as img:
                    img.verify()
                return True
            except Exception as exc:  # noqa: BLE001 - any picture that cannot be read (a decompression bomb
                _remove(target)  # included) is skipped: the app makes its own poster, the video is kept
                log.warning("thumbnail of job %s not used: %s", job.id, type(exc).__name__)
                return False

    def remove_orphan_parts(self, now: float, older_than: float, gone: Callable[[int], bool]) -> int:
        """Delete the temporary files of downloads that will never finish: their worker is gone (gone(pid)),
        or they have not grown for older_than seconds. Returns how many."""
        removed = 0
        for folder, _, names in os.walk(self.folder):
            for name in names:
                if not name.endswith(".part"):
                    continue
                path = os.path.join(folder, name)
                pid = name.rsplit(".", 3)[-3] if name.count(".") >= 3 else ""
                try:
                    stale = (pid.isdigit() and gone(int(pid))) or os.path.getmtime(path) < now - older_than
                    if stale:
                        os.remove(path)
                        removed += 1
                except OSError:
                    continue
        return removed

    def remove(self, job_id: str) -> None:
        """Delete the job's files; only ever a folder directly inside the archive."""
        legacy = re.sub(r"[^A-Za-z0-9_.-]", "_", str(job_id))[:200]  # folders named by the first version
        for folder in (self.job_dir(job_id), os.path.join(self.folder, legacy)):
            real = os.path.realpath(folder)
            if os.path.dirname(real) == os.path.realpath(self.folder) and legacy not in ("", ".", ".."):
                shutil.rmtree(real, ignore_errors=True)
        if self.objects is not None:
            try:
                self.objects.delete_folder("archive/" + os.path.basename(self.job_dir(job_id)))
            except ObjectStoreError as exc:  # the row is gone or expired either way; the operator is told
                log.error("archive: %s", exc)

    def evict(self, store: Any, now: float | None = None) -> list[str]:
        """Drop the oldest archived videos beyond the age and size limits; their history rows stay."""
        now = now or time.time()
        entries = store.claims.archived_oldest_first()
        total = sum(size for _, _, size in entries)
        evicted = []
        for job_id, archived_at, size in entries:
            too_old = self.max_age_seconds is not None and archived_at < now - self.max_age_seconds
            too_big = self.max_bytes is not None and total > self.max_bytes
            if not (too_old or too_big):
                continue
            self.remove(job_id)
            store.claims.archive_expired(job_id)
            total -= size
            evicted.append(job_id)
        if evicted:
            log.info("archive: evicted %d video(s), %d bytes kept", len(evicted), total)
        return evicted


FIRST_FRAME = "first-frame"  # _download_poster's answer when the thumbnail came back as the video


def extract_poster(video_path: str, poster_path: str, timeout: float = POSTER_SECONDS, at_seconds: float = 1.0) -> bool:
    """Save a frame near at_seconds as a JPEG poster, decoded in a child process with memory, CPU and time
    limits (app/media/poster.py): a hostile video cannot take the worker's memory or time."""
    try:
        done = subprocess.run(
            [sys.executable, "-I", POSTER_SCRIPT, video_path, poster_path, f"{at_seconds:g}"],
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
    except subprocess.TimeoutExpired:
        log.warning("no poster for %s: decoding took over %s s and was stopped", os.path.basename(video_path), timeout)
        _remove(poster_path)
        return False
    except OSError as exc:
        log.warning("no poster for %s: %s", os.path.basename(video_path), exc)
        return False
    if done.returncode != 0 or not os.path.exists(poster_path):
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        log.warning("no poster for %s: %s", os.path.basename(video_path), reason[0][:200])
        _remove(poster_path)
        return False
    return True


def _stream_to(resp, target, heartbeat=None, heartbeat_seconds=HEARTBEAT_SECONDS, max_bytes=2**62, deadline=None):
    """Write the body to target through a temporary file, never holding it in memory; returns bytes written.

    Stops at max_bytes (announced or received) and at the deadline, however slowly the bytes drip in.
    """
    tmp = f"{target}.{os.getpid()}.{threading.get_ident()}.part"
    written, beat = 0, time.monotonic()
    announced = resp.headers.get("Content-Length", "")
    if announced.isdigit() and int(announced) > max_bytes:
        resp.close()
        raise ArchiveError(
            Problem(
                N_("The video is %(size)s, more than the %(limit)s this app keeps (VIDEO_MAX_MB, ARCHIVE_MAX_MB)."),
                size=_mb(int(announced)),
                limit=_mb(max_bytes),
            )
        )
    try:
        with open(tmp, "wb") as fh:
            for chunk in _blocks(resp, deadline):
                fh.write(chunk)
                written += len(chunk)
                if written > max_bytes:
                    raise ArchiveError(
                        Problem(
                            N_(
                                "The video grew past the %(limit)s this app keeps "
                                "(VIDEO_MAX_MB, ARCHIVE_MAX_MB); the download was stopped."
                            ),
                            limit=_mb(max_bytes),
                        )
                    )
                if heartbeat and time.monotonic() - beat > heartbeat_seconds:
                    heartbeat()
                    beat = time.monotonic()
        expected = resp.headers.get("Content-Length")
        if expected and expected.isdigit() and int(expected) != written:
            raise ArchiveError(
                Problem(
                    N_("The download stopped after %(written)s of %(expected)s bytes."),
                    written=written,
                    expected=expected,
                )
            )
        if written == 0:
            raise ArchiveError(Problem(N_("The video API sent an empty file.")))
        os.replace(tmp, target)
        return written
    except Exception as exc:
        _remove(tmp)
        if isinstance(exc, ArchiveError):
            raise
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            folder = os.path.dirname(os.path.dirname(target))
            log.error("the disk is full: %s has no room for %s", folder, os.path.basename(target))
            raise ArchiveError(
                Problem(
                    N_(
                        "The disk is full: %(folder)s has no room for the video. It is fetched "
                        "again once space is freed."
                    ),
                    folder=folder,
                )
            ) from exc
        raise ArchiveError(Problem(N_("The download broke off (%(error)s)."), error=type(exc).__name__)) from exc


def _blocks(resp, deadline=None):
    """The body as it arrives (each block what one read of the socket gave, up to CHUNK), never past the
    deadline: it is checked between blocks and set as the socket's timeout, so a body that trickles in a
    byte at a time stops at the deadline too."""
    raw = resp.raw
    while True:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _too_slow()
            _socket_timeout(raw, remaining)
        try:
            chunk = raw.read1(CHUNK, decode_content=True)
        except Exception as exc:
            if deadline is not None and time.monotonic() >= deadline - 0.05 and _timed_out(exc):
                raise _too_slow() from exc
            raise
        if not chunk:
            return
        yield chunk


def _socket_timeout(raw, seconds) -> None:
    connection = getattr(raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        current = sock.gettimeout()
        sock.settimeout(seconds if current is None else min(current, seconds))


def _timed_out(exc) -> bool:
    while exc is not None:
        if isinstance(exc, (socket.timeout, TimeoutError)) or "timed out" in str(exc).lower():
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _too_slow():
    return ArchiveError(Problem(N_("The download took longer than ARCHIVE_FETCH_SECONDS allows and was stopped.")))


def _mb(size) -> str:
    return f"{size / 1048576:.1f} MB"


def _remove(path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
