"""Template filters: how statuses, times, durations and metadata read to a person, in their language
(Flask-Babel formats dates and numbers for the locale)."""

import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from flask_babel import format_currency, format_datetime, format_decimal
from markupsafe import Markup

from app.core.i18n import gettext, ngettext, problem_text
from app.core.lifecycle import STATUS_LABELS, JobStatus
from app.upstream import Job


def status_label(status: str) -> str:
    try:
        return gettext(STATUS_LABELS[JobStatus(status)])
    except ValueError:
        return str(status).replace("_", " ").capitalize()


def status_sentence(job: Job) -> str:
    sentence = {
        JobStatus.SENDING: gettext("Sending the request to the video API…"),
        JobStatus.UNCERTAIN: gettext("The video API may have created this job, but its answer never arrived."),
        JobStatus.QUEUED: gettext("Waiting for the video API to start it."),
        JobStatus.IN_PROGRESS: gettext("The video is being generated."),
        JobStatus.COMPLETED: gettext("The video is ready."),
        JobStatus.FAILED: gettext("The video API could not make this video."),
    }.get(job.status)
    return sentence or gettext("The video API reports the status “%(status)s”.", status=job.raw_status or "unknown")


def _datetime(seconds):
    try:
        return datetime.fromtimestamp(float(seconds), UTC)
    except (OverflowError, OSError, ValueError, TypeError):
        return None


def human_time(seconds: float | None) -> str:
    """A moment in UTC, formatted for the reader's locale (the page's script shows it in their zone)."""
    moment = _datetime(seconds)
    if moment is None:
        return "—"
    try:
        return format_datetime(moment, "medium", rebase=False) + " UTC"
    except (OverflowError, ValueError):
        return moment.isoformat()


def iso_time(seconds: float | None) -> str:
    moment = _datetime(seconds)
    return moment.isoformat() if moment else ""


def duration_text(seconds: float) -> str:
    """'45 seconds', '3 minutes', '2 hours': how long to wait, or how long something took."""
    seconds = max(0, int(seconds))
    if seconds < 90:
        return ngettext("%(num)d second", "%(num)d seconds", seconds)
    if seconds < 5400:
        return ngettext("%(num)d minute", "%(num)d minutes", round(seconds / 60))
    return ngettext("%(num)d hour", "%(num)d hours", round(seconds / 3600))


def ago(seconds: float, now: float | None = None) -> str:
    """'12 s ago', '3 min ago', '2 h ago' for a past Unix time."""
    gap = max(0, int((now or time.time()) - float(seconds)))
    if gap < 90:
        return gettext("%(num)s s ago", num=gap)
    if gap < 5400:
        return gettext("%(num)s min ago", num=round(gap / 60))
    return gettext("%(num)s h ago", num=round(gap / 3600))


def seconds_text(value: Any) -> str:
    """A length in seconds: '5 s', '2.5 s'."""
    try:
        return f"{format_decimal(float(value), '#,##0.##')} s"
    except (TypeError, ValueError):
        return str(value)


def money(estimate: Any) -> str:
    """An estimate ({"amount", "currency"}) as a person reads it, "about CN¥3.50"; "price unknown" for None."""
    if not isinstance(estimate, dict) or not isinstance(estimate.get("amount"), (int, float)):
        return gettext("price unknown")
    return gettext("about %(amount)s", amount=amount_text(estimate["amount"], estimate.get("currency") or ""))


def amount_text(amount: float, currency: str) -> str:
    """An amount of money in the reader's language: "CN¥3.50" (English), "¥3.50" (Chinese)."""
    try:
        return format_currency(amount, currency) if currency else format_decimal(amount, "#,##0.00")
    except (ValueError, KeyError):
        return f"{format_decimal(amount, '#,##0.00')} {currency}"


def number(value: float) -> str:
    return format_decimal(value)


def metadata_value(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


def dom_id(job_id: str) -> str:
    """A short HTML id part for a job: upstream ids are opaque (spaces, quotes, 1,000 characters)."""
    return "j" + hashlib.sha256(str(job_id).encode("utf-8")).hexdigest()[:16]


def strong(text: Any) -> Markup:
    """Text set in bold inside a translated sentence: the markup stays out of the message, the text is escaped."""
    return Markup("<strong>%s</strong>") % text


def code(text: Any) -> Markup:
    """A name to type (a variable, a file) inside a translated sentence, escaped and never translated."""
    return Markup('<code translate="no">%s</code>') % text


def link_to(text: Any, url: str) -> Markup:
    """A link inside a translated sentence: the sentence's translation places it, the markup stays out."""
    return Markup('<a href="%s">%s</a>') % (url, text)


def register_filters(app: Flask) -> None:
    for func in (
        dom_id,
        status_label,
        status_sentence,
        human_time,
        iso_time,
        metadata_value,
        ago,
        duration_text,
        seconds_text,
        number,
        money,
        amount_text,
        problem_text,
        strong,
        code,
        link_to,
    ):
        app.add_template_filter(func)
    app.add_template_global(time.time, "now")
