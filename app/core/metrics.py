"""The studio's metrics for operations, in the Prometheus text format (served at /metrics, app/web/metrics.py).

Under gunicorn every worker and the follower process count into files in PROMETHEUS_MULTIPROC_DIR, which
gunicorn.conf.py sets (DATA_DIR/metrics, emptied at start) before anything imports prometheus_client; a
scrape adds them up. Elsewhere (tests, FOLLOWER=thread in one process) the counts are this process's own.
What the database knows (the archive's size) is read at scrape time by a collector, not counted."""

import os
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

JOBS_CREATED = Counter("studio_jobs_created_total", "Jobs the video API accepted (created or remixed).")
JOBS_FINISHED = Counter("studio_jobs_finished_total", "Jobs that reached their last status.", ["status"])
UPSTREAM_ERRORS = Counter("studio_upstream_errors_total", "Failed calls to the video API, by kind.", ["kind"])
STATUS_READS = Counter("studio_status_reads_total", "Status reads sent to the video API by the follower.")
GUARD_REFUSALS = Counter(
    "studio_guard_refusals_total", "Jobs the spending guard refused, by what refused them.", ["limit"]
)
FOLLOWER_LAG = Histogram(
    "studio_follower_lag_seconds",
    "Seconds from a job's completion (as the API said) to its video being archived here.",
    buckets=(1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)


class ArchiveCollector(Collector):
    """The archive's bytes and files, read from the job store when scraped."""

    def __init__(self, read: Callable[[], tuple[int, int]]) -> None:
        self.read = read

    def collect(self) -> Iterable[GaugeMetricFamily]:
        total, files = self.read()
        yield GaugeMetricFamily("studio_archive_bytes", "Bytes of archived videos and posters.", value=total)
        yield GaugeMetricFamily("studio_archive_files", "Archived videos.", value=files)


def exposition(read_archive: Callable[[], tuple[int, int]]) -> bytes:
    """Every metric, in the text format: all processes' counts when under gunicorn, this process's else."""
    counted = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)
    archive = CollectorRegistry()
    archive.register(ArchiveCollector(read_archive))
    return generate_latest(counted) + generate_latest(archive)
