"""The archive of finished videos: fetched once from the upstream, streamed to disk, served from here."""

import contextlib
import hashlib
import logging
import os
import re
import shutil
import threading
import time

import av
from PIL import Image

from app.problems import N_, Problem
from app.upstream import UpstreamError

log = logging.getLogger("app.archive")
CHUNK = 256 * 1024
HEARTBEAT_SECONDS = 5
POSTER_MAX_BYTES = 10 * 1024 * 1024


class ArchiveError(Exception):
    """The video could not be archived; the message is fit to show a person."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class VideoArchive:
    """Files under DATA_DIR/archive/<job id>/: <i>.mp4 and <i>.jpg (the poster) for each variant."""

    def __init__(self, folder, max_bytes=None, max_age_seconds=None, heartbeat_seconds=HEARTBEAT_SECONDS,
                 max_file_bytes=None, fetch_seconds=900.0):
        self.folder = os.path.abspath(folder)
        self.heartbeat_seconds = heartbeat_seconds
        # No single file may be larger than this, nor than the whole archive's budget.
        self.max_file_bytes = min(b for b in (max_file_bytes, max_bytes, 2**62) if b is not None)
        self.fetch_seconds = fetch_seconds
        self.max_bytes, self.max_age_seconds = max_bytes, max_age_seconds
        os.makedirs(folder, exist_ok=True)

    def job_dir(self, job_id):
        """The job's folder: named from a hash of its id, never from upstream text itself."""
        return os.path.join(self.folder, hashlib.sha256(str(job_id).encode("utf-8")).hexdigest()[:32])

    def path(self, relative):
        """The absolute path of an archived file, refusing anything outside the archive."""
        full = os.path.realpath(os.path.join(self.folder, relative))
        root = os.path.realpath(self.folder)
        if not full.startswith(root + os.sep) or not os.path.isfile(full):
            return None
        return full

    def fetch(self, api, job, heartbeat=None):
        """Download every variant of a completed job (and a poster for each); returns (files, bytes).

        heartbeat() is called every few seconds while bytes arrive, so other workers know the fetch is alive.
        It is this fetch's own: the archive object is shared by every fetch of the worker.
        """
        folder = self.job_dir(job.id)
        os.makedirs(folder, exist_ok=True)
        files, total = [], 0
        deadline = time.monotonic() + self.fetch_seconds
        for index in range(job.variant_count):
            video = os.path.join(folder, f"{index}.mp4")
            total += self._download_video(api, job, index, video, heartbeat, deadline)
            poster = os.path.join(folder, f"{index}.jpg")
            has_poster = self._download_poster(api, job, index, poster) or extract_poster(video, poster)
            rel = os.path.relpath(folder, self.folder)
            files.append({"index": index, "video": f"{rel}/{index}.mp4",
                          "poster": f"{rel}/{index}.jpg" if has_poster else None})
            if has_poster:
                total += os.path.getsize(poster)
        return files, total

    def _download_video(self, api, job, index, target, heartbeat, deadline):
        try:
            resp = api.open_content(job.id, index=index)
        except UpstreamError as exc:
            if not (job.video_url and index == 0):
                raise ArchiveError(Problem(N_("The video API did not hand over the video: %(reason)s"),
                                           reason=exc.message)) from exc
            try:
                resp = api.open_content(job.id, url=job.video_url)
            except UpstreamError as exc2:
                raise ArchiveError(Problem(N_("The video could not be downloaded: %(reason)s"),
                                           reason=exc2.message)) from exc2
        with resp:
            kind = resp.headers.get("Content-Type", "")
            if kind.startswith(("application/json", "text/")):
                raise ArchiveError(Problem(N_("The video API sent %(kind)s instead of a video."),
                                           kind=kind.split(";")[0]))
            return _stream_to(resp, target, heartbeat, self.heartbeat_seconds, self.max_file_bytes, deadline)

    def _download_poster(self, api, job, index, target):
        try:
            resp = api.open_content(job.id, variant="thumbnail", index=index)
        except UpstreamError:
            return False
        with resp:
            if not resp.headers.get("Content-Type", "").startswith("image/"):
                return False
            try:
                _stream_to(resp, target, max_bytes=POSTER_MAX_BYTES, deadline=time.monotonic() + 60)
                with Image.open(target) as img:
                    img.verify()
                return True
            except (ArchiveError, OSError, SyntaxError, ValueError):
                _remove(target)
                return False

    def remove(self, job_id):
        """Delete the job's files; only ever a folder directly inside the archive."""
        legacy = re.sub(r"[^A-Za-z0-9_.-]", "_", str(job_id))[:200]     # folders named by the first version
        for folder in (self.job_dir(job_id), os.path.join(self.folder, legacy)):
            real = os.path.realpath(folder)
            if os.path.dirname(real) == os.path.realpath(self.folder) and legacy not in ("", ".", ".."):
                shutil.rmtree(real, ignore_errors=True)

    def evict(self, store, now=None):
        """Drop the oldest archived videos beyond the age and size limits; their history rows stay."""
        now = now or time.time()
        entries = store.archived_oldest_first()
        total = sum(size for _, _, size in entries)
        evicted = []
        for job_id, archived_at, size in entries:
            too_old = self.max_age_seconds is not None and archived_at < now - self.max_age_seconds
            too_big = self.max_bytes is not None and total > self.max_bytes
            if not (too_old or too_big):
                continue
            self.remove(job_id)
            store.archive_expired(job_id)
            total -= size
            evicted.append(job_id)
        if evicted:
            log.info("archive: evicted %d video(s), %d bytes kept", len(evicted), total)
        return evicted


def extract_poster(video_path, poster_path, at_seconds=1.0):
    """Save a frame near at_seconds (or the last one before it) as a JPEG poster."""
    try:
        with av.open(video_path) as container:
            stream = container.streams.video[0]
            chosen = None
            for frame in container.decode(stream):
                chosen = frame
                if frame.time is not None and frame.time >= at_seconds:
                    break
            if chosen is None:
                return False
            chosen.to_image().save(poster_path, "JPEG", quality=85)
            return True
    except (av.error.FFmpegError, OSError, IndexError, ValueError) as exc:
        log.warning("no poster for %s: %s", os.path.basename(video_path), exc)
        return False


def _stream_to(resp, target, heartbeat=None, heartbeat_seconds=HEARTBEAT_SECONDS, max_bytes=2**62, deadline=None):
    """Write the body to target through a temporary file, never holding it in memory; returns bytes written.

    Stops at max_bytes (announced or received) and at the deadline, however slowly the bytes drip in.
    """
    tmp = f"{target}.{os.getpid()}.{threading.get_ident()}.part"
    written, beat = 0, time.monotonic()
    announced = resp.headers.get("Content-Length", "")
    if announced.isdigit() and int(announced) > max_bytes:
        resp.close()
        raise ArchiveError(Problem(N_("The video is %(size)s, more than the %(limit)s this app keeps "
                                      "(VIDEO_MAX_MB, ARCHIVE_MAX_MB)."),
                                   size=_mb(int(announced)), limit=_mb(max_bytes)))
    try:
        with open(tmp, "wb") as fh:
            for chunk in resp.iter_content(CHUNK):
                fh.write(chunk)
                written += len(chunk)
                if written > max_bytes:
                    raise ArchiveError(Problem(N_("The video grew past the %(limit)s this app keeps "
                                                  "(VIDEO_MAX_MB, ARCHIVE_MAX_MB); the download was stopped."),
                                               limit=_mb(max_bytes)))
                if deadline is not None and time.monotonic() > deadline:
                    raise ArchiveError(Problem(N_("The download took longer than ARCHIVE_FETCH_SECONDS allows and "
                                                  "was stopped.")))
                if heartbeat and time.monotonic() - beat > heartbeat_seconds:
                    heartbeat()
                    beat = time.monotonic()
        expected = resp.headers.get("Content-Length")
        if expected and expected.isdigit() and int(expected) != written:
            raise ArchiveError(Problem(N_("The download stopped after %(written)s of %(expected)s bytes."),
                                       written=written, expected=expected))
        if written == 0:
            raise ArchiveError(Problem(N_("The video API sent an empty file.")))
        os.replace(tmp, target)
        return written
    except Exception as exc:
        _remove(tmp)
        if isinstance(exc, ArchiveError):
            raise
        raise ArchiveError(Problem(N_("The download broke off (%(error)s)."), error=type(exc).__name__)) from exc


def _mb(size):
    return f"{size / 1048576:.1f} MB"


def _remove(path):
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
