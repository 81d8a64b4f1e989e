"""nginx on a free loopback port: in front of an app with the shipped settings
(docs/deploy/nginx-video-studio-proxy.conf, so what is tested is what ships), or serving a folder
(make bench's static-server counterpart)."""

import contextlib
import os
import shutil
import subprocess

import pytest

from .servers import ROOT, free_port, wait_until_up

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SNIPPET = os.path.join(ROOT, "docs", "deploy", "nginx-video-studio-proxy.conf")
SHIPPED_ARCHIVE = "/var/lib/video-studio/archive/"
SHIPPED_STORE = "127.0.0.1:8333"  # the store's address in the shipped location, which an operator replaces


def available():
    return os.access(NGINX, os.X_OK)


def require_nginx():
    if not available():
        reason = f"Debian's nginx is not installed ({NGINX}); `make test` installs it where it can"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason}, and REQUIRE_BROWSER=1 forbids skipping", pytrace=False)
        pytest.skip(reason)


def shipped_site(folder, app_port, data_dir=None, store=None):
    """The server block's contents: the shipped snippet pointed at app_port, and with data_dir, its
    internal archive location at data_dir/archive/ instead of /var/lib/video-studio/archive/; with store
    ("host:port" of the object store), its internal store location pointed there."""
    with open(SNIPPET, encoding="utf-8") as fh:
        snippet = fh.read().replace("http://127.0.0.1:8000", f"http://127.0.0.1:{app_port}")
    assert SHIPPED_ARCHIVE in snippet and snippet.count(SHIPPED_STORE) == 2
    if store is not None:
        snippet = snippet.replace(SHIPPED_STORE, store)
    if data_dir is not None:
        snippet = snippet.replace(SHIPPED_ARCHIVE, os.path.join(str(data_dir), "archive") + "/")
    with open(os.path.join(folder, "proxy.conf"), "w", encoding="utf-8") as fh:
        fh.write(snippet)
    return f"include {folder}/proxy.conf;"


def static_site(root):
    return f'root {root};\n        location = /healthz {{ return 200 "ok"; }}'


def start(folder, site):
    """nginx (one process, sendfile on) serving site on a free port: (process, base_url)."""
    os.makedirs(folder, exist_ok=True)
    port = free_port()
    temp = {name: os.path.join(folder, name) for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        os.makedirs(path, exist_ok=True)
    with open(os.path.join(folder, "nginx.conf"), "w", encoding="utf-8") as fh:
        fh.write(f"""
daemon off;
master_process off;
worker_processes 1;
error_log {folder}/error.log warn;
pid {folder}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    types {{ video/mp4 mp4; }}
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    server {{
        listen 127.0.0.1:{port};
        {site}
    }}
}}
""")
    proc = subprocess.Popen(
        [NGINX, "-c", os.path.join(folder, "nginx.conf"), "-p", folder],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", proc)
    except BaseException:
        proc.kill()
        raise
    return proc, f"http://127.0.0.1:{port}"


def stop(proc):
    proc.terminate()
    proc.wait(timeout=10)


@contextlib.contextmanager
def shipped_nginx(folder, app_port, data_dir=None, store=None):
    """Yields (base_url, port) of nginx with the shipped settings in front of the app on app_port."""
    require_nginx()
    os.makedirs(folder, exist_ok=True)
    proc, base_url = start(folder, shipped_site(folder, app_port, data_dir, store))
    try:
        yield base_url, int(base_url.rsplit(":", 1)[1])
    finally:
        stop(proc)
