"""The studio's form page: the form with everything it shows beside it (profiles, models, examples), filled
from defaults, an example or an earlier job; used by the form itself and by every job's permalink."""

import secrets
from contextlib import contextmanager

from flask import current_app, g, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from app.catalog.profiles import Profile, Profiles
from app.core.i18n import current_language, localized, problem_text
from app.core.i18n import gettext as _
from app.core.lifecycle import JobStatus
from app.jobs.records import JobRecord
from app.jobs.spending_guard import LimitReached
from app.media.images import IMAGE_RULES
from app.services import services
from app.upstream import UpstreamError
from app.web.errors import form_field
from app.web.examples import example_values
from app.web.filters import amount_text, duration_text, money
from app.web.forms import FORM_DEFAULTS, SIZE_PRESETS, VideoJobForm

_FOLDED_EXTRAS = {}  # (language, profile) -> the hidden, empty fieldset of a family not chosen: the same every time
_PROFILES_JSON = {}  # (language, the profiles) -> the script's copy

ADVANCED_FIELDS = ("seed", "n", "response_format", "negative_prompt", "style", "quality_level", "metadata")


def form_context(form: VideoJobForm) -> dict:
    """What the form's template needs besides the form."""
    svc = services()
    if not form.submission_id.data:
        form.submission_id.data = secrets.token_hex(16)
    image_preview = None
    if form.image_token.data and svc.uploads.path(form.image_token.data):
        image_preview = url_for("studio.uploaded_image", token=form.image_token.data)
    return {
        "form": form,
        "examples": svc.examples,
        "profiles": svc.profiles,
        "profile": svc.profiles.match(form.model.data),
        "profiles_json": profiles_json(svc.profiles),
        "models": svc.catalogue.models(),
        "size_presets": SIZE_PRESETS,
        "image_preview": image_preview,
        "advanced_open": advanced_open(form),
        "max_upload_bytes": svc.settings.max_upload_bytes,
        "image_rules": IMAGE_RULES,
    }


def profiles_json(profiles: Profiles) -> str:
    """The profiles as the page's script reads them, in the reader's language: built once per language."""
    key = (current_language(), profiles.all)
    if key not in _PROFILES_JSON:
        _PROFILES_JSON[key] = [p.as_json() for p in profiles.all]
    return _PROFILES_JSON[key]


def folded_extras(profile: Profile) -> Markup:
    """The extra parameters of a model family other than the chosen one: hidden until the script shows
    them, always empty, so rendered once per language (they were half of the form page's time)."""
    key = (current_language(), profile)
    html = _FOLDED_EXTRAS.get(key)
    if html is None:
        html = _FOLDED_EXTRAS[key] = Markup(render_template("studio/_extras.html", p=profile, profile=None, form=None))
    return html


def advanced_open(form: VideoJobForm) -> bool:
    """The folded advanced fields open by themselves when one holds a value or an error."""
    if any(form[name].data not in (None, "") or form[name].errors for name in ADVANCED_FIELDS):
        return True
    user = (form.user.data or "").strip()
    return bool(form.user.errors or (user and user != (g.get("identity") or "")))


def render_form(
    form: VideoJobForm,
    status: int = 200,
    upstream_error: UpstreamError | None = None,
    notice: str | None = None,
    uncertain: JobRecord | None = None,
) -> tuple[str, int]:
    """The form page, with errors from validation or the upstream, and every value kept."""
    field = form_field(upstream_error, bool(form.image_url.data)) if upstream_error is not None else None
    if (
        upstream_error is not None
        and field is not None
        and field in form
        and upstream_error.message not in form[field].errors
    ):
        form[field].errors = [
            *form[field].errors,
            _("The video API says: %(message)s", message=problem_text(upstream_error.message)),
        ]
    return render_template(
        "studio/index.html", upstream_error=upstream_error, notice=notice, uncertain=uncertain, **form_context(form)
    ), status


def posted_form() -> VideoJobForm:
    """The form as just posted, not validated (a language switch): every value kept, the image too."""
    form = VideoJobForm(meta={"csrf": False})
    svc = services()
    form.take_image(svc.uploads, svc.settings.max_upload_bytes)
    form.read_extras(svc.profiles.match(form.model.data))
    return form


_CSRF_MARK, _SUBMISSION_MARK = "\x00csrf\x00", "\x00submission\x00"


def empty_form_page() -> str | None:
    """The form page as most visits get it (no example, no earlier job, nobody signed in, no message):
    the same HTML every time but for the CSRF token and the one-time submission id, so it is rendered once
    per language and model list and those two are filled in. Anything else renders in full."""
    if request.args or g.get("identity") or session.get("_flashes"):
        return None
    # Kept per app (its examples, profiles and settings are on the page) and per language, for the model
    # list it was rendered with: a new list replaces it, so a list that keeps changing grows nothing.
    kept = current_app.extensions.setdefault("empty_form_pages", {})
    models = tuple(services().catalogue.models())
    found = kept.get(current_language())
    if found is None or found[0] != models:
        with _csrf_token_as(_CSRF_MARK):  # the form takes its token when it is made: make it here
            form, _ = filled_form()
            form.submission_id.data = _SUBMISSION_MARK
            found = kept[current_language()] = (models, render_form(form)[0])
    page = found[1]
    token = generate_csrf()  # also keeps the raw token in this visitor's session, as rendering would
    return page.replace(_CSRF_MARK, token).replace(_SUBMISSION_MARK, secrets.token_hex(16))


def page_csrf_token() -> str:
    """The templates' csrf_token(): this visitor's token (Flask-WTF's generate_csrf()), or, while the page
    kept for everyone is rendered, the mark that each visit replaces with its own token."""
    return g.get("page_csrf_mark") or generate_csrf()


@contextmanager
def _csrf_token_as(mark):
    """Render with a mark in place of the CSRF token (see page_csrf_token)."""
    g.page_csrf_mark = mark
    try:
        yield
    finally:
        g.pop("page_csrf_mark", None)


def form_again(status: int, notice: str) -> tuple[str, int]:
    """The form refilled from what was just posted (not validated), for requests refused before validation."""
    return render_form(VideoJobForm(meta={"csrf": False}), status=status, notice=notice)


def budget_text(limit: LimitReached) -> str:
    """Why a money budget refused a job, with what is left of it."""
    currency = services().profiles.currency
    whose = _("the team's") if limit.team else _("your")
    if getattr(limit, "cost", None) is None:
        return _(
            "Nothing was sent: this model has no price, and %(whose)s daily budget takes only jobs whose cost "
            "can be estimated. Add its price to the model profiles, or choose a priced model.",
            whose=whose,
        )
    return _(
        "Nothing was sent: this job would cost %(cost)s, and %(left)s is left of %(whose)s budget of %(budget)s "
        "a day. Try again in %(wait)s, or make it shorter or smaller.",
        cost=money({"amount": getattr(limit, "cost", 0.0), "currency": currency}),
        left=amount_text(getattr(limit, "left", 0.0), currency),
        whose=whose,
        budget=amount_text(getattr(limit, "amount", 0.0), currency),
        wait=duration_text(limit.wait),
    )


def limit_reached(form: VideoJobForm, limit: LimitReached) -> ResponseReturnValue:
    """The form again, with why nothing was sent and when to try again."""
    if limit.budget:
        page, status = render_form(form, status=429, notice=budget_text(limit))
        return page, status, {"Retry-After": str(limit.wait)}
    message = (
        _(
            "You have sent as many videos as this app allows for now (the limit is %(rule)s for this team). "
            "Nothing was sent. Try again in %(wait)s; your form is kept below.",
            rule=limit.rule,
            wait=duration_text(limit.wait),
        )
        if limit.team
        else _(
            "You have sent as many videos as this app allows for now (the limit is %(rule)s for one person). "
            "Nothing was sent. Try again in %(wait)s; your form is kept below.",
            rule=limit.rule,
            wait=duration_text(limit.wait),
        )
    )
    page, status = render_form(form, status=429, notice=message)
    return page, status, {"Retry-After": str(limit.wait)}


def settings_of(record: JobRecord) -> dict:
    """A stored job's settings as form values: the seed the API chose included, so they repeat the result."""
    data = {k: v for k, v in record.params.items() if k != "image_warnings"}
    if data.get("seed") is None and record.job.seed is not None:
        data["seed"] = record.job.seed
    return data


def filled_form(record: JobRecord | None = None) -> tuple[VideoJobForm, str | None]:
    """(form, notice): the form with defaults, the example asked for (?example=), an earlier job's settings
    (?from=<id>) or those of the job shown (record)."""
    svc = services()
    notice = None
    data = dict(FORM_DEFAULTS)
    if svc.settings.demo_mode:
        data["model"] = "demo-v1"  # the demo API's own model: no provider's limits apply
    example = next((e for e in svc.examples if e.id == request.args.get("example")), None)
    source = request.args.get("from")
    if record is not None:
        data = settings_of(record)
    elif example is not None:
        data = example_values(example)
        notice = _(
            "Filled in from the example “%(title)s”. Change what you like and send it.", title=localized(example.title)
        )
    elif source:
        earlier = svc.store.get(source)
        if earlier is None:
            notice = _("That job is no longer in the history, so the form starts empty.")
        else:
            data = settings_of(earlier)
            notice = _("The form is filled in with the settings of an earlier job. Change what you like and send it.")
            if earlier.status == JobStatus.UNCERTAIN:
                notice = _(
                    "These are the settings of a job that may have been created without this app learning "
                    "of it. Check with the video API's provider before sending them again."
                )
    if g.get("identity") and not data.get("user"):
        data["user"] = g.identity
    form = VideoJobForm(data=data)
    form.fill_extras(svc.profiles.match(form.model.data), data.get("extras"))
    if form.image_token.data and not svc.uploads.path(form.image_token.data):
        form.image_token.data = ""
        if record is None:
            notice = _("The settings are back, but the earlier image is no longer stored: choose it again.")
    return form, notice
