"""Template filters: how statuses, times and metadata read to a person."""

import json
import time
from datetime import UTC, datetime

from app.lifecycle import STATUS_LABELS, JobStatus


def status_label(status):
    try:
        return STATUS_LABELS[JobStatus(status)]
    except ValueError:
        return str(status).replace("_", " ").capitalize()


def status_sentence(job):
    return {
        JobStatus.SENDING: "Sending the request to the video API…",
        JobStatus.UNCERTAIN: "The video API may have created this job, but its answer never arrived.",
        JobStatus.QUEUED: "Waiting for the video API to start it.",
        JobStatus.IN_PROGRESS: "The video is being generated.",
        JobStatus.COMPLETED: "The video is ready.",
        JobStatus.FAILED: "The video API could not make this video.",
    }.get(job.status, f"The video API reports the status “{job.raw_status or 'unknown'}”.")


def _datetime(seconds):
    try:
        return datetime.fromtimestamp(float(seconds), UTC)
    except (OverflowError, OSError, ValueError, TypeError):
        return None


def human_time(seconds):
    moment = _datetime(seconds)
    return moment.strftime("%d %b %Y, %H:%M:%S UTC") if moment else "—"


def iso_time(seconds):
    moment = _datetime(seconds)
    return moment.isoformat() if moment else ""


def duration_text(seconds):
    """'45 seconds', '3 minutes', '2 hours': how long to wait, or how long something took."""
    seconds = max(0, int(seconds))
    if seconds < 90:
        return f"{seconds} seconds"
    if seconds < 5400:
        return f"{round(seconds / 60)} minutes"
    return f"{round(seconds / 3600)} hours"


def ago(seconds, now=None):
    """'12 s ago', '3 min ago', '2 h ago' for a past Unix time."""
    gap = max(0, int((now or time.time()) - float(seconds)))
    if gap < 90:
        return f"{gap} s ago"
    if gap < 5400:
        return f"{round(gap / 60)} min ago"
    return f"{round(gap / 3600)} h ago"


def metadata_value(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


def register_filters(app):
    for func in (status_label, status_sentence, human_time, iso_time, metadata_value, ago, duration_text):
        app.add_template_filter(func)
    app.add_template_global(time.time, "now")
