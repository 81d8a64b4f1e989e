"""Share links: a finished job's video for people without a password.

On a job's page a signed-in person makes a link (a day, a week or a month; downloads allowed or not),
sees the job's open links and revokes them. /s/<token> is open to anyone holding the token and shows the
video and its prompt only: no form, no history, no other job, not indexed. The token is shown once,
right after the link is made; the database keeps its hash (app/jobs/shares.py)."""

from flask import Blueprint, abort, flash, g, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from app.core.i18n import gettext as _
from app.core.messages import N_, Problem
from app.jobs.records import JobRecord
from app.jobs.shares import LIFETIMES, ShareLink
from app.services import services
from app.web.studio import record_or_404, send_job_poster, send_job_video

bp = Blueprint("sharing", __name__)
GONE = N_("This link does not open anything: it was revoked, it expired, or it was mistyped.")


@bp.post("/jobs/<job:job_id>/share")
def share_job(job_id: str) -> ResponseReturnValue:
    """Make a share link for a finished job; its address is shown once, on the job's page."""
    record = record_or_404(job_id)
    if not record.has_video:
        flash(_("Only a finished video can be shared."), "warning")
        return redirect(url_for("studio.job_page", job_id=record.id), code=303)
    lifetime = request.form.get("lifetime", "week")
    if lifetime not in LIFETIMES:
        lifetime = "week"
    token, _link = services().store.shares.create(
        record.id, lifetime, g.get("identity"), request.form.get("allow_download") == "1"
    )
    flash(url_for("sharing.shared", token=token, _external=True), "share")
    return redirect(url_for("studio.job_page", job_id=record.id, _anchor="shares"), code=303)


@bp.post("/jobs/<job:job_id>/share/<link_id>/revoke")
def revoke_share(job_id: str, link_id: str) -> ResponseReturnValue:
    record = record_or_404(job_id)
    if services().store.shares.revoke(record.id, link_id[:32]):
        flash(_("The link was revoked: it opens nothing from now on."), "success")
    else:
        flash(_("That link was already revoked or had expired."), "info")
    return redirect(url_for("studio.job_page", job_id=record.id, _anchor="shares"), code=303)


@bp.get("/s/<token>")
def shared(token: str) -> ResponseReturnValue:
    """The shared video and its prompt, for anyone with the link."""
    link, record = _opened(token)
    body = render_template("share/shared.html", link=link, record=record, job=record.job, token=token)
    return _private(body)


@bp.get("/s/<token>/video/<int:index>.mp4")
def shared_video(token: str, index: int) -> ResponseReturnValue:
    link, record = _opened(token)
    download = request.args.get("download") == "1"
    if download and not link.allow_download:
        abort(404, description=Problem(N_("Whoever shared this video did not allow downloads.")))
    return _private(send_job_video(record, index, download))


@bp.get("/s/<token>/poster/<int:index>.jpg")
def shared_poster(token: str, index: int) -> ResponseReturnValue:
    _link, record = _opened(token)
    return _private(send_job_poster(record, index))


def _opened(token: str) -> tuple[ShareLink, JobRecord]:
    link = services().store.shares.open(token)
    record = services().store.get(link.job_id) if link is not None else None
    if link is None or record is None or not record.has_video:
        abort(404, description=Problem(GONE))
    return link, record


def _private(body):
    """No shared cache keeps it (a revoked link must stop working), and no search engine lists it."""
    response = make_response(body)
    response.cache_control.public = False
    response.cache_control.private = True
    response.cache_control.max_age = 60
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
