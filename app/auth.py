"""Access control, chosen by configuration: a team password (APP_PASSWORD), an identity header set by a
reverse proxy (AUTH_HEADER), or open."""

import hmac
import time

from flask import (Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for)
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from app.ratelimit import limiter

bp = Blueprint("auth", __name__)

OPEN_ENDPOINTS = {"static", "studio.healthz", "studio.readyz", "auth.login"}
FAILED_LOGIN_DELAY = 1.0   # seconds added to every failed attempt, so guessing is slow


class LoginForm(FlaskForm):
    name = StringField("Your name", validators=[Length(max=80)],
                       description="Optional. Shown in the history next to the jobs you send.")
    password = PasswordField("Team password", validators=[DataRequired("Enter the team password.")])


def init_auth(app):
    app.register_blueprint(bp)
    app.before_request(require_identity)


def require_identity():
    """Every route but health checks, static files and the login page needs a signed-in person."""
    settings = current_app.config["SETTINGS"]
    g.identity = None
    if settings.auth_mode == "open" or request.endpoint in OPEN_ENDPOINTS:
        if settings.auth_mode == "password":
            g.identity = session.get("identity")
        return None
    if settings.auth_mode == "header":
        identity = request.headers.get(settings.auth_header, "").strip()
        if not identity:
            abort(401, description="This app is reached through the team's sign-in proxy, and no identity came "
                                   "with this request. Open it through the usual address, or ask whoever runs it.")
        g.identity = identity[:120]
        return None
    identity = session.get("identity")
    if not identity:
        if request.method == "GET" and request.endpoint not in ("studio.job_status", "studio.history_live"):
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if request.endpoint == "studio.create_job":    # a form sent from a page left open past sign-out
            return redirect(url_for("auth.login", next=url_for("studio.new_job")), code=303)
        abort(401, description="Your session has ended. Sign in again.")
    g.identity = identity
    return None


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"], key_func=lambda: f"login:{request.remote_addr}")
def login():
    """The team password page."""
    settings = current_app.config["SETTINGS"]
    if settings.auth_mode != "password":
        return redirect(url_for("studio.new_job"))
    form = LoginForm()
    failed = False
    if form.validate_on_submit():
        given = form.password.data.encode("utf-8")
        if hmac.compare_digest(given, settings.app_password.encode("utf-8")):
            session.clear()
            session.permanent = True
            session["identity"] = (form.name.data or "").strip()[:80] or "team"
            return redirect(_safe_next(request.args.get("next")), code=303)
        time.sleep(FAILED_LOGIN_DELAY)
        current_app.logger.warning("failed sign-in from %s", request.remote_addr)
        failed = True
        form.password.errors.append("That is not the team password.")
    status = 401 if failed else (400 if form.errors else 200)
    return render_template("login.html", form=form), status


@bp.post("/logout")
def logout():
    """Forget the signed-in person."""
    session.clear()
    return redirect(url_for("auth.login") if current_app.config["SETTINGS"].auth_mode == "password"
                    else url_for("studio.new_job"), code=303)


def _safe_next(target):
    """Only paths on this site, never another host."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("studio.new_job")
