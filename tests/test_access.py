"""Access control: a team password, an identity header from a reverse proxy, or open with a warning."""

import os
import subprocess
import sys
import time
from urllib.parse import quote

import pytest

from support.client import csrf_token, submit
from support.pages import Page, hidden_value
from support.servers import ROOT, free_port, wait_until_up


def login(client, password, name="Ana", next_path="/"):
    token = csrf_token(client, "/login")
    return client.post(f"/login?next={next_path}", data={"csrf_token": token, "name": name, "password": password})


@pytest.fixture
def locked(make_app, upstream):
    return make_app(upstream.url, app_password="correct horse battery").test_client()


def test_password_mode_needs_sign_in_everywhere_but_health_and_static(locked):
    for path in ("/", "/jobs", "/jobs/x"):
        resp = locked.get(path)
        assert resp.status_code == 302 and "/login?next=" in resp.headers["Location"]
    assert locked.get("/jobs/x/status").status_code == 401
    sent = locked.post("/jobs", data={"prompt": "p"})  # a form from a page left open past sign-out
    assert sent.status_code == 303 and "/login?next=" in sent.headers["Location"]
    assert locked.get("/healthz").status_code == 200
    assert locked.get("/static/css/app.css").status_code == 200
    assert locked.get("/login").status_code == 200


def test_a_wrong_password_is_refused_slowly_and_the_right_one_lets_in(locked, upstream):
    started = time.monotonic()
    wrong = login(locked, "guess")
    assert time.monotonic() - started >= 0.9, "a failed attempt must cost time"
    assert wrong.status_code == 401 and "That is not the team password." in wrong.get_data(as_text=True)
    right = login(locked, "correct horse battery", next_path="/jobs")
    assert right.status_code == 303 and right.headers["Location"] == "/jobs"
    cookie = right.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    form = locked.get("/").get_data(as_text=True)
    assert "Signed in as <strong>Ana</strong>" in form
    assert Page(form).value("user") == "Ana"
    job = submit(locked, {"prompt": "from Ana", "user": ""})
    assert job.status_code == 303
    assert "by Ana" in locked.get("/jobs").get_data(as_text=True)


def test_the_sign_in_form_takes_20_tries_a_minute_and_then_says_to_slow_down(locked):
    answers = [login(locked, "correct horse battery").status_code for _ in range(21)]
    assert answers == [303] * 20 + [429]
    refused = login(locked, "correct horse battery")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Too many requests" in refused.get_data(as_text=True)
    assert locked.get("/jobs").status_code == 200  # signed in: every other page still answers
    assert locked.get("/healthz").status_code == 200


def test_next_never_leads_to_another_site(locked):
    resp = login(locked, "correct horse battery", next_path="//evil.example.com/")
    assert resp.headers["Location"] == "/"


def test_sign_out_ends_the_session(locked):
    login(locked, "correct horse battery")
    page = locked.get("/").get_data(as_text=True)
    token = hidden_value(page)
    assert locked.post("/logout", data={"csrf_token": token}).status_code == 303
    assert locked.get("/").status_code == 302


def test_header_mode_trusts_the_proxy_identity_and_refuses_without_it(make_app, upstream):
    client = make_app(upstream.url, auth_header="X-Forwarded-User").test_client()
    refused = client.get("/")
    assert refused.status_code == 401 and "sign-in proxy" in refused.get_data(as_text=True)
    client.environ_base["HTTP_X_FORWARDED_USER"] = "bo@example.com"
    page = client.get("/").get_data(as_text=True)
    assert "Signed in as <strong>bo@example.com</strong>" in page
    assert submit(client, {"prompt": "from Bo"}).status_code == 303
    assert upstream.creates[0].field("user") == "bo@example.com"
    assert "by bo@example.com" in client.get("/jobs").get_data(as_text=True)


def test_open_mode_warns_at_start_up_when_bound_beyond_loopback(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIDEO_API_", "APP_", "AUTH_"))}
    env.update(
        VIDEO_API_BASE_URL="http://127.0.0.1:9",
        DATA_DIR=str(tmp_path),
        SECRET_KEY="s",
        BIND=f"0.0.0.0:{port}",
        WEB_WORKERS="1",
    )
    log_path = tmp_path / "log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", proc, log_path=str(log_path))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert "anyone who can reach 0.0.0.0:" in log_path.read_text() and "APP_PASSWORD" in log_path.read_text()


def test_an_old_cookie_no_longer_signs_in_after_sign_out(locked):
    login(locked, "correct horse battery")
    stolen = locked.get_cookie("session").value  # a copy of the cookie, kept by someone
    token = hidden_value(locked.get("/").get_data(as_text=True))
    assert locked.post("/logout", data={"csrf_token": token}).status_code == 303
    locked.set_cookie("session", stolen)
    assert locked.get("/").status_code == 302  # the server ended that session


def test_changing_the_team_password_ends_every_session(make_app, upstream):
    old = make_app(upstream.url, app_password="first-password").test_client()
    login(old, "first-password")
    cookie = old.get_cookie("session").value
    assert old.get("/").status_code == 200
    restarted = make_app(upstream.url, app_password="second-password").test_client()  # same DATA_DIR
    restarted.set_cookie("session", cookie)
    assert restarted.get("/").status_code == 302


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/phish",
        "/\t/evil.example/phish",
        "/%09/evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "/\r\nSet-Cookie: x=1",
        "/ /evil.example",
        "javascript:alert(1)",
    ],
)
def test_next_accepts_only_paths_on_this_site(locked, target):
    resp = login(locked, "correct horse battery", next_path=quote(target, safe="/:%"))
    assert resp.status_code == 303
    location = resp.headers["Location"]
    assert location == "/" or (
        location.startswith("/") and not location.startswith("//") and "evil" not in location.replace("%", "")
    ), location


def test_duplicate_identity_headers_are_refused(make_app, upstream):
    client = make_app(upstream.url, auth_header="X-Forwarded-User").test_client()
    # What a WSGI server hands over when a client sent its own copy in front of the proxy's.
    resp = client.get("/", headers=[("X-Forwarded-User", "mallory"), ("X-Forwarded-User", "ana")])
    assert resp.status_code == 400 and "more than one identity" in resp.get_data(as_text=True)
    assert client.get("/", headers={"X-Forwarded-User": "mallory, ana"}).status_code == 400
    assert client.get("/", headers={"X-Forwarded-User": "ana"}).status_code == 200


def test_header_mode_warns_when_bound_beyond_loopback(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIDEO_API_", "APP_", "AUTH_"))}
    env.update(
        VIDEO_API_BASE_URL="http://127.0.0.1:9",
        DATA_DIR=str(tmp_path),
        SECRET_KEY="s",
        BIND=f"0.0.0.0:{port}",
        AUTH_HEADER="X-Forwarded-User",
        WEB_WORKERS="1",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", proc)
    finally:
        proc.terminate()
        out = proc.communicate(timeout=20)[0]
    assert "AUTH_HEADER trusts the X-Forwarded-User header" in out


@pytest.mark.parametrize(
    "name", ["Ana\nINFO app.request: GET /admin -> 200", "Ana\rBo", "Ana\tBo", "Ana\u202eoB", "Ana\u2028Bo"]
)
def test_a_sign_in_name_with_control_characters_is_refused_at_its_field(locked, name, caplog):
    resp = login(locked, "correct horse battery", name=name)
    page = Page(resp.get_data(as_text=True))
    assert resp.status_code == 400 and "control characters" in page.text("name-error")
    assert locked.get("/").status_code == 302  # not signed in
    assert "GET /admin -> 200" not in caplog.text.replace(repr(name), "")


def test_header_mode_refuses_an_identity_with_control_characters(make_app, upstream):
    client = make_app(upstream.url, auth_header="X-Forwarded-User").test_client()
    resp = client.get("/", headers={"X-Forwarded-User": "bo\x1b[31m@example.com"})
    assert resp.status_code == 400 and "control characters" in resp.get_data(as_text=True)


@pytest.mark.parametrize("prefix", ["/evil", "/a/b"])
def test_a_trusted_proxy_is_trusted_only_for_the_headers_nginx_sets(make_app, upstream, prefix):
    """The shipped nginx site sets X-Forwarded-For, -Proto and -Host; a client's own -Prefix passes through
    it unchanged, so it must not move the app's links or redirects."""
    client = make_app(upstream.url, trusted_proxies=1).test_client()
    headers = {"X-Forwarded-Prefix": prefix, "X-Forwarded-Host": "studio.example"}
    page = client.get("/", headers=headers).get_data(as_text=True)
    assert f"{prefix}/static/" not in page and "/static/" in page
    assert not client.get("/login", headers=headers).headers["Location"].startswith(prefix)
