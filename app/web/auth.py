"""Access control, chosen by configuration: a team password (APP_PASSWORD), an identity header set by a
reverse proxy (AUTH_HEADER), or open."""

import hmac
import time
import unicodedata
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, current_app, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import Field, PasswordField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from app.core.config import Settings
from app.core.i18n import gettext as _
from app.core.i18n import lazy_gettext as _l
from app.core.messages import N_, Problem
from app.jobs.sending import Sending
from app.services import services
from app.web.signin_limit import limit

bp = Blueprint("auth", __name__)

OPEN_ENDPOINTS = {"static", "studio.healthz", "studio.readyz", "auth.login", "i18n.switch_language"}
# A share link's page, video and poster: open to whoever holds its token (app/web/sharing.py checks it).
SHARED_ENDPOINTS = {"sharing.shared", "sharing.shared_video", "sharing.shared_poster"}
# /metrics answers only the addresses or the token it allows (app/web/metrics.py), signed in or not.
SHARED_ENDPOINTS |= {"metrics.metrics"}
BIDI_CONTROLS = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
FAILED_LOGIN_DELAY = 1.0  # seconds added to every failed attempt, so guessing is slow


class LoginForm(FlaskForm):
    name = StringField(
        _l("Your name"),
        validators=[Length(max=80, message=_l("Your name must be at most 80 characters."))],
        description=_l("Optional. Shown in the history next to the jobs you send."),
    )
    password = PasswordField(_l("Team password"), validators=[DataRequired(_l("Enter the team password."))])

    def validate_name(self, field: Field) -> None:
        if has_control_characters(field.data or ""):
            raise ValidationError(_("A name cannot hold line breaks, tabs or other control characters."))


def has_control_characters(text: str) -> bool:
    """Line breaks, tabs and other control characters (which could forge a log line or a page's layout)."""
    return any(unicodedata.category(c) in ("Cc", "Zl", "Zp") or c in BIDI_CONTROLS for c in text)


def init_auth(app: Flask) -> None:
    app.before_request(require_identity)


def require_identity() -> ResponseReturnValue | None:
    """Every route but health checks, static files and the login page needs a signed-in person."""
    settings = services().settings
    g.identity = _identity(settings)
    if settings.auth_mode == "open" or request.endpoint in OPEN_ENDPOINTS | SHARED_ENDPOINTS:
        return None
    if settings.auth_mode == "header":
        if not g.identity:
            abort(
                401,
                description=Problem(
                    N_(
                        "This app is reached through the team's sign-in proxy, and no "
                        "identity came with this request. Open it through the usual "
                        "address, or ask whoever runs it."
                    )
                ),
            )
        return None
    if not g.identity:
        if request.method == "GET" and request.endpoint not in ("studio.job_status", "studio.history_live"):
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if request.endpoint == "studio.create_job":  # a form sent from a page left open past sign-out
            return redirect(url_for("auth.login", next=url_for("studio.new_job")), code=303)
        abort(401, description=Problem(N_("Your session has ended. Sign in again.")))
    return None


def signed_in() -> bool:
    """Whether this request may see the app's pages: it is open, or someone is signed in."""
    return services().settings.auth_mode == "open" or bool(g.get("identity"))


def _identity(settings):
    """Who is asking: the sign-in proxy's header, or a session the server still knows; else None."""
    if settings.auth_mode == "header":
        values = request.headers.getlist(settings.auth_header)
        # A client's own copy of the header would arrive joined to the proxy's: refuse rather than guess.
        if len(values) > 1 or any("," in v for v in values):
            abort(
                400,
                description=Problem(
                    N_(
                        "This request carries more than one identity. Open the app "
                        "through the team's sign-in proxy only."
                    )
                ),
            )
        if values and has_control_characters(values[0]):
            abort(
                400,
                description=Problem(
                    N_(
                        "The identity that came with this request holds control "
                        "characters. Ask whoever runs the sign-in proxy."
                    )
                ),
            )
        return (values[0].strip()[:120] if values else "") or None
    if settings.auth_mode == "password":
        if "sid" not in session or request.endpoint == "static":  # static files need no session lookup
            return None
        sessions = services().sessions
        identity = sessions.identity(session.get("sid"), session.get("tag")) if sessions is not None else None
        if identity is None:  # signed out elsewhere, expired, or the team password has changed
            session.pop("sid", None)
            session.pop("tag", None)
        return identity
    return None


@bp.route("/login", methods=["GET", "POST"])
@limit("20 per minute", methods=["POST"], key_func=lambda: f"login:{request.remote_addr}")
def login() -> ResponseReturnValue:
    """The team password page."""
    settings = services().settings
    if settings.auth_mode != "password":
        return redirect(url_for("studio.new_job"))
    form = LoginForm()
    failed = False
    if form.validate_on_submit():
        given = (form.password.data or "").encode("utf-8")
        if hmac.compare_digest(given, settings.app_password.encode("utf-8")):
            session.clear()
            session.permanent = True
            name = (form.name.data or "").strip()[:80] or "team"
            sessions = services().sessions
            assert sessions is not None  # a team password means sign-in sessions (services.build_services)
            session["sid"], session["tag"] = sessions.start(name)
            return redirect(safe_next(request.args.get("next")), code=303)
        time.sleep(FAILED_LOGIN_DELAY)
        current_app.logger.warning("failed sign-in from %s", request.remote_addr)
        failed = True
        form.password.errors = [*form.password.errors, _("That is not the team password.")]
    status = 401 if failed else (400 if form.errors else 200)
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """End the session, on the server too: the old cookie no longer signs anyone in."""
    sessions = services().sessions
    if sessions is not None:
        sessions.end(session.get("sid"))
    session.clear()
    return redirect(
        url_for("auth.login") if services().settings.auth_mode == "password" else url_for("studio.new_job"), code=303
    )


def safe_next(target: str | None) -> str:
    """Only a path on this site. Browsers drop tabs and line breaks from addresses ("/\t/evil" becomes
    "//evil", another host), so any control character, space or backslash refuses it outright."""
    target = target or ""
    if (
        target.startswith("/")
        and not target.startswith("//")
        and len(target) <= 2000
        and not any(c in target for c in "\\ ")
        and all(ord(c) >= 32 and ord(c) != 127 for c in target)
    ):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("studio.new_job")


def sending(
    settings: Settings, token: str | None = None, typed_user: str | None = None, resend_confirmed: bool = False
) -> Sending:
    """How this request sends a job, the same for create, compare and remix: filed under the signed-in
    person (with open access, the `user` typed in the form), counted against spender_key()."""
    return Sending(
        token=token,
        submitted_by=g.get("identity") or (typed_user or "").strip() or None,
        spender=spender_key(settings),
        resend_confirmed=resend_confirmed,
    )


def spender_key(settings: Settings) -> str:
    """Whom the per-person limits count: a name a person cannot change at will. Behind a sign-in proxy
    that is the proxy's identity; otherwise (open, or one shared team password where the name is typed
    freely) the client's address."""
    if settings.auth_mode == "header" and g.get("identity"):
        return f"user:{g.identity}"
    return f"ip:{request.remote_addr}"
