"""Thin routes: show the form, submit a job, show its card."""

from flask import Blueprint, abort, current_app, redirect, render_template, send_file, url_for

from app.forms import SIZE_PRESETS, VideoJobForm
from app.submission import submit_job
from app.video_api import UpstreamError

bp = Blueprint("studio", __name__)

FORM_DEFAULTS = {"model": "kling-v1", "duration": 5, "width": 1280, "height": 720}


def ext(name):
    return current_app.extensions[name]


def render_form(form, status=200, upstream_error=None, notice=None):
    """The form page, with errors from validation or the upstream, and every value kept."""
    if upstream_error is not None and upstream_error.field:
        field = upstream_error.field
        if field == "image":
            field = "image_url" if form.image_url.data else "image_file"
        if field in form and upstream_error.message not in form[field].errors:
            form[field].errors = [*form[field].errors, f"The video API says: {upstream_error.message}"]
    image_preview = None
    if form.image_token.data and ext("uploads").path(form.image_token.data):
        image_preview = url_for("studio.uploaded_image", token=form.image_token.data)
    return render_template("index.html", form=form, upstream_error=upstream_error, notice=notice,
                           models=ext("catalogue").models(), size_presets=SIZE_PRESETS,
                           image_preview=image_preview), status


@bp.get("/")
def new_job():
    """The empty form, with sensible defaults."""
    return render_form(VideoJobForm(data=FORM_DEFAULTS))


@bp.post("/jobs")
def create_job():
    """Validate, send upstream, then redirect to the job's permalink."""
    form = VideoJobForm()
    if not form.validate():
        return render_form(form, status=400)
    try:
        job = submit_job(form, ext("video_api"), ext("jobs"), current_app.config["SETTINGS"])
    except UpstreamError as err:
        current_app.logger.warning("create failed: %s %s", err.kind, err.status or "")
        return render_form(form, status=err.http_status, upstream_error=err)
    return redirect(url_for("studio.job_page", job_id=job.id), code=303)


@bp.get("/jobs/<job_id>")
def job_page(job_id):
    """The job card: a permalink."""
    record = ext("jobs").get(job_id)
    if record is None:
        abort(404, description=f"No job with id {job_id} was submitted through this app.")
    return render_template("job.html", record=record, job=record.job)


@bp.get("/uploads/<token>")
def uploaded_image(token):
    """An image someone uploaded, for the preview in the form."""
    path = ext("uploads").path(token)
    if path is None:
        abort(404)
    return send_file(path, max_age=86400)


@bp.get("/healthz")
def healthz():
    """The process answers."""
    return {"status": "ok"}
