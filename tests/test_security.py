"""Security headers and cookies, readiness for strangers and insiders, and the request log."""

import logging
import re

from support.client import csrf_token, submit
from support.servers import free_port


def test_security_headers_on_every_page(client):
    for path in ("/", "/jobs", "/healthz", "/nope", "/static/js/app.js"):
        resp = client.get(path)
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Referrer-Policy"] == "same-origin"
    page = client.get("/").get_data(as_text=True)
    assert "<script>" not in page and " onclick=" not in page and " style=" not in page


def test_cookies_are_secure_behind_an_https_proxy(make_app, upstream):
    client = make_app(upstream.url, trusted_proxies=1).test_client()
    plain = client.get("/")
    assert "Secure" not in plain.headers["Set-Cookie"]
    proxied = (
        make_app(upstream.url, trusted_proxies=1)
        .test_client()
        .get("/", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    )
    cookie = proxied.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_readyz_reports_the_store_and_the_upstream(make_app, upstream, caplog):
    assert make_app(upstream.url).test_client().get("/readyz").get_json()["status"] == "ready"
    dead = f"http://127.0.0.1:{free_port()}"
    down = make_app(dead).test_client().get("/readyz")
    # A stranger learns only "not ready"; the details (and the API's address) go to the log.
    assert down.status_code == 503 and down.get_json() == {"status": "not ready"}
    assert dead not in down.get_data(as_text=True) and "refused" in caplog.text
    insider = make_app(dead, auth_header="X-User").test_client()
    details = insider.get("/readyz", headers={"X-User": "ops"}).get_json()
    assert "refused" in details["checks"]["upstream"] and details["checks"]["store"] == "ok"


def test_one_log_line_per_request_and_per_upstream_call(client, upstream, caplog):
    caplog.set_level(logging.INFO)
    csrf_token(client)
    caplog.clear()
    resp = submit(client, {"prompt": "logged"}, None)
    lines = [r.getMessage() for r in caplog.records if r.name in ("app.request", "app.upstream")]
    assert any(re.fullmatch(r"upstream POST /v1/videos -> 200 in \d+ ms", line) for line in lines)
    assert any(re.fullmatch(r"POST /jobs -> 303 in \d+ ms( db=\d+ ms)? job=video_123", line) for line in lines)
    assert resp.status_code == 303
