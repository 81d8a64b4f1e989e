"""A job as the history keeps it: the upstream's job with what the app knows about it (who sent it, its
settings, how its status reads and archive went), read from a row of the jobs table."""

import json
from dataclasses import dataclass, field
from typing import Any

from app.core.lifecycle import ArchiveState, JobStatus
from app.core.messages import loaded
from app.upstream import Job


@dataclass
class JobRecord:
    """A row of history: the latest job we saw, what the person typed, and the archived files."""

    job: Job
    submitted_at: float
    submitted_by: str | None
    params: dict
    checked_at: float
    check_error: str | None
    archive: ArchiveState
    archive_error: str | None
    archive_bytes: int
    archived_at: float | None
    files: list = field(default_factory=list)  # [{"index", "video", "poster"}] relative to the archive
    local_id: str | None = None
    answered_at: float = 0
    changed_at: float = 0
    stalled_at: float | None = None
    archive_attempts: int = 0
    archive_next_at: float = 0
    check_failures: int = 0
    sender: str | None = None  # host:pid of the worker sending it, while it is being sent

    @property
    def id(self) -> str:
        return self.job.id

    @property
    def status(self) -> JobStatus:
        return self.job.status

    @property
    def is_settled(self) -> bool:
        """Nothing more will change by itself: a live page may stop asking."""
        if self.status in (JobStatus.FAILED, JobStatus.UNCERTAIN):
            return True
        return self.status == JobStatus.COMPLETED and self.archive in (
            ArchiveState.ARCHIVED,
            ArchiveState.EXPIRED,
            ArchiveState.FAILED,
        )

    @property
    def is_stalled(self) -> bool:
        return self.stalled_at is not None and self.status.is_running

    @property
    def has_video(self) -> bool:
        return self.archive == ArchiveState.ARCHIVED and any(f.get("video") for f in self.files)

    @property
    def poster(self) -> dict | None:
        return next((f for f in self.files if f.get("poster")), None)

    @property
    def video_dimensions(self) -> tuple[int, int] | None:
        """(width, height) of the video as the job says, else as it was asked for; None when unknown."""
        for text in (self.job.size, f"{self.params.get('width')}x{self.params.get('height')}"):
            parts = str(text or "").lower().replace("*", "x").split("x")
            if len(parts) == 2 and all(p.strip().isdigit() and 0 < int(p) <= 10000 for p in parts):
                return int(parts[0]), int(parts[1])
        return None

    @property
    def shape(self) -> str:
        """landscape, portrait or square: how the player should be laid out."""
        dims = self.video_dimensions
        if not dims or dims[0] > dims[1]:
            return "landscape"
        return "portrait" if dims[1] > dims[0] else "square"

    @property
    def stopped(self) -> dict | None:
        """{"by", "at", "confirmed", "note"} when a person stopped the job in the studio."""
        stop = self.params.get("stopped")
        return stop if isinstance(stop, dict) else None

    @property
    def can_fetch_again(self) -> bool:
        return self.status == JobStatus.COMPLETED and self.archive in (
            ArchiveState.RETRYING,
            ArchiveState.FAILED,
            ArchiveState.EXPIRED,
        )


def record_from_row(row: Any) -> JobRecord:
    """The JobRecord of a row of the jobs table."""
    keys = row.keys()
    # The status column is the truth (the app's own states are written there alone).
    return JobRecord(
        job=Job.from_dict({**json.loads(row["job"]), "status": row["status"]}),
        submitted_at=row["submitted_at"],
        submitted_by=row["submitted_by"],
        params=_params(row["params"]),
        checked_at=row["checked_at"],
        check_error=loaded(row["check_error"]),
        archive=ArchiveState(row["archive"]),
        archive_error=loaded(row["archive_error"]),
        archive_bytes=row["archive_bytes"],
        archived_at=row["archived_at"],
        files=json.loads(row["files"]),
        **{
            k: row[k]
            for k in (
                "local_id",
                "answered_at",
                "changed_at",
                "stalled_at",
                "archive_attempts",
                "archive_next_at",
                "check_failures",
                "sender",
            )
            if k in keys
        },
    )


def _params(text):
    params = json.loads(text)
    if isinstance(params.get("image_warnings"), list):
        params["image_warnings"] = [loaded(w) for w in params["image_warnings"]]
    if isinstance(params.get("stopped"), dict):
        params["stopped"]["note"] = loaded(params["stopped"].get("note"))
    return params
