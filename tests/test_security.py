"""Security headers and cookies, readiness for strangers and insiders, and the request log."""

import logging
import re

from support.client import csrf_token, submit
from support.servers import free_port


def test_security_headers_on_every_page(client):
    for path in ("/", "/jobs", "/healthz", "/nope", "/static/js/live.js"):
        resp = client.get(path)
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Referrer-Policy"] == "same-origin"
    page = client.get("/").get_data(as_text=True)
    assert "<script>" not in page and " onclick=" not in page and " style=" not in page


def test_the_page_script_is_modules_that_stay_current_after_a_deploy(client):
    page = client.get("/").get_data(as_text=True)
    entry = re.search(r'<script type="module" src="(/static/js/main\.js\?v=[0-9a-f]+)"></script>', page)
    assert entry, "the page loads its script as a module, by an address that names its content"
    main = client.get(entry.group(1))
    assert main.status_code == 200 and "javascript" in main.headers["Content-Type"]
    assert "immutable" in main.headers["Cache-Control"] and "max-age=31536000" in main.headers["Cache-Control"]
    # The modules main.js imports are asked for by their plain names, so the browser checks them every visit
    # (a 304 when unchanged): a deploy that changes live.js alone is seen at once.
    imported = re.findall(r'from "\./(\w+\.js)"', main.get_data(as_text=True))
    assert {"dom.js", "form.js", "live.js", "widgets.js"} <= set(imported)
    for name in imported:
        module = client.get(f"/static/js/{name}")
        assert module.status_code == 200 and "no-cache" in module.headers["Cache-Control"], name
        again = client.get(f"/static/js/{name}", headers={"If-None-Match": module.headers["ETag"]})
        assert again.status_code == 304, name


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
