"""Nothing for strangers: every route of the URL map, asked signed out, in both auth modes, shows no job and
keeps no file. The routes are read from the app itself, so a new route cannot be forgotten here."""

import io
import os
import re

import pytest

from support.client import csrf_token, submit
from support.media import make_png

SECRET_PROMPT = "a lantern only the team may see"
OPEN_TO_ALL = {"static", "studio.healthz", "studio.readyz", "auth.login", "i18n.switch_language"}
# A share link's routes open for a token that names a link (tests/test_share_links.py); a made-up one is a 404.
OPEN_TO_ALL |= {"sharing.shared", "sharing.shared_video", "sharing.shared_poster"}
# /metrics answers this machine (the test client's 127.0.0.1) signed out, with counts and no job: its own
# test (tests/test_metrics.py) refuses every other address.
OPEN_TO_ALL |= {"metrics.metrics"}


def uploads(app):
    folder = os.path.join(app.extensions["studio"].settings.data_dir, "uploads")
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def stranger_token(app, stranger):
    """The CSRF token a stranger can have: from the sign-in page, or from the 401 page in header mode."""
    return csrf_token(stranger, "/login" if app.extensions["studio"].settings.auth_mode == "password" else "/")


def url_for_rule(rule, job_id):
    values = {
        "job_id": job_id,
        "index": 0,
        "token": "0" * 32 + ".png",
        "filename": "css/app.css",
        "example_id": "paper-boat",
        "comparison_id": "0" * 16,
        "link_id": "0" * 16,
    }
    url = rule.rule
    for arg in rule.arguments:
        url = (
            url.replace(f"<{arg}>", str(values[arg]))
            .replace(f"<int:{arg}>", str(values[arg]))
            .replace(f"<path:{arg}>", str(values[arg]))
        )
    return url


def signed_out_probe(app, stranger, job_id, signed_out_ok):
    """Ask every route as a stranger; return what each answered."""
    token = stranger_token(app, stranger)
    before = uploads(app)
    seen = {}
    for rule in app.url_map.iter_rules():
        url = url_for_rule(rule, job_id)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            data = (
                {
                    "csrf_token": token,
                    "prompt": "from a stranger",
                    "lang": "zh",
                    "next": f"/jobs/{job_id}",
                    "image_file": (io.BytesIO(make_png(400, 400)), "cat.png"),
                }
                if method == "POST"
                else None
            )
            resp = stranger.open(
                f"{url}?next=/jobs/{job_id}" if rule.endpoint == "i18n.switch_language" else url,
                method=method,
                data=data,
                content_type="multipart/form-data" if data else None,
            )
            body = resp.get_data(as_text=True)
            seen[(rule.endpoint, method)] = resp.status_code
            assert SECRET_PROMPT not in body, f"{method} {url} showed the job to a stranger"
            if resp.status_code not in (301, 302, 303):  # a redirect's body names only where it leads
                # the language switch on an error page points back at the address asked for, nothing more
                assert job_id not in re.sub(r'action="[^"]*"', "", body), f"{method} {url} showed the job"
            if rule.endpoint not in OPEN_TO_ALL:
                assert signed_out_ok(resp), f"{method} {url} answered {resp.status_code} signed out"
    assert uploads(app) == before, "a stranger's upload was kept"
    return seen


def test_every_route_refuses_a_stranger_in_password_mode(make_app, upstream):
    app = make_app(upstream.url, follow=False, app_password="correct horse battery")
    member = app.test_client()
    member.post(
        "/login", data={"csrf_token": csrf_token(member, "/login"), "name": "Ana", "password": "correct horse battery"}
    )
    assert submit(member, {"prompt": SECRET_PROMPT}).status_code == 303
    job_id = app.extensions["studio"].store.history.search()[0][0].id

    def to_sign_in(resp):
        return resp.status_code == 401 or (resp.status_code in (302, 303) and "/login" in resp.headers["Location"])

    seen = signed_out_probe(app, app.test_client(), job_id, to_sign_in)
    assert seen[("i18n.switch_language", "POST")] == 303  # the language is still chosen, nothing shown


def test_every_route_refuses_a_stranger_in_header_mode(make_app, upstream):
    app = make_app(upstream.url, follow=False, auth_header="X-Forwarded-User")
    member = app.test_client()
    member.environ_base["HTTP_X_FORWARDED_USER"] = "ana@example.com"
    assert submit(member, {"prompt": SECRET_PROMPT}).status_code == 303
    job_id = app.extensions["studio"].store.history.search()[0][0].id
    seen = signed_out_probe(app, app.test_client(), job_id, lambda resp: resp.status_code == 401)
    assert seen[("i18n.switch_language", "POST")] == 303


@pytest.mark.parametrize("mode", [{"app_password": "correct horse battery"}, {"auth_header": "X-Forwarded-User"}])
def test_the_language_switch_signed_out_only_sets_the_cookie(make_app, upstream, mode):
    """The attack: POST /language?next=/jobs/<id> with the form's fields rendered the whole job page."""
    app = make_app(upstream.url, follow=False, **mode)
    member = app.test_client()
    if "auth_header" in mode:
        member.environ_base["HTTP_X_FORWARDED_USER"] = "ana@example.com"
    else:
        member.post(
            "/login",
            data={"csrf_token": csrf_token(member, "/login"), "name": "Ana", "password": "correct horse battery"},
        )
    assert submit(member, {"prompt": SECRET_PROMPT}).status_code == 303
    job_id = app.extensions["studio"].store.history.search()[0][0].id
    stranger = app.test_client()
    token = stranger_token(app, stranger)
    for _ in range(3):
        resp = stranger.post(
            f"/language?next=/jobs/{job_id}",
            content_type="multipart/form-data",
            data={
                "csrf_token": token,
                "lang": "zh",
                "prompt": "x",
                "image_file": (io.BytesIO(make_png(600, 400)), "big.png"),
            },
        )
        assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/jobs/{job_id}")
        assert "lang=zh" in resp.headers.get("Set-Cookie", "")
        assert SECRET_PROMPT not in resp.get_data(as_text=True)
    assert uploads(app) == []
    # Signed in, the same post still brings the form back in Chinese with its values kept.
    page = member.post(
        f"/language?next=/jobs/{job_id}",
        content_type="multipart/form-data",
        data={"csrf_token": csrf_token(member, "/"), "lang": "zh", "prompt": "kept as typed"},
    )
    assert page.status_code == 200 and "kept as typed" in page.get_data(as_text=True)
