"""Template filters: how statuses, times and metadata read to a person."""

import json
from datetime import datetime, timezone

STATUS_LABELS = {"queued": "Queued", "in_progress": "In progress", "completed": "Completed",
                 "failed": "Failed", "unknown": "Unknown"}


def status_label(status):
    return STATUS_LABELS.get(status, str(status).replace("_", " ").capitalize())


def status_sentence(job):
    return {
        "queued": "Waiting for the video API to start it.",
        "in_progress": "The video is being generated.",
        "completed": "The video is ready.",
        "failed": "The video API could not make this video.",
    }.get(job.status, f"The video API reports the status “{job.raw_status or 'unknown'}”.")


def human_time(seconds):
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%d %b %Y, %H:%M:%S UTC")


def iso_time(seconds):
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat()


def metadata_value(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


def register_filters(app):
    for func in (status_label, status_sentence, human_time, iso_time, metadata_value):
        app.add_template_filter(func)
