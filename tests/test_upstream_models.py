"""One place normalises what upstreams spell differently: statuses, timestamps, error shapes, job shapes."""

import pytest

from app.upstream.models import Job, unix_seconds


@pytest.mark.parametrize(
    "spelling,status",
    [
        ("queued", "queued"),
        ("pending", "queued"),
        ("submitted", "queued"),
        ("NOT_START", "queued"),
        ("in_progress", "in_progress"),
        ("processing", "in_progress"),
        ("running", "in_progress"),
        ("IN_PROGRESS", "in_progress"),
        ("completed", "completed"),
        ("succeeded", "completed"),
        ("success", "completed"),
        ("SUCCESS", "completed"),
        ("failed", "failed"),
        ("failure", "failed"),
        ("FAILURE", "failed"),
        ("unknown", "unknown"),
        ("something-new", "unknown"),
    ],
)
def test_status_spellings(spelling, status):
    job = Job.from_upstream({"id": "task_1", "status": spelling, "progress": 10})
    assert job.status == status and job.raw_status == spelling


def test_completed_means_full_progress_and_percent_strings_are_read():
    assert Job.from_upstream({"id": "a", "status": "success", "progress": "30%"}).progress == 100
    assert Job.from_upstream({"id": "a", "status": "running", "progress": "30%"}).progress == 30


@pytest.mark.parametrize(
    "raw,seconds",
    [
        (1764000000, 1764000000),
        (1764000000123, 1764000000),
        ("1764000000", 1764000000),
        (1764000000123456, 1764000000),
        ("2025-11-24T16:00:00Z", 1764000000),
        (None, None),
        ("", None),
        (0, None),
    ],
)
def test_timestamps_in_seconds_or_milliseconds(raw, seconds):
    assert unix_seconds(raw) == seconds


def test_relay_shapes_task_id_error_strings_and_metadata_url():
    job = Job.from_upstream(
        {
            "task_id": "task_9",
            "status": "FAILURE",
            "fail_reason": "content rejected",
            "metadata": {"url": "https://cdn.example.com/v.mp4"},
        }
    )
    assert job.id == "task_9" and job.status == "failed"
    assert job.error == {"message": "content rejected", "code": None}
    assert job.video_url == "https://cdn.example.com/v.mp4"
    wrapped = Job.from_upstream({"code": "success", "data": {"id": "task_2", "status": "SUCCESS"}})
    assert wrapped.id == "task_2" and wrapped.status == "completed"


def test_a_job_without_id_is_refused():
    with pytest.raises(ValueError):
        Job.from_upstream({"status": "queued"})
