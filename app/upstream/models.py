"""The contract's request and job models, and how the upstream's answers are normalised into them:
status spellings, timestamp units, numbers clamped, ids checked (see docs/relay-notes.md)."""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.core.lifecycle import JobStatus

MAX_ID_LENGTH = 1024  # ids are opaque: LiteLLM's are ~234 characters of base64 with "=", new-api's "task_..."
# Keys OpenAI's video object always writes, null or not (new-api and the first demo API left them out when null).
OPENAI_VIDEO_KEYS = {"completed_at", "expires_at", "error", "remixed_from_video_id"}
LATEST_TIMESTAMP = 253402300799  # 9999-12-31: anything later is not a time a person can read
MAX_SEED = 2**63 - 1
STATUS_SPELLINGS = {
    "queued": "queued",
    "pending": "queued",
    "submitted": "queued",
    "not_start": "queued",
    "not_started": "queued",
    "waiting": "queued",
    "created": "queued",
    "in_progress": "in_progress",
    "processing": "in_progress",
    "running": "in_progress",
    "generating": "in_progress",
    "started": "in_progress",
    "completed": "completed",
    "succeeded": "completed",
    "success": "completed",
    "succeed": "completed",
    "done": "completed",
    "finished": "completed",
    "failed": "failed",
    "failure": "failed",
    "error": "failed",
    "cancelled": "failed",
    "canceled": "failed",
    "expired": "failed",
}


@dataclass(frozen=True)
class ImageUpload:
    """A checked picture on disk and the name the person's file had; each flavour decides how it is sent."""

    path: str
    mime: str
    filename: str


@dataclass
class VideoRequest:
    """A create request in the contract's terms; None means: leave the field out."""

    prompt: str
    model: str | None = None
    image: str | ImageUpload | None = None  # an http(s) URL passed through, or a checked upload on disk
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    fps: int | None = None
    seed: int | None = None
    n: int | None = None
    response_format: str | None = None
    user: str | None = None
    metadata: dict = field(default_factory=dict)


@dataclass
class Job:
    """A video job as the app shows it, whatever the upstream's spelling."""

    id: str
    status: JobStatus
    raw_status: str = ""
    object: str = "video"
    model: str | None = None
    progress: int = 0
    created_at: int | None = None  # Unix seconds
    completed_at: int | None = None
    expires_at: int | None = None
    seconds: str | None = None
    size: str | None = None
    error: dict | None = None  # {"message", "code"}
    metadata: dict = field(default_factory=dict)
    video_url: str | None = None  # a direct address of the MP4, when the upstream gives one
    variant_count: int = 1
    seed: int | None = None  # the seed the upstream used, when it says
    fps: int | None = None
    # Whether the answers keep the metadata sent: True when they carry a metadata object; False when they are
    # OpenAI's whole video object (null fields written out), which has no place for it, as LiteLLM's are;
    # None when the answer cannot tell (new-api leaves metadata out until it has a video address).
    metadata_kept: bool | None = None
    raw: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.status = JobStatus(self.status)

    @property
    def is_finished(self) -> bool:
        return self.status.is_finished

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict) -> Job:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @classmethod
    def from_upstream(cls, data: Any) -> Job:
        """Normalise an upstream job object (OpenAI, the contract, or a relay's variant)."""
        if not isinstance(data, dict):
            raise ValueError("the job is not a JSON object")
        nested = data.get("data")
        inner: dict = nested if isinstance(nested, dict) and "id" not in data else data
        job_id = inner.get("id") or inner.get("task_id")
        if not job_id or not isinstance(job_id, (str, int)) or isinstance(job_id, bool):
            raise ValueError("the answer has no job id")
        if not is_usable_id(str(job_id)):
            raise ValueError(
                f'its job id (empty, ".", "..", longer than {MAX_ID_LENGTH} characters or holding '
                "control characters) is not one any address can carry"
            )
        raw_status = str(inner.get("status") or "").strip()[:60]
        status = STATUS_SPELLINGS.get(raw_status.lower(), "unknown" if raw_status else "queued")
        given = inner.get("metadata")
        metadata: dict = given if isinstance(given, dict) else {}
        error = inner.get("error")
        if isinstance(error, str):
            error = {"message": error, "code": None}
        elif isinstance(error, dict):
            error = {"message": str(error.get("message") or error.get("msg") or ""), "code": error.get("code")}
            if not error["message"] and not error["code"]:
                error = None
        else:
            error = None
        if status == "failed" and error is None and inner.get("fail_reason"):
            error = {"message": str(inner["fail_reason"]), "code": None}
        listed = inner.get("variants")
        variants: list = listed if isinstance(listed, list) else []
        return cls(
            id=str(job_id),
            status=JobStatus(status),
            raw_status=raw_status,
            object=str(inner.get("object") or "video"),
            model=_str_or_none(inner.get("model")),
            progress=_progress(inner.get("progress"), status),
            created_at=unix_seconds(inner.get("created_at")),
            completed_at=unix_seconds(inner.get("completed_at")),
            expires_at=unix_seconds(inner.get("expires_at")),
            seconds=_str_or_none(inner.get("seconds")),
            size=_str_or_none(inner.get("size")),
            error=error,
            metadata=metadata,
            video_url=_video_url(inner, metadata),
            variant_count=max(1, min(len(variants), 16)),
            seed=_whole(inner.get("seed"), 0, MAX_SEED)
            if inner.get("seed") is not None
            else _whole(metadata.get("seed"), 0, MAX_SEED),
            fps=_whole(inner.get("fps"), 1, 1000),
            metadata_kept=(
                True
                if isinstance(given, dict)
                else False
                if "metadata" not in inner and set(inner) >= OPENAI_VIDEO_KEYS
                else None
            ),
            raw=data,
        )


def is_usable_id(value: str) -> bool:
    """An upstream id is opaque: any printable text up to MAX_ID_LENGTH characters, kept as sent. It is
    percent-encoded wherever it goes into a path and never names a file; only control characters (and lone
    surrogates, which no URL or database can carry) are refused, and "." and "..", which every HTTP stack
    resolves as a path step however they are escaped."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_ID_LENGTH
        and value not in (".", "..")
        and not any(unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") for c in value)
    )


def unix_seconds(value: Any) -> int | None:
    """Unix seconds from seconds, milliseconds, numeric strings or ISO text; None when absent."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        try:
            return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp())
        except ValueError:
            return None
    if not math.isfinite(number):
        return None
    if number > 1e14:  # microseconds
        number /= 1e6
    elif number > 1e11:  # milliseconds: 1e11 s is the year 5138
        number /= 1e3
    return int(number) if 0 < number <= LATEST_TIMESTAMP else None


def _progress(value, status):
    try:
        number = float(str(value).rstrip("%"))
    except (TypeError, ValueError):
        number = 0
    if not math.isfinite(number):
        number = 0
    if 0 < number <= 1 and isinstance(value, float):
        number *= 100
    if status == "completed":
        number = 100
    return max(0, min(100, int(number)))


def _video_url(job, metadata):
    for candidate in (metadata.get("url"), job.get("url"), job.get("video_url")):
        if isinstance(candidate, str) and candidate.startswith(("http://", "https://")):
            return candidate
    return None


def _whole(value, low, high):
    """A whole number within [low, high] from an int or a numeric string; None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = int(value) if isinstance(value, int) else int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if low <= number <= high else None


def _str_or_none(value):
    return None if value is None or value == "" else str(value)
