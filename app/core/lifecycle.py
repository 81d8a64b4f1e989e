"""The lifecycle of a job and of its archived copy: the one list of states that the store, the follower,
the templates and the status JSON all use."""

from enum import StrEnum

from app.core.messages import N_


class JobStatus(StrEnum):
    """Where a job stands. The first two are the app's own; the rest are the upstream's, normalised."""

    SENDING = "sending"  # recorded here, the create request is on its way
    UNCERTAIN = "uncertain"  # sent, but no usable answer came back: the job may exist upstream
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    UNKNOWN = "unknown"  # the upstream answered a status spelling nobody here knows

    @property
    def is_running(self) -> bool:
        """The upstream has the job and will change it: the follower keeps reading its status."""
        return self in RUNNING

    @property
    def is_finished(self) -> bool:
        """The upstream has said its last word on the job."""
        return self in (JobStatus.COMPLETED, JobStatus.FAILED)


RUNNING = (JobStatus.QUEUED, JobStatus.IN_PROGRESS, JobStatus.UNKNOWN)


class ArchiveState(StrEnum):
    """The app's own copy of a completed job's video."""

    NONE = "none"  # nothing fetched yet
    FETCHING = "fetching"  # one worker holds the lease and is downloading
    ARCHIVED = "archived"  # served from here
    RETRYING = "retrying"  # the last try failed; the follower tries again at archive_next_at
    FAILED = "failed"  # given up (the upstream's copy has expired); "Fetch again" may still work
    EXPIRED = "expired"  # evicted from the archive by its size or age limit


# Labels a person reads; the templates and the status JSON use these, never the raw values.
STATUS_LABELS = {  # message ids: translated where shown (app/web/filters.py)
    JobStatus.SENDING: N_("Sending"),
    JobStatus.UNCERTAIN: N_("May have been created"),
    JobStatus.QUEUED: N_("Queued"),
    JobStatus.IN_PROGRESS: N_("In progress"),
    JobStatus.COMPLETED: N_("Completed"),
    JobStatus.FAILED: N_("Failed"),
    JobStatus.UNKNOWN: N_("Unknown"),
}
