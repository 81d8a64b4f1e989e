"""What a page shows about a job beyond its template: the live state for the page's script, the
tab title, a download's file name."""

import json
import re
import time

from flask import url_for

from app.core.i18n import gettext, problem_text
from app.jobs.records import JobRecord
from app.jobs.store import JobStore
from app.web.filters import status_label


def live_state(record: JobRecord, **extra: object) -> dict:
    """What a live page needs to know about a job, read from the store only."""
    job = record.job
    return dict(
        id=job.id,
        status=job.status,
        status_label=status_label(job.status),
        progress=job.progress,
        archive=record.archive,
        finished=record.is_settled,
        stalled=record.is_stalled,
        check_error=problem_text(record.check_error),
        checked_at=record.checked_at or None,
        now=time.time(),
        title=f"{status_label(job.status)} · {short(record.params.get('prompt') or job.id)} · "
        f"{gettext('Video studio')}",
        url=url_for("studio.job_page", job_id=job.id),
        **extra,
    )


def download_name(record: JobRecord, index: int) -> str:
    """The prompt's first words (in any script: a Chinese prompt keeps its characters), the id's tail."""
    words = "_".join(re.sub(r"[^\w-]+", " ", record.params.get("prompt") or "").split()[:8])
    words = words[:60].strip("_.-")
    suffix = f"-{index + 1}" if len(record.files) > 1 else ""
    tail = re.sub(r"[^\w-]+", "", record.id)[-8:]  # ids are opaque: "/", "=" and spaces stay out
    return f"{words or 'video'}-{tail or 'job'}{suffix}.mp4".lower()


def ignored_fields(record: JobRecord) -> list[str]:
    """The metadata keys the job sent that the API's answers show it did not keep (see Job.metadata_kept)."""
    if record.job.metadata_kept is not False:
        return []
    recorded = record.params.get("request")
    call: dict = recorded if isinstance(recorded, dict) else {}
    for part in call.get("parts", ()):
        if part.get("name") == "metadata" and "text" in part:
            try:
                sent = json.loads(part["text"])
            except ValueError:
                return []
            return sorted(sent) if isinstance(sent, dict) else []
    return []


def short(text: str | None, limit: int = 40) -> str:
    """text on one line, at most limit characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


_TYPICAL, TYPICAL_SECONDS = {}, 60.0  # (store path, model, length, size) -> (until, answer)


def _typical(store, model, seconds, size):
    """store.typical_seconds, kept for a minute: every status poll of a running job asks for it, and it
    changes only when a job like it completes."""
    key, now = (store.path, model, seconds, size), time.monotonic()
    cached = _TYPICAL.get(key)
    if cached is None or cached[0] < now:
        if len(_TYPICAL) > 1000:
            _TYPICAL.clear()
        cached = _TYPICAL[key] = (now + TYPICAL_SECONDS, store.history.typical_seconds(model, seconds, size))
    return cached[1]


def run_estimate(record: JobRecord, store: JobStore) -> dict | None:
    """For a running job: when it started, and the median run time of earlier jobs like it (or None)."""
    job = record.job
    if not job.status.is_running:
        return None
    typical, count = _typical(store, job.model or record.params.get("model"), job.seconds, job.size)
    # The earlier of the API's created_at and when it was sent: an API clock ahead of ours would otherwise
    # show "Running for 0 seconds" throughout.
    started = min((t for t in (job.created_at, record.submitted_at) if t), default=time.time())
    return {"started": started, "typical": typical, "count": count}


# What the card's "What was sent" leaves out: shown elsewhere, or the app's own bookkeeping.
_NOT_SENT = {
    "prompt",
    "image_token",
    "image_name",
    "image_remove",
    "image_warnings",
    "request",
    "stopped",
    "found_by",
    "estimate",
}


def sent_fields(record: JobRecord) -> list[tuple[str, str | None, object]]:
    """(key, the form's label for it or None, value) of each setting the job was sent with, in form order."""
    from app.web.forms import FIELD_ORDER, VideoJobForm

    labels = {name: str(getattr(VideoJobForm, name).args[0]) for name in FIELD_ORDER if hasattr(VideoJobForm, name)}
    labels.update(extras=gettext("Model options"), remixed_from=gettext("Remix of"))
    order = {name: i for i, name in enumerate(FIELD_ORDER)}
    keys = sorted((k for k in record.params if k not in _NOT_SENT), key=lambda k: (order.get(k, len(order)), k))
    return [(key, labels.get(key), record.params[key]) for key in keys]


def card_context(record: JobRecord, store: JobStore, **extra: object) -> dict:
    """What the job card template needs (templates/studio/_job_card.html); extra: variant (the value that
    heads a card of a comparison), show_prompt, and shares=[] on the job's own page (the share box)."""
    from app.services import services

    token = record.params.get("image_token") or ""
    context: dict = {
        "record": record,
        "job": record.job,
        "estimate": run_estimate(record, store),
        "image_kept": bool(token) and bool(services().uploads.path(token)),
        "variant": None,
        "show_prompt": False,
        "shares": None,
    }
    context.update(extra)
    return context
