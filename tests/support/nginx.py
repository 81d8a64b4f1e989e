"""nginx on a free loopback port with the shipped settings (docs/deploy/nginx-video-studio-proxy.conf),
pointed at an app under test: what is tested is what ships."""

import contextlib
import os
import subprocess

import pytest

from support.servers import ROOT, free_port, wait_until_up

NGINX = "/usr/sbin/nginx"
SNIPPET = os.path.join(ROOT, "docs", "deploy", "nginx-video-studio-proxy.conf")
SHIPPED_ARCHIVE = "/var/lib/video-studio/archive/"


def require_nginx():
    if not os.path.exists(NGINX):
        reason = f"Debian's nginx is not installed ({NGINX}); `make test` installs it where it can"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason}, and REQUIRE_BROWSER=1 forbids skipping", pytrace=False)
        pytest.skip(reason)


@contextlib.contextmanager
def shipped_nginx(folder, app_port, data_dir=None):
    """Yields (base_url, port) of nginx in front of the app on app_port; with data_dir, the shipped
    internal archive location points at data_dir/archive/ instead of /var/lib/video-studio/archive/."""
    require_nginx()
    os.makedirs(folder, exist_ok=True)
    with open(SNIPPET, encoding="utf-8") as fh:
        snippet = fh.read().replace("http://127.0.0.1:8000", f"http://127.0.0.1:{app_port}")
    assert SHIPPED_ARCHIVE in snippet
    if data_dir is not None:
        snippet = snippet.replace(SHIPPED_ARCHIVE, os.path.join(str(data_dir), "archive") + "/")
    with open(os.path.join(folder, "proxy.conf"), "w", encoding="utf-8") as fh:
        fh.write(snippet)
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
    client_body_temp_path {temp['body']};
    proxy_temp_path {temp['proxy']};
    fastcgi_temp_path {temp['fastcgi']};
    uwsgi_temp_path {temp['uwsgi']};
    scgi_temp_path {temp['scgi']};
    server {{
        listen 127.0.0.1:{port};
        include {folder}/proxy.conf;
    }}
}}
""")
    proc = subprocess.Popen([NGINX, "-c", os.path.join(folder, "nginx.conf"), "-p", folder],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", proc)
        yield f"http://127.0.0.1:{port}", port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
