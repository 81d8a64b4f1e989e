"""Follows every unfinished job on the server, whether anyone has a page open or not, and archives each
finished video once.

Each gunicorn worker runs one Follower thread. They share the work through claims in the job store
(a claim is a conditional UPDATE with a lease), so one job gets one status read at a time and one video
fetch, across workers and, with a shared store, across hosts. Pages only read what the follower stored.
"""

import logging
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from app.core.instance import instance_id
from app.core.lifecycle import JobStatus
from app.core.messages import N_, Problem, stored
from app.core.metrics import FOLLOWER_LAG, JOBS_FINISHED, STATUS_READS
from app.jobs.database import NEW_WORK
from app.media.archive import ArchiveError
from app.upstream import UpstreamError

log = logging.getLogger("app.jobs.follower")

LOST_SEND = Problem(
    N_(
        "The app stopped while sending this job (a restart or a crash), before the video API's "
        "answer came back. The API may have created it and may charge for it: check with its "
        "provider before sending the same request again."
    )
)
ARCHIVE_RETRY_FIRST, ARCHIVE_RETRY_MAX = 15.0, 900.0
ARCHIVE_DEADLINE_UNKNOWN_EXPIRY = 24 * 3600  # relays' addresses last "hours to a day"
ARCHIVE_TRIES_PAST_EXPIRY = 3  # fetches tried after the upstream's copy says it has expired
RECONCILE_EVERY = 60.0  # how often jobs that may have been created are looked for in the API's list
RECONCILE_WINDOW = 24 * 3600  # ... for how long after they were sent
MATCH_SLACK = 120.0  # a listed job made this long before its send (clocks differ) still matches


def sender_id() -> str:
    """instance:pid of this worker (app/core/instance.py), written on a row while it is being sent."""
    return f"{instance_id()}:{os.getpid()}"


class Follower:
    """Reads the status of every running job at the upstream's pace and archives completed videos."""

    def __init__(
        self,
        api,
        store,
        archive,
        uploads=None,
        *,
        min_interval: float = 1.0,
        stall_after: float = 1800.0,
        status_timeout: float = 20.0,
        connect_timeout: float = 5.0,
        send_window: float = 600.0,
        archive_lease: float = 60.0,
        upload_max_age=14 * 86400.0,
        tick: float = 0.25,
        status_threads: int = 16,
        archive_threads: int = 2,
        housekeeping_every: float = 600.0,
        max_reads_per_second: float = 400.0,
    ) -> None:
        self.api, self.store, self.archive, self.uploads = api, store, archive, uploads
        self.min_interval, self.stall_after = min_interval, stall_after
        self.status_timeout = (connect_timeout, status_timeout)
        self.status_lease = connect_timeout + status_timeout + 5
        self.send_window, self.archive_lease = send_window, archive_lease
        self.upload_max_age, self.tick = upload_max_age, tick
        self.status_threads, self.archive_threads = status_threads, archive_threads
        self.housekeeping_every = housekeeping_every
        self._lock = threading.Lock()
        self._thread, self._pid = None, None
        self._stop, self._wake = threading.Event(), threading.Event()
        self._busy = {"status": set(), "archive": set()}
        self._pools = None  # None while stopped: run_once() then does its work inline (tests, tools)
        self._next_housekeeping = 0.0
        self._next_reconcile = 0.0
        self.reconcile_every = RECONCILE_EVERY
        self._no_list_until = 0.0
        self._paused_until = 0.0
        self._more_due = False
        self._running, self._counted_at = 0, -1e18
        self.max_reads_per_second = max_reads_per_second
        self.clock = time.time  # tests put a fixed clock here: intervals are then exact

    # --- running ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Start following in this process (again after a fork: threads do not survive one)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
                return
            self._prepare()
            self._thread = threading.Thread(target=self._run, daemon=True, name="follower")
            self._thread.start()
            database = self.store.db.database
            if database.dialect == "postgresql":  # work made on any host wakes this follower at once
                args = (NEW_WORK, self.wake, self._stop)
                threading.Thread(target=database.listen, args=args, daemon=True, name="listen").start()

    def _prepare(self) -> None:
        self._pid = os.getpid()
        self._stop, self._wake = threading.Event(), threading.Event()
        self._busy = {"status": set(), "archive": set()}
        self._pools = {
            "status": ThreadPoolExecutor(self.status_threads, thread_name_prefix="status"),
            "archive": ThreadPoolExecutor(self.archive_threads, thread_name_prefix="archive"),
        }

    def ensure_running(self) -> None:
        """After a fork (gunicorn --preload) the parent's thread is not here: start one in this process."""
        if self._pid is not None and self._pid != os.getpid():
            self.start()

    def stop(self) -> None:
        """Stop following (tests and shutdown); work in flight is left to its lease."""
        with self._lock:
            thread, self._thread, self._pid = self._thread, None, None
            self._stop.set()
            self._wake.set()
            for pool in (self._pools or {}).values():
                pool.shutdown(wait=False, cancel_futures=True)
            self._pools = None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def wake(self) -> None:
        """Look for work now rather than at the next tick (a job was just created)."""
        self._wake.set()

    def _run(self) -> None:
        next_round = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_round:
                    self.run_once()
                    next_round = time.monotonic() + self.tick
                elif self.clock() >= self._paused_until:
                    # Woken because a status read finished and more were waiting: take the next ones only;
                    # the rest of a round (sends, fetches, tidying) waits for its tick.
                    self._dispatch_status_reads(self.clock())
            except Exception:  # a locked database or a full disk must not end the follower
                log.exception("follower round failed; trying again")
            self._wake.wait(max(0.0, next_round - time.monotonic()))
            self._wake.clear()

    def run_once(self) -> None:
        """One round: record ids kept in the journal, settle lost sends, start due status reads and archive
        fetches, tidy up now and then."""
        now = self.clock()
        self.store.journal.replay(self.store)
        self._settle_lost_sends(now)
        self._break_dead_fetches()
        self.reconcile(now)
        self._paused_until = max(self._paused_until, self.store.claims.upstream_paused_until())
        if now < self._paused_until:
            return  # the API asked to be left alone (429/503 with Retry-After)
        self._dispatch_status_reads(now)
        self._dispatch(
            "archive",
            self.store.claims.due_archives(now, self.archive_lease),
            self.fetch,
            lambda job_id: self.store.claims.claim_archive(job_id, self.archive_lease, sender_id()),
        )
        if now >= self._next_housekeeping:
            self._next_housekeeping = now + self.housekeeping_every
            self.housekeeping(now)

    def _dispatch_status_reads(self, now: float) -> None:
        """Claim as many due status reads as there are free hands (FOLLOWER_CONCURRENCY per worker) in one
        statement and start them; each one that finishes wakes the loop to take the next, so the pace
        follows the work and the upstream's latency rather than a fixed tick."""
        busy = self._busy["status"]
        free = self.status_threads - len(busy)
        if free <= 0:
            return  # every hand busy: the next one to finish wakes the loop
        claimed = self.store.claims.claim_due_status_reads(now, self.status_lease, free)
        self._more_due = len(claimed) == free
        for job_id in claimed:
            if job_id in busy or self.clock() < self._paused_until:
                continue  # paused meanwhile: read once the pause is over
            busy.add(job_id)
            pools = self._pools
            if pools is None:
                self._guarded("status", self.check, job_id)
                continue
            try:
                pools["status"].submit(self._guarded, "status", self.check, job_id)
            except RuntimeError:  # stopping
                busy.discard(job_id)
                return

    def _dispatch(self, kind, due, work, claim) -> None:
        busy = self._busy[kind]
        for job_id in due:
            if self.clock() < self._paused_until:
                return
            if len(busy) >= (self.status_threads if kind == "status" else self.archive_threads):
                return  # every thread is busy (a hanging upstream): claim nothing we cannot start now
            if job_id in busy or not claim(job_id):
                continue
            busy.add(job_id)
            pools = self._pools
            if pools is None:
                self._guarded(kind, work, job_id)
                continue
            try:
                pools[kind].submit(self._guarded, kind, work, job_id)
            except RuntimeError:  # stopping
                busy.discard(job_id)
                return

    def _guarded(self, kind, work, job_id: str) -> None:
        try:
            work(job_id)
        except Exception:
            log.exception("%s work on %s failed", kind, job_id)
        finally:
            self._busy[kind].discard(job_id)
            if kind == "status" and self._more_due:
                self._wake.set()  # a hand is free and work was waiting: take the next now

    def _settle_lost_sends(self, now: float) -> None:
        """A row still 'sending' whose worker is gone, or that is older than any send can take."""
        for job_id, sender, submitted_at in self.store.sending():
            gone = sender_is_gone(sender)
            if (gone or submitted_at < now - self.send_window) and self.store.uncertain(job_id, LOST_SEND):
                log.warning("job %s: its send never finished; marked as possibly created", job_id)

    def _break_dead_fetches(self) -> None:
        """A fetch whose worker on this host died (kill -9) is due again now, not when its lease runs out."""
        for job_id, holder in self.store.claims.fetches_in_progress():
            if holder and sender_is_gone(holder):
                self.store.claims.break_archive_lease(job_id, holder)
                log.warning("job %s: the worker fetching its video is gone; fetching it again", job_id)

    def reconcile(self, now: float) -> None:
        """Look for jobs that may have been created in the API's list of recent jobs (GET /v1/videos): a
        listed job not in the history, of the same model and prompt, made around when the row was sent, is
        attached to it and followed. An API without a list is asked again an hour later."""
        if now < max(self._next_reconcile, self._no_list_until):
            return
        rows = self.store.uncertain_since(now - RECONCILE_WINDOW)
        if not rows:
            return
        self._next_reconcile = now + self.reconcile_every
        try:
            listed = self.api.list_videos(timeout=self.status_timeout)
        except UpstreamError as exc:
            if exc.status in (400, 404, 405, 501) or exc.status is None:
                self._no_list_until = now + 3600
            log.info("the API's list of jobs is not available (%s); uncertain jobs wait for a person", exc.kind)
            return
        taken = set()
        for record in rows:
            match = _best_match(record, [j for j in listed if j.id not in taken], self.send_window)
            if match is not None and self.store.get(match.id) is None and self.store.found(record.id, match, "list"):
                taken.add(match.id)
                log.info("job %s (may have been created) found in the API's list as %s", record.id, match.id)

    # --- status ----------------------------------------------------------------------------------

    def check(self, job_id: str) -> None:
        """Read one job's status upstream and store it; archive it at once when it has completed."""
        record = self.store.claims.check_state(job_id)
        if record is None or not record.status.is_running:
            return
        now = self.clock()
        STATUS_READS.inc()
        try:
            job = self.api.get_video(job_id, timeout=self.status_timeout)
        except UpstreamError as exc:
            delay = min(60.0, max(self.min_interval, 1.0) * 2 ** min(record.check_failures + 1, 6))
            delay = self._listen(exc, jittered(delay), now)
            quiet_since = max(record.answered_at, record.submitted_at)
            self.store.claims.status_unanswered(job_id, exc.message, now + delay, now - quiet_since > self.stall_after)
            log.info("status of %s unavailable (%s); next try in %.0f s", job_id, exc.kind, delay)
            return
        moved = job.status != record.status or job.progress != record.progress
        stalled = not moved and now - max(record.changed_at, record.submitted_at) > self.stall_after
        next_check_at = now + self._interval(job, record, now, stalled)
        if moved or record.has_error:
            if self.store.claims.status_answered(job, next_check_at, stalled) and job.status.is_finished:
                JOBS_FINISHED.labels(status=job.status.value).inc()
        else:
            self.store.claims.status_unchanged(job_id, next_check_at, stalled)
        if job.status == JobStatus.COMPLETED:
            self._dispatch(
                "archive",
                [job_id],
                self.fetch,
                lambda jid: self.store.claims.claim_archive(jid, self.archive_lease, sender_id()),
            )

    def _running_jobs(self, now: float):
        """How many jobs are being followed (counted at most once a second)."""
        if now - self._counted_at >= 1.0:
            self._running, self._counted_at = self.store.claims.count_running(), now
        return self._running

    def _listen(self, exc, delay, now: float):
        """The wait before trying again: at least what Retry-After asked for; and when the API says it is
        overloaded (429 or 503 with Retry-After), one pause for every job and every worker, not one per job."""
        asked = float(exc.retry_after) if exc.retry_after else 0.0
        if asked and exc.status in (429, 503):
            self._paused_until = max(self._paused_until, now + asked)
            self.store.claims.pause_upstream(now + asked)
            log.warning("the video API is overloaded (HTTP %s): leaving it alone for %.0f s", exc.status, asked)
        return max(delay, asked * random.uniform(1.0, 1.2)) if asked else delay

    def _interval(self, job, record, now: float, stalled: bool):
        """The upstream's hint (never faster than min_interval), slower as a job grows old or stalls, and
        spread so that all running jobs together ask at most max_reads_per_second of the API."""
        hint = job.raw.get("_poll_after_ms") or 0
        age = now - record.submitted_at
        floor = 0 if age < 120 else 3 if age < 600 else 10 if age < 3600 else 30
        if stalled:
            floor = max(floor, 60)
        # The share of the read budget is not jittered: it is already a spread, and the bound people rely on.
        share = self._running_jobs(now) / self.max_reads_per_second
        return max(self.min_interval, jittered(max(hint / 1000.0, 0.1, floor)), share)

    # --- the archive -----------------------------------------------------------------------------

    def fetch(self, job_id: str) -> None:
        """Fetch a completed job's video; on failure schedule a retry with backoff until the upstream's copy expires."""
        record = self.store.get(job_id)
        if record is None:
            return
        try:
            files, total = self.archive.fetch(
                self.api, record.job, heartbeat=lambda: self.store.claims.archive_heartbeat(job_id)
            )
        except (ArchiveError, UpstreamError, OSError) as exc:
            message = getattr(exc, "message", None) or str(exc)
            now = self.clock()
            wait = jittered(min(ARCHIVE_RETRY_MAX, ARCHIVE_RETRY_FIRST * 2**record.archive_attempts))
            said = exc if isinstance(exc, UpstreamError) else exc.__cause__
            if isinstance(said, UpstreamError):
                wait = self._listen(said, wait, now)
            retry_at = now + wait
            finished = record.job.completed_at or record.answered_at or now
            deadline = record.job.expires_at or finished + ARCHIVE_DEADLINE_UNKNOWN_EXPIRY
            # An expiry already past by our clock may be the API's clock: a few tries all the same.
            if retry_at > deadline and record.archive_attempts + 1 >= ARCHIVE_TRIES_PAST_EXPIRY:
                retry_at = None
            self.store.claims.archive_failed(job_id, message, retry_at)
            log.warning(
                "archiving %s failed (%s); %s",
                job_id,
                message,
                f"next try in {retry_at - now:.0f} s" if retry_at else "giving up: the API's copy has expired",
            )
            return
        self.store.claims.archive_done(job_id, files, total)
        finished = record.job.completed_at or record.changed_at
        if finished:
            FOLLOWER_LAG.observe(max(0.0, self.clock() - finished))
        log.info("archived %s: %d file(s), %d bytes", job_id, len(files), total)
        self.archive.evict(self.store)

    # --- tidying ---------------------------------------------------------------------------------

    def housekeeping(self, now: float | None = None) -> None:
        """Evict old archived videos and forget uploaded images no one has used for a while."""
        now = now or self.clock()
        self.archive.evict(self.store, now)
        removed = self.archive.remove_orphan_parts(
            now, older_than=self.archive_lease * 2, gone=lambda pid: sender_is_gone(f"{instance_id()}:{pid}")
        )
        if removed:
            log.info("removed %d unfinished download(s) left by stopped workers", removed)
        if self.uploads is not None:
            removed = self.uploads.remove_older_than(now - self.upload_max_age, now)
            if removed:
                log.info("removed %d uploaded image(s) unused for %.0f days", removed, self.upload_max_age / 86400)

    def stop_job(self, job_id: str, by: str | None) -> tuple[str, bool]:
        """Stop a running job: ask the API to cancel it (DELETE, which cancels a job that is still running
        on OpenAI-style APIs and the demo API), and stop following it whatever the API answers. Returns
        (what a person is told, whether the API confirmed it); the note is kept on the job."""
        record = self.store.get(job_id)
        if record is None or not record.status.is_running:
            return Problem(N_("This job had already ended; nothing was stopped.")), False
        confirmed = False
        try:
            self.api.delete_video(record.id)
            note, confirmed = Problem(N_("Stopped: the video API cancelled the job.")), True
        except UpstreamError as exc:
            if exc.status in (400, 404, 405, 501):  # no such route (LiteLLM, new-api) or the id is unknown there
                note = Problem(
                    N_(
                        "Stopped following it here. The video API has no way to cancel a job, so it may still "
                        "finish upstream and be charged."
                    )
                )
            else:
                note = Problem(
                    N_("Stopped following it here, but the video API did not confirm cancelling it: %(reason)s"),
                    reason=exc.message,
                )
        stop = {"by": by, "at": self.store.clock(), "confirmed": confirmed, "note": stored(note)}
        if not self.store.claims.stopped(record.id, stop):
            return Problem(N_("This job had already ended; nothing was stopped.")), False
        return note, confirmed

    def forget(self, job_id: str) -> tuple[str, bool]:
        """Remove a job from history and archive, and upstream where the route exists; returns (what a person
        is told, whether the API confirmed it)."""
        note, confirmed = Problem(N_("The job was deleted.")), True
        record = self.store.get(job_id)
        if record is not None and record.status not in (JobStatus.SENDING, JobStatus.UNCERTAIN):
            try:
                self.api.delete_video(job_id)
            except UpstreamError as exc:
                confirmed = False
                if exc.status in (400, 404, 405, 501):  # no such route (LiteLLM, new-api) or id unknown there
                    note = Problem(N_("Removed from this studio. The API keeps its copy until it expires."))
                else:
                    note = Problem(
                        N_("Removed from this studio, but the video API did not confirm deleting its copy: %(reason)s"),
                        reason=exc.message,
                    )
        self.archive.remove(job_id)
        self.store.delete(job_id)
        return note, confirmed


def jittered(seconds: float, spread: float = 0.15) -> float:
    """seconds, give or take `spread` of it, so jobs sent together do not all ask again at once."""
    return seconds * random.uniform(1 - spread, 1 + spread)


def _best_match(record, listed, send_window):
    """The listed job that is this row's: same prompt (when the list says), same model (when both say),
    made from a little before it was sent to the end of the send window; the closest in time."""
    prompt, model = record.params.get("prompt"), record.params.get("model")
    start, end = record.submitted_at - MATCH_SLACK, record.submitted_at + send_window
    found = []
    for job in listed:
        listed_prompt = job.raw.get("prompt") if isinstance(job.raw, dict) else None
        if listed_prompt is None or listed_prompt != prompt:
            continue
        if model and job.model and job.model != model:
            continue
        if job.created_at is None or not start <= job.created_at <= end:
            continue
        found.append(job)
    return min(found, key=lambda j: abs(j.created_at - record.submitted_at)) if found else None


def sender_is_gone(sender: str | None) -> bool:
    """True when the worker sending a row (instance:pid) is one of this instance's and is no longer alive."""
    instance, _, pid = (sender or "").rpartition(":")
    return instance == instance_id() and pid.isdigit() and not _alive(int(pid))


def _alive(pid) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
