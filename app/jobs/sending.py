"""Turn a valid form into an upstream job and a history row, once per filled form.

The row is written before the request leaves, as "sending". It then takes the upstream's id, is dropped
when the upstream refused (nothing was made), or stays as "may have been created" when the outcome cannot
be known (a timeout after sending, a broken answer, a worker killed mid-send).
"""

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.core.config import Settings
from app.core.lifecycle import JobStatus
from app.core.messages import N_, Problem
from app.core.metrics import GUARD_REFUSALS, JOBS_CREATED
from app.jobs.follower import LOST_SEND, sender_id, sender_is_gone
from app.jobs.records import JobRecord
from app.jobs.spending_guard import Allowance, LimitReached
from app.jobs.store import JobStore
from app.storage.database import DATABASE_ERRORS
from app.upstream import Job, UpstreamCall, UpstreamError, VideoAPI

log = logging.getLogger("app.jobs.sending")
IN_FLIGHT_WAIT = 0.25
CREATED_ATTEMPTS = 3  # writes of a created job's id before it goes to the journal
CREATED_RETRY_WAIT = 0.2
UNWRITABLE = Problem(
    N_(
        "The history cannot be written just now, so nothing was sent. Try again in a moment; if "
        "it keeps happening, tell whoever runs this app."
    )
)
DISK_FULL = Problem(
    N_(
        "The disk where this app keeps its history is full, so nothing was sent. Tell whoever runs "
        "this app (DATA_DIR needs room)."
    )
)


def unwritable(exc: BaseException) -> Problem:
    """What to tell a person when the history refused a write: a full disk is named as such."""
    if "full" in str(exc).lower():
        log.error("the disk is full: the history (%s) cannot be written", exc)
        return DISK_FULL
    return UNWRITABLE


class AlreadySubmitted(Exception):
    """The same filled form was sent before; job_id is what it made ('' if that send never finished)."""

    def __init__(self, job_id: str, record=None) -> None:
        super().__init__(job_id)
        self.job_id, self.record = job_id, record

    @property
    def may_have_created(self) -> bool:
        return self.record is not None and self.record.status == JobStatus.UNCERTAIN


class MaybeCreated(Exception):
    """The request was sent and no usable answer came back; the job is kept as 'may have been created'."""

    def __init__(self, job_id: str, error: UpstreamError) -> None:
        super().__init__(error.message)
        self.job_id, self.error = job_id, error


class HistoryUnavailable(Exception):
    """The history cannot be written, so nothing was sent (or a made job could not be recorded)."""

    def __init__(self, message) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Sending:
    """Who sends a job and how it is sent: the same for create, compare and remix.

    token: the form's one-time token (the same filled form sent twice makes one job); submitted_by: the
    person the job is filed under (the signed-in person); spender: whom the spending guard counts;
    resend_confirmed: the person chose to send a form again whose first send may have made a job."""

    token: str | None = None
    submitted_by: str | None = None
    spender: str | None = None
    resend_confirmed: bool = False


def send_once(
    call: UpstreamCall,
    params: dict,
    api: VideoAPI,
    store: JobStore,
    settings: Settings,
    sending: Sending,
    allowance: Allowance | None = None,
    retoken: Callable[[str], None] | None = None,
) -> Job:
    """Send a prepared upstream call once per token, with the stored key; returns the new Job.

    The job takes a place in the allowance (the spending guard) before it is sent, and gives it back when
    the upstream refuses it. Raises UpstreamError (refused: nothing made), MaybeCreated, AlreadySubmitted,
    LimitReached or HistoryUnavailable. retoken(new_token) is told of the fresh token a confirmed resend
    takes, so a form shown again carries it.
    """
    token = (sending.token or "").strip()[:80]
    if token:
        try:
            earlier = _claim(store, token, settings)
        except DATABASE_ERRORS as exc:
            log.error("history not writable, nothing sent: %s", exc)
            raise HistoryUnavailable(unwritable(exc)) from exc
        if earlier is not None:
            record = store.get(earlier) if earlier else None
            if not (sending.resend_confirmed and record is not None and record.status == JobStatus.UNCERTAIN):
                raise AlreadySubmitted(earlier, record)
            token = secrets.token_hex(16)  # the person chose to send it again: a new, separate job
            if retoken is not None:
                retoken(token)
            store.claim_submission(token)
    try:
        job = send_recorded(
            store,
            {**params, "request": call.record()},
            lambda: api.send(call),
            allowance,
            sending.spender,
            sending.submitted_by,
            on_recorded=(lambda local_id: _quietly(store.finish_submission, token, local_id)) if token else None,
        )
    except MaybeCreated as lost:
        if token:
            _quietly(store.finish_submission, token, lost.job_id)
        raise
    except BaseException:
        if token:
            _quietly(store.release_submission, token)
        raise
    if token:
        _quietly(store.finish_submission, token, job.id)
    return job


def remix_job(
    source: JobRecord,
    prompt: str,
    api: VideoAPI,
    store: JobStore,
    settings: Settings,
    sending: Sending,
    allowance: Allowance | None = None,
) -> Job:
    """Ask the upstream to remix a finished job with a new prompt; returns the new Job (see send_once)."""
    call = api.prepare_remix(source.id, prompt)
    params = {
        **{k: v for k, v in source.params.items() if k not in ("image_warnings", "request", "found_by", "stopped")},
        "prompt": prompt,
        "remixed_from": source.id,
    }
    return send_once(call, params, api, store, settings, sending, allowance)


def send_recorded(
    store: JobStore,
    params: dict,
    send: Callable[[], Job],
    allowance: Allowance | None = None,
    spender: str | None = None,
    submitted_by: str | None = None,
    on_recorded: Callable[[str], None] | None = None,
) -> Job:
    """Take a place in the allowance, record the job as sending, send it, and record what came of it.
    on_recorded(local_id) is called once the row exists, before anything is sent."""
    place = None
    if allowance is not None:
        try:
            estimate = params.get("estimate") if isinstance(params.get("estimate"), dict) else None
            place = allowance.reserve(spender, estimate["amount"] if estimate else None)
        except LimitReached as limit:
            GUARD_REFUSALS.labels(limit="budget" if limit.budget else "jobs").inc()
            raise
        except DATABASE_ERRORS as exc:
            log.error("spending guard not writable, nothing sent: %s", exc)
            raise HistoryUnavailable(unwritable(exc)) from exc
    local_id = f"local-{secrets.token_hex(10)}"
    try:
        store.add_sending(local_id, params, submitted_by=submitted_by, sender=sender_id())
    except DATABASE_ERRORS as exc:
        _give_back(allowance, place)
        log.error("history not writable, nothing sent: %s", exc)
        raise HistoryUnavailable(unwritable(exc)) from exc
    if on_recorded is not None:
        on_recorded(local_id)
    try:
        job = send()
    except UpstreamError as err:
        if err.may_have_created:
            store.uncertain(local_id, err.message)
            raise MaybeCreated(local_id, err) from err
        store.discard(local_id)
        _give_back(allowance, place)
        raise
    except BaseException:
        # The worker is being stopped mid-send: the outcome is unknown, so the row must say so.
        store.uncertain(local_id, Problem(N_("The app was interrupted while sending this job.")))
        raise
    JOBS_CREATED.inc()
    return record_created(store, local_id, job)


def record_created(store: JobStore, local_id: str, job: Job, attempts: int = CREATED_ATTEMPTS) -> Job:
    """The row takes the upstream's id. The job exists and is paid for, so its id is never dropped: the
    write is tried again, and if the database still refuses, the id goes to the journal the follower
    replays (app/jobs/journal.py); the person is sent to the job either way. Returns the id to show."""
    error: Exception | None = None
    for attempt in range(attempts):
        try:
            store.created(local_id, job)
            return job
        except DATABASE_ERRORS as exc:
            error = exc
            time.sleep(CREATED_RETRY_WAIT * (attempt + 1))
    try:
        store.journal.append(local_id, job)
    except OSError as exc:
        log.critical(
            "job=%s was created upstream and could not be recorded anywhere (row %s): %s; %s",
            job.id,
            local_id,
            error,
            exc,
        )
        made = Problem(
            N_(
                "The video API made the job (%(id)s), but the history could not record it. Do not send "
                "it again; tell whoever runs this app."
            ),
            id=job.id,
        )
        raise HistoryUnavailable(made) from exc
    log.error("job=%s: the history refused its id (%s); kept in the journal under row %s", job.id, error, local_id)
    job.id = local_id  # its page, under the id it has now, shows the job once the follower replays it
    return job


def _quietly(call, *args) -> None:
    try:
        call(*args)
    except DATABASE_ERRORS as exc:
        log.warning("could not release a form's token: %s", exc)


def _give_back(allowance, place) -> None:
    if allowance is not None and place is not None:
        try:
            allowance.release(place)
        except DATABASE_ERRORS as exc:  # the count stays a little high: safe for spending
            log.warning("could not give back an allowance place: %s", exc)


def _claim(store, token: str, settings):
    """None when this request owns the token; else the job id an earlier send made ('' if still unknown).

    A second send of a form still in flight waits for the first one's answer; if that one fails and lets
    go of the token, this send takes it over. If the worker sending it has died, the row is settled as
    "may have been created" at once and returned, so the person gets the choice to send it again.
    """
    deadline = time.monotonic() + settings.video_api_connect_timeout + settings.video_api_timeout
    earlier = store.claim_submission(token)
    while earlier is not None and time.monotonic() < deadline:
        if earlier:
            record = store.get(earlier)  # found by its local id too, once it has the upstream's
            if record is None:
                return earlier
            if record.status != JobStatus.SENDING:
                return record.id  # the upstream's id, even before the first send has written it on the token
            if sender_is_gone(record.sender):
                store.uncertain(record.id, LOST_SEND)
                return earlier
        time.sleep(IN_FLIGHT_WAIT)
        earlier = store.claim_submission(token)
    return earlier
