"""Compare: send a few jobs that differ in one thing, and show them side by side on their own page."""

import secrets

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from app.allowance import LimitReached
from app.auth import spender_key
from app.compare import MODES, variants
from app.form_page import render_form
from app.forms import VideoJobForm
from app.presenters import run_estimate
from app.problems import N_, Problem, problem_text, stored
from app.services import services
from app.submission import HistoryUnavailable, MaybeCreated, send_recorded
from app.upstream import UpstreamError

bp = Blueprint("compare", __name__)


@bp.post("/compare")
def create_comparison():
    """Check the form and the values to compare, send one job per value, then show them together."""
    svc = services()
    form = VideoJobForm()
    valid = form.validate()
    valid = form.take_image(svc.uploads, svc.settings.max_upload_bytes) and valid
    valid = form.read_extras(svc.profiles.match(form.model.data)) and valid
    try:
        changes = variants(form.compare_mode.data, form.compare_values.data)
    except ValueError as exc:
        form.compare_values.errors = [*form.compare_values.errors, str(exc)]
        changes, valid = [], False
    for model in [c["model"] for c in changes if "model" in c] or [form.model.data]:
        problems = form.profile_problems(svc.profiles.match(model))   # each model compared must accept the form
        if problems:
            form.compare_values.errors = [*form.compare_values.errors, f"{model}: " + " ".join(problems.values())]
            valid = False
    if not valid:
        return render_form(form, status=400)
    image = form.image_value()
    made, problems = [], []
    for change in changes:
        request = form.to_video_request(image)
        for name, value in change.items():
            setattr(request, name, value)
        try:
            call = svc.api.prepare_create(request)
            job = send_recorded(svc.store, {**form.values(), **change, "request": call.record()},
                                lambda c=call: svc.api.send(c), svc.allowance, spender_key(svc.settings),
                                form.user.data or None)
            made.append(job.id)
        except MaybeCreated as lost:
            made.append(lost.job_id)
            problems.append(_("%(job)s: no usable answer came back; it may have been created.", job=_label(change)))
        except LimitReached as limit:
            problems.append(_("%(job)s and the rest were not sent: the limit is %(rule)s.", job=_label(change),
                              rule=limit.rule))
            break
        except (UpstreamError, HistoryUnavailable) as exc:
            problems.append(f"{_label(change)}: {problem_text(getattr(exc, 'message', None) or str(exc))}")
    if not made:
        return render_form(form, status=502, notice=_("Nothing was made.") + " " + " ".join(problems))
    comparison_id = secrets.token_hex(8)
    svc.store.add_comparison(comparison_id, stored(Problem(MODES[form.compare_mode.data],
                                                           prompt=form.prompt.data.strip()[:80])), made)
    for problem in problems:
        flash(problem, "warning")
    svc.follower.wake()
    return redirect(url_for("compare.comparison", comparison_id=comparison_id), code=303)


@bp.get("/compare/<comparison_id>")
def comparison(comparison_id):
    """The jobs of a comparison side by side; each card follows its own job."""
    found = services().store.get_comparison(comparison_id)
    if found is None:
        abort(404, description=Problem(N_("There is no such comparison.")))
    title, records = found
    cards = [(r, run_estimate(r, services().store)) for r in records]
    return render_template("compare.html", title=title, cards=cards)


def _label(change):
    name, value = next(iter(change.items()))
    return f"{name} {str(value)[:40]}"
