"""The key goes only to the API's own origin, and only addresses read the same by every parser are fetched.

The attack (issue 19): `http://127.0.0.1:COLLECTOR\\@127.0.0.1:API/v.mp4` read as the API's host by one
parser and connected to COLLECTOR by another, with the key attached. Here the API and a "collector" are
real servers on loopback ports; the collector must never see the key."""

import base64
import json
import logging

import pytest
import requests
from werkzeug.wrappers import Response

from app.upstream import Job
from app.upstream.addresses import AddressRefused, PinnedTransport, read_address
from support.client import TEST_KEY, submit
from support.upstreams import ScriptedUpstream, job_body, json_response


@pytest.fixture
def collector():
    """Another service on loopback that would like to collect the key."""
    server = ScriptedUpstream(handler=lambda req: Response(b"\x00\x00\x00\x18ftypmp42 collected", mimetype="video/mp4"))
    yield server
    server.stop()


def port(server):
    return server.url.rsplit(":", 1)[1]


def completed(upstream, content=None, **extra):
    def handler(req):
        if req.path.endswith("/content"):
            return content(req) if content else json_response({"error": {"message": "no such route"}}, 404)
        return json_response(job_body("video_bs", status="completed", progress=100, **extra))

    upstream.handler = handler


def follow_once(make_app, upstream, **overrides):
    app = make_app(upstream.url, follow=False, **overrides)
    app.extensions["studio"].store.add(Job(id="video_bs", status="queued"), {"prompt": "p"})
    app.extensions["studio"].follower.run_once()
    return app.extensions["studio"].store.get("video_bs")


def keyed(server):
    return [r for r in server.requests if r.headers.get("Authorization")]


def test_a_backslash_address_from_metadata_url_never_carries_the_key_elsewhere(make_app, upstream, collector):
    trick = f"http://127.0.0.1:{port(collector)}\\@127.0.0.1:{port(upstream)}/v.mp4"
    completed(upstream, metadata={"url": trick})
    record = follow_once(make_app, upstream, allowed_private_hosts=("127.0.0.1",))
    assert collector.requests == []
    assert record.archive == "retrying" and "backslash" in record.archive_error


def test_a_backslash_address_in_a_redirect_is_not_followed(make_app, upstream, collector):
    trick = f"http://127.0.0.1:{port(collector)}\\@127.0.0.1:{port(upstream)}/v.mp4"
    completed(upstream, content=lambda req: Response("", 302, headers={"Location": trick}))
    record = follow_once(make_app, upstream, allowed_private_hosts=("127.0.0.1",))
    assert collector.requests == []
    # Werkzeug writes the backslash as %5C in its Location header, leaving user info before the @
    assert record.archive == "retrying" and (
        "backslash" in record.archive_error or "user name or password" in record.archive_error
    )


def test_a_persons_own_metadata_echoed_back_cannot_collect_the_key(make_app, upstream, collector):
    """A team member types the trick into metadata; the provider echoes metadata and has no /content."""
    echoed = {}

    def handler(req):
        if req.method == "POST" and req.path == "/v1/videos":
            echoed.update(json.loads(req.field("metadata") or "{}"))
            return json_response(job_body("video_echo", metadata=echoed))
        if req.path.endswith("/content"):
            return json_response({"error": {"message": "no such route"}}, 404)
        return json_response(job_body("video_echo", status="completed", progress=100, metadata=echoed))

    upstream.handler = handler
    app = make_app(upstream.url, follow=False, allowed_private_hosts=("127.0.0.1",))
    client = app.test_client()
    for trick in (
        f"http://127.0.0.1:{port(collector)}\\@127.0.0.1:{port(upstream)}/v.mp4",
        f"http://127.0.0.1:{port(upstream)}@127.0.0.1:{port(collector)}/v.mp4",
    ):
        assert submit(client, {"prompt": "a boat", "metadata": json.dumps({"url": trick})}).status_code == 303
        app.extensions["studio"].follower.run_once()
        record = app.extensions["studio"].store.get("video_echo")
        assert record.archive == "retrying", record.archive_error
        assert keyed(collector) == [] and collector.requests == []


def test_another_port_on_the_same_host_is_another_origin_and_gets_no_key(make_app, upstream, collector):
    completed(upstream, metadata={"url": f"{collector.url}/v.mp4"})
    record = follow_once(make_app, upstream, allowed_private_hosts=("127.0.0.1",))
    assert record.archive == "archived"
    assert [r.path for r in collector.requests] == ["/v.mp4"] and keyed(collector) == []
    assert keyed(upstream) and all(r.headers["Authorization"] == f"Bearer {TEST_KEY}" for r in keyed(upstream))


@pytest.mark.parametrize(
    "address, why",
    [
        ("http://127.0.0.1:1\\@127.0.0.1:2/v.mp4", "backslash"),
        ("http://a.example\\b.example/v.mp4", "backslash"),
        ("http://user:pw@a.example/v.mp4", "user name or password"),
        ("http://a.example@b.example/v.mp4", "user name or password"),
        ("http://a.example/v.mp4\n", "control character"),
        ("http://a.example\t.b.example/", "control character"),
        ("http://a.example:99999/v.mp4", "cannot be read"),
        ("ftp://a.example/v.mp4", "not an http(s) address"),
        ("http:///v.mp4", "not an http(s) address"),
    ],
)
def test_addresses_two_parsers_could_read_differently_are_refused(address, why):
    with pytest.raises(AddressRefused, match=why.replace("(", r"\(").replace(")", r"\)")):
        read_address(address)


def test_an_ordinary_address_is_read_as_it_will_be_connected_to():
    address = read_address("HTTPS://Videos.Example.COM/a/b.mp4?sig=1%2F2#frag")
    assert (address.scheme, address.host, address.port) == ("https", "videos.example.com", 443)
    assert read_address("http://[::1]:8080/x").origin == ("http", "::1", 8080)


def test_the_transport_connects_to_the_address_it_checked_and_sends_the_name_as_host(upstream):
    """A name the system cannot resolve: the checked address is the only way the request can arrive."""
    asked = []

    def resolve(host, port, **kwargs):
        asked.append(host)
        return [(2, 1, 6, "", ("127.0.0.1", port))]

    upstream.handler = lambda req: Response(b"pinned", mimetype="video/mp4")
    session = requests.Session()
    transport = PinnedTransport(
        "http://api.internal.test:9", "Bearer x", allowed_hosts=("videos.pinned.test",), resolve=resolve
    )
    session.mount("http://", transport)
    resp = session.get(f"http://videos.pinned.test:{port(upstream)}/v.mp4", timeout=5)
    assert resp.content == b"pinned" and asked == ["videos.pinned.test"]
    seen = upstream.requests[-1]
    assert seen.headers["Host"] == f"videos.pinned.test:{port(upstream)}" and "Authorization" not in seen.headers
    with pytest.raises(AddressRefused, match="private or local"):  # not listed: loopback is refused
        PinnedTransport("http://api.internal.test:9", resolve=resolve).send(
            requests.Request("GET", f"http://other.test:{port(upstream)}/").prepare()
        )


def test_a_password_in_the_base_url_is_neither_shown_nor_logged_and_is_sent_as_basic_auth(make_app, upstream, caplog):
    caplog.set_level(logging.INFO)
    password = "pw-" + TEST_KEY[-16:]
    base = upstream.url.replace("http://", f"http://team:{password}@")
    app = make_app(base, follow=False, video_api_key="")
    client = app.test_client()
    assert submit(client, {"prompt": "a kite"}).status_code == 303
    job_id = app.extensions["studio"].store.history.search()[0][0].id
    code = client.get(f"/jobs/{job_id}/code").get_data(as_text=True)
    assert upstream.url in code and password not in code
    assert password not in caplog.text and "team:" not in caplog.text
    sent = upstream.creates[-1].headers["Authorization"]
    assert sent == "Basic " + base64.b64encode(f"team:{password}".encode()).decode()
