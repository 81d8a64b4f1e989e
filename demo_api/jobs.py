"""Jobs of the demo API: kept in memory (and on disk with a data dir), rendered by a bounded worker pool."""

import contextlib
import json
import logging
import os
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict

from demo_api.render import Cancelled, fetch_image, render_video
from demo_api.validation import JobSpec

log = logging.getLogger("demo_api")

EXPIRY_SECONDS = 24 * 3600
# OpenAI's Video schema marks these required, null or not (checked with Schemathesis against its spec).
ALWAYS_WRITTEN = (
    "id",
    "object",
    "model",
    "status",
    "progress",
    "created_at",
    "completed_at",
    "expires_at",
    "prompt",
    "seconds",
    "size",
    "remixed_from_video_id",
    "error",
)
PUBLIC_FIELDS = (
    "id",
    "object",
    "model",
    "status",
    "progress",
    "created_at",
    "seconds",
    "completed_at",
    "expires_at",
    "size",
    "error",
    "metadata",
    "prompt",
    "seed",
    "fps",
    "n",
    "user",
    "variants",
    "remixed_from_video_id",
)


class JobStore:
    """Holds job records and renders them in the background."""

    def __init__(
        self, data_dir, workers: int = 2, min_render_seconds: float = 0.0, allow_private_urls: bool = False
    ) -> None:
        self.data_dir = data_dir
        self.allow_private_urls = allow_private_urls
        self.min_render_seconds = min_render_seconds
        self._jobs = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="render")
        for sub in ("jobs", "videos", "inputs"):
            os.makedirs(os.path.join(data_dir, sub), exist_ok=True)
        self._load()

    # --- records -------------------------------------------------------------------------------

    def remix(self, source_id, prompt):
        """A new job with the source's settings (and picture) and a new prompt; None if there is no source."""
        with self._lock:
            source = self._jobs.get(source_id)
            settings = dict(source["_spec"]) if source else None
            if source is not None and settings is not None and settings.get("seed") is None:
                settings["seed"] = source["seed"]  # the seed it used: a remix is the same video, changed
        if settings is None:
            return None
        image_path = self._path("inputs", f"{source_id}.img")
        image = None
        if os.path.exists(image_path):
            with open(image_path, "rb") as fh:
                image = fh.read()
        return self.create(JobSpec(**{**settings, "prompt": prompt, "image_bytes": image}), remixed_from=source_id)

    def create(self, spec: JobSpec, remixed_from=None):
        """Store a new queued job and schedule its rendering; returns its public record."""
        now = int(time.time())
        job_id = "video_" + secrets.token_hex(12)
        seed = spec.seed if spec.seed is not None else secrets.randbelow(2**31)
        record = {
            "id": job_id,
            "object": "video",
            "model": spec.model,
            "status": "queued",
            "progress": 0,
            "created_at": now,
            "seconds": spec.seconds,
            "completed_at": None,
            "expires_at": now + EXPIRY_SECONDS,
            "size": spec.size,
            "error": None,
            "metadata": spec.metadata,
            "prompt": spec.prompt,
            "seed": seed,
            "fps": spec.fps,
            "n": spec.n,
            "user": spec.user,
            "variants": [{"index": i, "content_url": f"/v1/videos/{job_id}/content?index={i}"} for i in range(spec.n)],
            "remixed_from_video_id": remixed_from,
            "_seq": time.time_ns(),
            "_spec": {k: v for k, v in asdict(spec).items() if k != "image_bytes"},
        }
        if spec.image_bytes:
            with open(self._path("inputs", f"{job_id}.img"), "wb") as fh:
                fh.write(spec.image_bytes)
        with self._lock:
            self._jobs[job_id] = record
            self._save(record)
            created = self.public(record)
        self._pool.submit(self._render, job_id)
        return created

    def get(self, job_id):
        with self._lock:
            record = self._jobs.get(job_id)
            return self.public(record) if record else None

    def list(self, after=None, limit: int = 20, order: str = "desc"):
        """A page of jobs by creation order, OpenAI-style cursor pagination."""
        with self._lock:
            records = sorted(self._jobs.values(), key=lambda r: (r["created_at"], r["_seq"]), reverse=(order == "desc"))
            ids = [r["id"] for r in records]
            start = ids.index(after) + 1 if after in ids else 0
            page = [self.public(r) for r in records[start : start + limit]]
            has_more = start + limit < len(records)
        return page, has_more

    def delete(self, job_id) -> bool:
        with self._lock:
            record = self._jobs.pop(job_id, None)
            if record is None:
                return False
            record["_deleted"] = True
        for i in range(record["n"]):
            for path in (self.video_path(job_id, i), self.thumb_path(job_id, i)):
                _remove(path)
        _remove(self._path("inputs", f"{job_id}.img"))
        _remove(self._path("jobs", f"{job_id}.json"))
        return True

    def video_path(self, job_id, index: int = 0):
        return self._path("videos", f"{job_id}_{index}.mp4")

    def thumb_path(self, job_id, index: int = 0):
        return self._path("videos", f"{job_id}_{index}.jpg")

    @staticmethod
    def public(record):
        """The job as clients see it: OpenAI's video object, whose fields are all required (null when unset);
        the contract's extra fields only when set."""
        return {k: record.get(k) for k in PUBLIC_FIELDS if k in ALWAYS_WRITTEN or record.get(k) is not None}

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- rendering -----------------------------------------------------------------------------

    def _render(self, job_id) -> None:
        with self._lock:
            record = self._jobs.get(job_id)
            if record is None:
                return
            record["status"] = "in_progress"
            self._save(record)
        spec = JobSpec(**record["_spec"])
        fail_code = str(spec.metadata.get("demo_fail", "")).strip() if spec.metadata else ""
        total = spec.frame_count * spec.n
        started = time.monotonic()
        image_path = self._path("inputs", f"{job_id}.img")
        image = None
        if os.path.exists(image_path):
            with open(image_path, "rb") as fh:
                image = fh.read()
        elif spec.image_url:
            image = fetch_image(spec.image_url, self.allow_private_urls)

        def on_frame(done):
            if record.get("_deleted"):
                raise Cancelled
            if fail_code and done >= total // 2:
                raise _DemoFailure(fail_code)
            if self.min_render_seconds:
                lag = started + self.min_render_seconds * done / total - time.monotonic()
                if lag > 0:
                    time.sleep(lag)
            record["progress"] = min(99, int(100 * done / total))

        try:
            for variant in range(spec.n):
                offset = variant * spec.frame_count
                render_video(
                    spec,
                    record["seed"],
                    variant,
                    self.video_path(job_id, variant),
                    self.thumb_path(job_id, variant),
                    on_frame=lambda i, o=offset: on_frame(o + i),
                    image_bytes=image,
                )
        except Cancelled:
            return
        except _DemoFailure as exc:
            self._finish(
                record, "failed", {"code": exc.code, "message": f"Demo failure requested with code {exc.code!r}."}
            )
            return
        except Exception as exc:  # a bug or a disk problem must still end the job visibly
            log.exception("render of %s failed", job_id)
            self._finish(record, "failed", {"code": "render_error", "message": f"Rendering failed: {exc}"})
            return
        self._finish(record, "completed", None)

    def _finish(self, record, status, error) -> None:
        with self._lock:
            if record.get("_deleted"):
                return
            record.update(
                status=status,
                error=error,
                completed_at=int(time.time()),
                progress=100 if status == "completed" else record["progress"],
            )
            self._save(record)

    # --- persistence ---------------------------------------------------------------------------

    def _path(self, *parts):
        return os.path.join(self.data_dir, *parts)

    def _save(self, record) -> None:
        path = self._path("jobs", f"{record['id']}.json")
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({k: v for k, v in record.items() if k != "_deleted"}, fh)
        os.replace(tmp, path)

    def _load(self) -> None:
        folder = self._path("jobs")
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".json"):
                continue
            try:
                with open(os.path.join(folder, name), encoding="utf-8") as fh:
                    record = json.load(fh)
            except (OSError, ValueError):
                log.warning("skipping unreadable job file %s", name)
                continue
            self._jobs[record["id"]] = record
        for record in self._jobs.values():
            if record["status"] in ("queued", "in_progress"):
                record.update(status="queued", progress=0)
                self._pool.submit(self._render, record["id"])


class _DemoFailure(Exception):
    def __init__(self, code) -> None:
        super().__init__(code)
        self.code = code


def _remove(path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
