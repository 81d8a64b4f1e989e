"""Thin routes: the form, submitting, the job page and its live status, the archived video, history."""

import contextlib
import errno
import logging
import math
import os
import time

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from app.core.i18n import gettext as _
from app.core.i18n import problem_text
from app.core.lifecycle import JobStatus
from app.core.messages import N_, Problem
from app.jobs.queries import STATUS_FILTERS
from app.jobs.records import JobRecord
from app.jobs.sending import AlreadySubmitted, HistoryUnavailable, MaybeCreated, send_once
from app.jobs.spending_guard import LimitReached
from app.media.video_files import send_object, send_video
from app.services import services
from app.storage.database import DATABASE_ERRORS
from app.storage.objects import ObjectStoreError
from app.upstream import UpstreamError, UpstreamRefused, is_usable_id
from app.web.auth import sending
from app.web.errors import browser_status
from app.web.form_page import empty_form_page, filled_form, form_context, limit_reached, render_form
from app.web.forms import VideoJobForm
from app.web.presenters import card_context, download_name, live_state

bp = Blueprint("studio", __name__)
log = logging.getLogger("app.web.studio")

HISTORY_PAGE_SIZE = 20


def record_or_404(job_id: str) -> JobRecord:
    """The stored record (pages never wait on the upstream: the follower keeps it current)."""
    record = services().store.get(job_id)
    if record is None:
        abort(404, description=Problem(N_("No job with id %(id)s was submitted through this app."), id=job_id))
    return record


@bp.get("/")
def new_job() -> ResponseReturnValue:
    """The form: empty with defaults, or filled from an example (?example=) or an earlier job (?from=<id>)."""
    page = empty_form_page()
    if page is not None:
        return page
    form, notice = filled_form()
    return render_form(form, notice=notice)


@bp.post("/jobs")
def create_job() -> ResponseReturnValue:
    """Validate, send upstream (once per filled form), then redirect to the job's permalink."""
    form = VideoJobForm()
    settings = services().settings
    valid = form.validate()
    valid = form.check_profile(services().profiles.match(form.model.data)) and valid
    if not (form.take_image(services().uploads, settings.max_upload_bytes) and valid):
        return render_form(form, status=400)
    if g.get("identity") and not (form.user.data or "").strip():
        form.user.data = g.identity  # the API's `user` says who asked, unless the person typed another
    try:
        api = services().api
        job = send_once(
            api.prepare_create(form.to_video_request(form.image_value())),
            services().profiles.priced(form.values()),
            api,
            services().store,
            settings,
            sending(
                settings, form.submission_id.data, form.user.data, resend_confirmed=request.form.get("resend") == "1"
            ),
            allowance=services().allowance,
            retoken=lambda token: setattr(form.submission_id, "data", token),  # a form shown again carries it
        )
    except LimitReached as limit:
        return limit_reached(form, limit)
    except AlreadySubmitted as earlier:
        if earlier.may_have_created:
            return render_form(form, status=409, uncertain=earlier.record)
        if earlier.job_id:
            return redirect(url_for("studio.job_page", job_id=earlier.job_id), code=303)
        return render_form(
            form,
            status=409,
            notice=_(
                "This form was already sent and the video API has not answered it yet. Wait a moment and look in "
                "the history before sending it again."
            ),
        )
    except MaybeCreated as lost:
        current_app.logger.warning("create outcome unknown: %s (kept as %s)", lost.error.kind, lost.job_id)
        return render_form(
            form,
            status=browser_status(lost.error),
            upstream_error=lost.error,
            uncertain=services().store.get(lost.job_id),
        )
    except UpstreamError as err:
        current_app.logger.warning("create failed: %s %s", err.kind, err.status or "")
        return render_form(form, status=browser_status(err), upstream_error=err)
    except HistoryUnavailable as exc:
        return render_form(form, status=503, notice=problem_text(exc.message))
    services().follower.wake()
    return redirect(url_for("studio.job_page", job_id=job.id), code=303)


@bp.get("/jobs/<job:job_id>")
def job_page(job_id: str) -> ResponseReturnValue:
    """The job's card beside the form filled with its settings: a permalink that shows the current state,
    and where a person lands after Create, ready for the next variation."""
    record = record_or_404(job_id)
    if record.id != job_id:  # the id it had while being sent: the permalink moves to the upstream's id
        return redirect(url_for("studio.job_page", job_id=record.id), code=301)
    return render_job_page(record, filled_form(record)[0])


def render_job_page(record: JobRecord, form: VideoJobForm) -> ResponseReturnValue:
    store = services().store
    shares = store.shares.for_job(record.id) if record.has_video else []
    return render_template("studio/job.html", **card_context(record, store, shares=shares), **form_context(form))


def job_page_with(form: VideoJobForm, path: str) -> ResponseReturnValue | None:
    """The job page at path (/jobs/<id>) with this form beside the card, or None when path is no job's."""
    try:
        endpoint, args = current_app.url_map.bind("localhost").match(path.split("?")[0], method="GET")
    except HTTPException:
        return None
    record = services().store.get(args["job_id"]) if endpoint == "studio.job_page" else None
    return render_job_page(record, form) if record is not None else None


@bp.get("/jobs/<job:job_id>/status")
def job_status(job_id: str) -> ResponseReturnValue:
    """The job's state for the page's script, as the follower last stored it, with the card's HTML."""
    record = record_or_404(job_id)
    on_job_page = request.args.get("card") != "compare"
    store = services().store
    card = render_template(
        "studio/_job_card.html",
        **card_context(
            record,
            store,
            shares=store.shares.for_job(record.id) if on_job_page and record.has_video else None,
            show_prompt=not on_job_page,
            variant=request.args.get("variant", "")[:200] or None,
        ),
    )
    return jsonify(live_state(record, card_html=card))


@bp.post("/jobs/<job:job_id>/check")
def check_again(job_id: str) -> ResponseReturnValue:
    """Ask the follower to read a (stalled) job's status now."""
    return _nudge_follower(job_id, services().store.claims.check_now, N_("The status will be checked again now."))


@bp.post("/jobs/<job:job_id>/fetch")
def fetch_again(job_id: str) -> ResponseReturnValue:
    """Ask the follower to fetch a completed job's video again now."""
    return _nudge_follower(job_id, services().store.claims.fetch_again, N_("The video will be fetched again now."))


def _nudge_follower(job_id: str, reset, message):
    record = record_or_404(job_id)
    if reset(record.id):
        services().follower.wake()
        flash(_(message), "success")
    return redirect(url_for("studio.job_page", job_id=record.id), code=303)


@bp.post("/jobs/<job:job_id>/attach")
def attach_found_job(job_id: str) -> ResponseReturnValue:
    """ "I found it": the id of the job a lost send made, pasted by a person; checked with the API, then
    followed under that id."""
    record = record_or_404(job_id)
    found_id = (request.form.get("found_id") or "").strip()
    if record.status != JobStatus.UNCERTAIN:
        return redirect(url_for("studio.job_page", job_id=record.id), code=303)
    if not is_usable_id(found_id):
        flash(_("Paste the job id the video API gave, such as video_123 or task_abc."), "warning")
        return redirect(url_for("studio.job_page", job_id=record.id), code=303)
    if services().store.get(found_id) is not None:
        flash(_("That job is in the history already."), "warning")
        return redirect(url_for("studio.job_page", job_id=found_id), code=303)
    try:
        job = services().api.get_video(found_id)
    except UpstreamError as err:
        flash(_("The video API does not know that job: %(message)s", message=problem_text(err.message)), "warning")
        return redirect(url_for("studio.job_page", job_id=record.id), code=303)
    if not services().store.found(record.id, job, "pasted"):
        return redirect(url_for("studio.job_page", job_id=record.id), code=303)
    services().follower.wake()
    flash(_("Found: this job is followed again under %(id)s.", id=found_id), "success")
    return redirect(url_for("studio.job_page", job_id=found_id), code=303)


@bp.get("/history/live")
def history_live() -> ResponseReturnValue:
    """The current rows of the history entries a page is showing (?id=... repeated), for in-place updates."""
    ids = [i for i in request.args.getlist("id") if i][:100]
    rows = {}
    for record in services().store.get_many(ids):
        rows[record.id] = {
            **live_state(record),
            "row_html": render_template("history/_history_row.html", record=record, job=record.job),
        }
    return jsonify(rows=rows, now=time.time())


@bp.get("/jobs/<job:job_id>/video/<int:index>.mp4")
def job_video(job_id: str, index: int) -> ResponseReturnValue:
    """The archived MP4, with Range support; ?download=1 saves it under a readable name."""
    return send_job_video(record_or_404(job_id), index, request.args.get("download") == "1")


@bp.get("/jobs/<job:job_id>/poster/<int:index>.jpg")
def job_poster(job_id: str, index: int) -> ResponseReturnValue:
    """The archived video's poster frame."""
    return send_job_poster(record_or_404(job_id), index)


def send_job_video(record: JobRecord, index: int, download: bool) -> ResponseReturnValue:
    """A job's archived MP4 (from the archive folder or the object store), with Range support."""
    location = services().settings.archive_accel_redirect
    archive = services().archive
    if archive.objects is not None:  # OBJECT_STORE_URL: every host serves it from the bucket
        relative = _archived_name(record, index, "video")
        if location:  # nginx fetches it from the store itself, by a short signed address
            accel = (location, archive.presigned_path(relative))
            return send_video(
                "", max_age=86400, as_attachment=download, download_name=download_name(record, index), accel=accel
            )
        return _send_stored(relative, download_name(record, index), download)
    path, relative = _archived_file(record, index, "video")
    accel = (location, relative) if location else None
    return send_video(
        path, max_age=86400, as_attachment=download, download_name=download_name(record, index), accel=accel
    )


def send_job_poster(record: JobRecord, index: int) -> ResponseReturnValue:
    """A job's archived poster frame."""
    if services().archive.objects is not None:
        return _send_stored(_archived_name(record, index, "poster"))
    return send_file(_archived_file(record, index, "poster")[0], mimetype="image/jpeg", max_age=86400)


@bp.post("/jobs/<job:job_id>/stop")
def stop_job(job_id: str) -> ResponseReturnValue:
    """Stop a running job: the API is asked to cancel it, and the app stops following it."""
    record = record_or_404(job_id)
    note, confirmed = services().follower.stop_job(record.id, g.get("identity"))
    flash(problem_text(note), "success" if confirmed else "info")
    return redirect(url_for("studio.job_page", job_id=record.id), code=303)


@bp.post("/jobs/<job:job_id>/delete")
def delete_job(job_id: str) -> ResponseReturnValue:
    """Remove a job from history and archive (and upstream where that is possible)."""
    record_or_404(job_id)
    note, confirmed = services().follower.forget(job_id)
    flash(problem_text(note), "success" if confirmed else "info")
    return redirect(url_for("studio.history"), code=303)


@bp.get("/jobs")
def history() -> ResponseReturnValue:
    """Every job submitted through the app, newest first; search by prompt, filter by status, model and person."""
    args = request.args
    models, people = services().store.history.facets()
    filters = {
        "q": args.get("q", "").strip()[:200],
        "status": args.get("status", "") if args.get("status", "") in STATUS_FILTERS else "",
        "model": args.get("model", "") if args.get("model", "") in models else "",
        "person": args.get("person", "") if args.get("person", "") in people else "",
    }
    if args.get("mine") == "1" and g.get("identity"):
        filters["person"] = g.identity
    try:
        page = min(max(1, int(args.get("page", 1))), 1_000_000)
    except ValueError:
        page = 1
    records, total = services().store.history.search(
        filters["q"], filters["status"], page, HISTORY_PAGE_SIZE, model=filters["model"], person=filters["person"]
    )
    pages = max(1, math.ceil(total / HISTORY_PAGE_SIZE))
    return render_template(
        "history/history.html",
        records=records,
        total=total,
        page=page,
        pages=pages,
        filters=filters,
        statuses=STATUS_FILTERS,
        models=models,
        people=people,
        links={k: v for k, v in filters.items() if v},
    )


@bp.get("/uploads/<token>")
def uploaded_image(token: str) -> ResponseReturnValue:
    """An image someone uploaded, for the preview in the form."""
    path = services().uploads.path(token)
    if path is None:
        abort(404)
    return send_file(path, max_age=86400)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """The process answers."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Ready when the store takes writes and the video API answers. Strangers learn only that; the
    details (and the API's address) go to the log, and to signed-in people."""
    checks, ready = {}, True
    try:
        services().store.check_writable()
        checks["store"] = "ok"
    except DATABASE_ERRORS as exc:
        checks["store"], ready = f"not writable: {exc}", False
    try:
        write_probe_file(services().settings.data_dir)
        checks["disk"] = "ok"
    except OSError as exc:
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
        checks["disk"] = (
            f"full: {services().settings.data_dir} has no room" if full else f"not writable: {exc.strerror}"
        )
        ready = False
    objects = services().archive.objects
    if objects is not None:
        try:
            objects.check()
            checks["object_store"] = "ok"
        except ObjectStoreError as exc:
            checks["object_store"], ready = str(exc), False
    try:
        services().api.list_models(timeout=3.0)
        checks["upstream"] = "ok"
    except UpstreamError as exc:
        answered = isinstance(exc, UpstreamRefused) and (exc.status or 500) < 500
        checks["upstream"] = f"answers (HTTP {exc.status})" if answered else f"unavailable: {exc.message}"
        ready = ready and bool(answered)
    status = "ready" if ready else "not ready"
    if not ready:
        current_app.logger.warning("readiness: %s", checks)
    body = {"status": status, "checks": checks} if g.get("identity") else {"status": status}
    return jsonify(body), 200 if ready else 503


def write_probe_file(folder: str, size: int = 64 * 1024) -> None:
    """Write (and remove) a small file in DATA_DIR, synced to disk: raises OSError when the disk is full."""
    path = os.path.join(folder, f".ready-probe-{os.getpid()}")
    try:
        with open(path, "wb") as fh:
            fh.write(b"\0" * size)
            fh.flush()
            os.fsync(fh.fileno())
    finally:
        with contextlib.suppress(OSError):
            os.remove(path)


def _archived_name(record, index, kind) -> str:
    """The name in the archive of a job's video or poster, or a 404."""
    entry = next((f for f in record.files if f.get("index") == index), None)
    if entry is None or not entry.get(kind):
        abort(404, description=Problem(N_("This video is not in the archive (yet, or any more).")))
    return entry[kind]


def _send_stored(relative: str, name: str | None = None, download: bool = False) -> ResponseReturnValue:
    """An archived file streamed from the object store, with the request's Range; 503 if the store fails."""
    try:
        body = services().archive.open(
            relative,
            request.headers.get("Range") if request.range is not None and len(request.range.ranges) == 1 else None,
            request.headers.get("If-None-Match"),
        )
    except ObjectStoreError as exc:
        log.error("archive: %s", exc)
        abort(503, description=Problem(N_("The archive's storage is not answering. Try again in a moment.")))
    if body is None:
        abort(404, description=Problem(N_("This video is not in the archive (yet, or any more).")))
    return send_object(body, max_age=86400, download_name=name, as_attachment=download)


def _archived_file(record, index, kind):
    """(absolute path, path within the archive folder) of a job's archived video or poster, or a 404."""
    entry = next((f for f in record.files if f.get("index") == index), None)
    path = services().archive.path(entry[kind]) if entry and entry.get(kind) else None
    if path is None or entry is None:
        abort(404, description=Problem(N_("This video is not in the archive (yet, or any more).")))
    return path, entry[kind]
