"""Copy as code: the request a job made, or the one the form would make, as curl and Python."""

from flask import Blueprint, render_template

from app.form_page import render_form
from app.forms import VideoJobForm
from app.services import services
from app.snippets import snippets
from app.views import record_or_404

bp = Blueprint("code", __name__)


def job_snippets(record):
    """The snippets for a job in the history, rebuilt from what was sent."""
    settings = services().settings
    form = VideoJobForm(data=dict(record.params), meta={"csrf": False})
    request = form.to_video_request(form.image_url.data or None)
    return snippets(request, settings.video_api_base_url, settings.send_compat_aliases,
                    uploaded_image=bool(record.params.get("image_token")))


@bp.get("/jobs/<job:job_id>/code")
def job_code(job_id):
    """A job's request as code."""
    record = record_or_404(job_id)
    return render_template("code.html", code=job_snippets(record), record=record)


@bp.post("/code")
def form_code():
    """The form's current values as code (nothing is sent; the form is checked first)."""
    form = VideoJobForm()
    if not form.validate():
        return render_form(form, status=400)
    settings = services().settings
    upload = form.image_file.data
    uploaded = bool(getattr(upload, "filename", "")) or bool(form.image_token.data)
    request = form.to_video_request(form.image_url.data or None)
    return render_template("code.html", record=None,
                           code=snippets(request, settings.video_api_base_url, settings.send_compat_aliases,
                                         uploaded_image=uploaded))
