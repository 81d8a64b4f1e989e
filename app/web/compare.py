"""Compare: send a few jobs that differ in one thing, and show them side by side on their own page."""

import hashlib
import secrets

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from app.core.i18n import gettext as _
from app.core.i18n import problem_text
from app.core.messages import N_, Problem, stored
from app.jobs.sending import AlreadySubmitted, HistoryUnavailable, MaybeCreated, send_once
from app.jobs.spending_guard import LimitReached
from app.services import services
from app.upstream import UpstreamError
from app.web.auth import sending
from app.web.comparisons import MODES, card_heading, variants, what_differs
from app.web.form_page import budget_text, render_form
from app.web.forms import VideoJobForm
from app.web.presenters import card_context

bp = Blueprint("compare", __name__)


@bp.post("/compare")
def create_comparison() -> ResponseReturnValue:
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
        problems = form.profile_problems(svc.profiles.match(str(model)))  # each model compared must accept the form
        if problems:
            form.compare_values.errors = [*form.compare_values.errors, f"{model}: " + " ".join(problems.values())]
            valid = False
    if not valid:
        return render_form(form, status=400)
    if g.get("identity") and not (form.user.data or "").strip():
        form.user.data = g.identity  # as for one job: the API's `user` says who asked
    image = form.image_value()
    token = (form.submission_id.data or "").strip()[:64]
    made, problems = [], []
    for number, change in enumerate(changes):
        request = form.to_video_request(image)
        for name, value in change.items():
            setattr(request, name, value)
        # Each job of the comparison has a token of its own, made from the form's: sent twice, the same
        # form makes each job once.
        how = sending(svc.settings, f"{token}:{number}" if token else None, form.user.data)
        try:
            job = send_once(
                svc.api.prepare_create(request),
                svc.profiles.priced({**form.values(), **change}),
                svc.api,
                svc.store,
                svc.settings,
                how,
                svc.allowance,
            )
            made.append(job.id)
        except AlreadySubmitted as earlier:
            if not earlier.job_id:
                problems.append(
                    _(
                        "%(job)s was already sent and has no answer yet; look in the history in a moment.",
                        job=_label(change),
                    )
                )
                continue
            made.append(earlier.job_id)
        except MaybeCreated as lost:
            made.append(lost.job_id)
            problems.append(_("%(job)s: no usable answer came back; it may have been created.", job=_label(change)))
        except LimitReached as limit:
            problems.append(
                f"{_label(change)}: {budget_text(limit)}"
                if limit.budget
                else _(
                    "%(job)s and the rest were not sent: the limit is %(rule)s.", job=_label(change), rule=limit.rule
                )
            )
            break
        except (UpstreamError, HistoryUnavailable) as exc:
            problems.append(f"{_label(change)}: {problem_text(getattr(exc, 'message', None) or str(exc))}")
    if not made:
        return render_form(form, status=502, notice=_("Nothing was made.") + " " + " ".join(problems))
    # The same form sent twice shows the same comparison.
    comparison_id = hashlib.sha256(token.encode()).hexdigest()[:16] if token else secrets.token_hex(8)
    svc.store.add_comparison(
        comparison_id,
        stored(Problem(MODES[form.compare_mode.data], prompt=(form.prompt.data or "").strip()[:80])),
        made,
    )
    for problem in problems:
        flash(problem, "warning")
    svc.follower.wake()
    return redirect(url_for("compare.comparison", comparison_id=comparison_id), code=303)


@bp.get("/compare/<comparison_id>")
def comparison(comparison_id: str) -> ResponseReturnValue:
    """The jobs of a comparison side by side; each card follows its own job."""
    found = services().store.get_comparison(comparison_id)
    if found is None:
        abort(404, description=Problem(N_("There is no such comparison.")))
    title, records = found
    varies, heading = what_differs(records)
    store = services().store
    cards = [card_context(r, store, variant=card_heading(r, varies), show_prompt=True) for r in records]
    return render_template("studio/compare.html", title=title, heading=heading, varies=varies, cards=cards)


def _label(change) -> str:
    name, value = next(iter(change.items()))
    return f"{name} {str(value)[:40]}"
