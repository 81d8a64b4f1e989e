"""The language switch: a cookie, and the same page back in the chosen language with every value kept."""

from flask import Blueprint, g, make_response, redirect, request
from flask.typing import ResponseReturnValue
from flask_babel import refresh

from app.core.i18n import COOKIE, COOKIE_SECONDS, LANGUAGES
from app.web.auth import safe_next, signed_in
from app.web.form_page import posted_form, render_form
from app.web.studio import job_page_with

bp = Blueprint("i18n", __name__)


@bp.post("/language")
def switch_language() -> ResponseReturnValue:
    """Keep the chosen language in a cookie. Sent with the job form (its buttons submit the form here) by a
    signed-in person, the same page comes back in the new language with every value kept; otherwise back
    to where it was. Signed out (the sign-in page has the switch too), it only sets the cookie: it renders
    nothing and keeps no file, so it shows a stranger no more than the address it redirects to would."""
    language = request.form.get("lang") if request.form.get("lang") in LANGUAGES else "en"
    g.language = language
    refresh()
    g.pop("_translations", None)
    target = safe_next(request.args.get("next") or request.form.get("next"))
    if "prompt" in request.form and signed_in():
        form = posted_form()
        response = make_response(job_page_with(form, target) or render_form(form))
    else:
        response = redirect(target, code=303)
    response.set_cookie(
        COOKIE, language or "en", max_age=COOKIE_SECONDS, samesite="Lax", secure=request.is_secure, httponly=True
    )
    return response
