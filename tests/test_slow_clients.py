"""Slow clients: with the shipped nginx settings in front (docs/deploy/nginx-video-studio-proxy.conf),
64 clients dribbling their request bodies leave the app answering everyone else."""

import contextlib
import socket
import threading
import time

import pytest
import requests

from support.nginx import shipped_nginx
from support.servers import AppProcess


@pytest.fixture
def app(tmp_path):
    from support.upstreams import ScriptedUpstream

    upstream = ScriptedUpstream()
    server = AppProcess(
        tmp_path / "app", {"VIDEO_API_BASE_URL": upstream.url, "VIDEO_API_KEY": "k", "TRUSTED_PROXIES": "1"}
    ).start()
    yield server
    server.stop()
    upstream.stop()


@pytest.fixture
def nginx(app, tmp_path):
    with shipped_nginx(str(tmp_path / "nginx"), app.port) as found:
        yield found


def dribble(port, stop, opened):
    """A client that announces a 100 kB form and sends it a byte at a time."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(
                b"POST /jobs HTTP/1.1\r\nHost: studio\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: 100000\r\n\r\nprompt="
            )
            opened.append(1)
            while not stop.is_set():
                sock.sendall(b"a")
                stop.wait(0.5)
    except OSError:
        pass


def test_64_slow_clients_behind_the_shipped_nginx_leave_the_app_answering(nginx):
    base_url, port = nginx
    stop, opened = threading.Event(), []
    clients = [threading.Thread(target=dribble, args=(port, stop, opened), daemon=True) for _ in range(64)]
    for c in clients:
        c.start()
    try:
        deadline = time.monotonic() + 5
        while len(opened) < 64 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(opened) == 64
        time.sleep(1)  # they are all dribbling now
        answered = 0
        for _ in range(20):
            with contextlib.suppress(requests.RequestException):
                answered += requests.get(base_url + "/healthz", timeout=5).status_code == 200
            time.sleep(0.2)
        assert answered == 20, f"{answered} of 20 health probes answered"
        assert requests.get(base_url + "/", timeout=5).status_code == 200  # and the form loads
    finally:
        stop.set()
        for c in clients:
            c.join(timeout=5)
