"""Follows jobs: shared status reads through the store, and the one-time archiving of finished videos."""

import logging
import threading

from app.archive import ArchiveError
from app.video_api import UpstreamError

log = logging.getLogger("app.tracker")


class JobTracker:
    """Knows when to ask the upstream again, and makes sure a finished video is fetched exactly once."""

    def __init__(self, api, store, archive, status_interval=1.0, archive_lease=60.0):
        self.api, self.store, self.archive = api, store, archive
        self.status_interval, self.archive_lease = status_interval, archive_lease

    def current(self, job_id):
        """The job's latest record, read upstream only when no worker has done so within the interval."""
        record = self.store.get(job_id)
        if record is None:
            return None
        if not record.job.is_finished and self.store.claim_status_read(job_id, self.status_interval):
            try:
                self.store.update_job(self.api.get_video(job_id))
            except UpstreamError as exc:
                log.info("status of %s unavailable: %s", job_id, exc.kind)
                self.store.update_job(record.job, check_error=exc.message)
            record = self.store.get(job_id)
        if record.job.status == "completed" and record.archive in ("none", "fetching", "failed"):
            self._archive_in_background(record)
        return record

    def _archive_in_background(self, record):
        if not self.store.claim_archive(record.id, self.archive_lease):
            return
        threading.Thread(target=self.archive_now, args=(record.job,), daemon=True, name="archive").start()

    def archive_now(self, job):
        """Fetch a completed job's video into the archive (runs in a background thread)."""
        try:
            files, total = self.archive.fetch(self.api, job, heartbeat=lambda: self.store.archive_heartbeat(job.id))
        except (ArchiveError, UpstreamError, OSError) as exc:
            message = getattr(exc, "message", None) or str(exc)
            log.warning("archiving %s failed: %s", job.id, message)
            self.store.archive_failed(job.id, message)
            return
        self.store.archive_done(job.id, files, total)
        log.info("archived %s: %d file(s), %d bytes", job.id, len(files), total)
        self.archive.evict(self.store)

    def delete(self, job_id):
        """Remove a job from history and archive, and upstream where the route exists; returns a note or None."""
        note = None
        try:
            self.api.delete_video(job_id)
        except UpstreamError as exc:
            if exc.status not in (400, 404, 405, 501):
                note = f"The video API did not confirm the deletion: {exc.message}"
        self.archive.remove(job_id)
        self.store.delete(job_id)
        return note
