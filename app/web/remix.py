"""Remix: a finished job again, with a new prompt, through the upstream's /remix route."""

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from app.core.i18n import gettext as _
from app.core.i18n import problem_text
from app.core.lifecycle import JobStatus
from app.jobs.sending import AlreadySubmitted, HistoryUnavailable, MaybeCreated, remix_job
from app.jobs.spending_guard import LimitReached
from app.services import services
from app.upstream import UpstreamError, UpstreamRefused
from app.web.auth import sending
from app.web.filters import duration_text
from app.web.form_page import budget_text
from app.web.forms import PROMPT_LIMIT
from app.web.studio import record_or_404

bp = Blueprint("remix", __name__)


@bp.post("/jobs/<job:job_id>/remix")
def remix(job_id: str) -> ResponseReturnValue:
    """Send the remix, then show the new job; where the upstream cannot remix, offer the settings again."""
    source = record_or_404(job_id)
    prompt = " ".join((request.form.get("prompt") or "").split())[:PROMPT_LIMIT]
    back = url_for("studio.job_page", job_id=source.id)
    if source.status != JobStatus.COMPLETED:
        flash(_("Only a finished video can be remixed."), "warning")
        return redirect(back, code=303)
    if not prompt:
        flash(_("Write the new prompt for the remix."), "warning")
        return redirect(back, code=303)
    svc = services()
    try:
        job = remix_job(
            source,
            prompt,
            svc.api,
            svc.store,
            svc.settings,
            sending(svc.settings, request.form.get("submission_id")),
            svc.allowance,
        )
    except AlreadySubmitted as earlier:  # the same remix form sent twice: its first remix
        if earlier.job_id:
            return redirect(url_for("studio.job_page", job_id=earlier.job_id), code=303)
        flash(
            _(
                "This remix was already sent and the video API has not answered it yet. Look in the history in "
                "a moment."
            ),
            "warning",
        )
        return redirect(back, code=303)
    except UpstreamRefused as err:
        if err.status in (404, 405):
            flash(
                _(
                    "This video API has no remix. The form below has the same settings: change the prompt and "
                    "send it as a new video."
                ),
                "warning",
            )
            return redirect(url_for("studio.new_job", **{"from": source.id}), code=303)  # pyright: ignore[reportArgumentType]
        flash(_("The video API did not remix it: %(reason)s", reason=problem_text(err.message)), "warning")
        return redirect(back, code=303)
    except MaybeCreated as lost:
        flash(
            _(
                "No usable answer came back: %(reason)s The remix may have been created.",
                reason=problem_text(lost.error.message),
            ),
            "warning",
        )
        return redirect(url_for("studio.job_page", job_id=lost.job_id), code=303)
    except UpstreamError as err:
        flash(_("The video API could not be asked: %(reason)s", reason=problem_text(err.message)), "warning")
        return redirect(back, code=303)
    except LimitReached as limit:
        if limit.budget:
            flash(budget_text(limit), "warning")
            return redirect(back, code=303)
        flash(
            _(
                "You have sent as many videos as this app allows for now (%(rule)s). Nothing was sent. "
                "Try again in %(wait)s.",
                rule=limit.rule,
                wait=duration_text(limit.wait),
            ),
            "warning",
        )
        return redirect(back, code=303)
    except HistoryUnavailable as exc:
        flash(problem_text(exc.message), "warning")
        return redirect(back, code=303)
    current_app.logger.info("remix of %s sent as %s", source.id, job.id)
    svc.follower.wake()
    return redirect(url_for("studio.job_page", job_id=job.id), code=303)
