"""Copy as code: the request a job made, or the one the form would make, as curl and Python."""

from flask import Blueprint, current_app, render_template
from flask.typing import ResponseReturnValue

from app.jobs.records import JobRecord
from app.services import services
from app.upstream import UpstreamError
from app.web.errors import browser_status
from app.web.form_page import render_form
from app.web.forms import VideoJobForm
from app.web.snippets import snippets
from app.web.studio import record_or_404

bp = Blueprint("code", __name__)


def job_call(record: JobRecord) -> dict:
    """The call a job made, as it was recorded when sent; for jobs sent before calls were recorded, the
    call their stored settings make in the relay flavour (what every earlier version sent)."""
    if isinstance(record.params.get("request"), dict):
        return record.params["request"]
    svc = services()
    form = VideoJobForm(data=dict(record.params), meta={"csrf": False})
    form.fill_extras(svc.profiles.match(form.model.data), record.params.get("extras"))
    if record.params.get("remixed_from"):
        return svc.api.prepare_remix(record.params["remixed_from"], record.params.get("prompt", "")).record()
    return svc.api.prepare_create(form.to_video_request(form.image_value(svc.uploads)), flavor="relay").record()


@bp.get("/jobs/<job:job_id>/code")
def job_code(job_id: str) -> ResponseReturnValue:
    """A job's request as code."""
    record = record_or_404(job_id)
    code = snippets(job_call(record), services().settings.video_api_base_url)
    return render_template("studio/code.html", code=code, record=record)


@bp.post("/code")
def form_code() -> ResponseReturnValue:
    """The form's current values as code (nothing is sent; the form and its picture are checked first)."""
    svc = services()
    form = VideoJobForm()
    valid = form.validate()
    valid = form.check_profile(svc.profiles.match(form.model.data)) and valid
    valid = form.take_image(svc.uploads, svc.settings.max_upload_bytes) and valid
    if not valid:
        return render_form(form, status=400)
    try:
        call = svc.api.prepare_create(form.to_video_request(form.image_value()))
    except UpstreamError as err:  # "auto" could not reach the API to learn how it reads requests
        current_app.logger.warning("code preview: %s", err.kind)
        return render_form(form, status=browser_status(err), upstream_error=err)
    return render_template(
        "studio/code.html", record=None, code=snippets(call.record(), svc.settings.video_api_base_url)
    )
