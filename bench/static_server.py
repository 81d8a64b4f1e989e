"""nginx for the video-serving counterparts, on a free loopback port: as a plain static server (sendfile
on, Range built in) serving one folder, or in front of the app with the shipped settings
(docs/deploy/nginx-video-studio-proxy.conf) and its internal archive location. `make bench` installs
Debian's nginx where it can."""

import os
import shutil
import subprocess
import tempfile

from tests.support.servers import ROOT, free_port, wait_until_up

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SNIPPET = os.path.join(ROOT, "docs", "deploy", "nginx-video-studio-proxy.conf")


def available():
    return os.access(NGINX, os.X_OK)


class Nginx:
    def __init__(self, static_root=None, app_port=None, data_dir=None):
        self.folder = tempfile.mkdtemp(prefix="bench_nginx_")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if app_port is None:
            site = f'root {static_root};\n        location = /healthz {{ return 200 "ok"; }}'
        else:
            with open(SNIPPET, encoding="utf-8") as fh:
                snippet = fh.read().replace("http://127.0.0.1:8000", f"http://127.0.0.1:{app_port}")
            snippet = snippet.replace("/var/lib/video-studio/archive/", os.path.join(data_dir, "archive") + "/")
            with open(os.path.join(self.folder, "proxy.conf"), "w", encoding="utf-8") as fh:
                fh.write(snippet)
            site = f"include {self.folder}/proxy.conf;"
        temp = {}
        for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            temp[name] = os.path.join(self.folder, name)
            os.mkdir(temp[name])
        with open(os.path.join(self.folder, "nginx.conf"), "w", encoding="utf-8") as fh:
            fh.write(f"""
daemon off;
master_process off;
worker_processes 1;
error_log {self.folder}/error.log warn;
pid {self.folder}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    client_body_temp_path {temp['body']};
    proxy_temp_path {temp['proxy']};
    fastcgi_temp_path {temp['fastcgi']};
    uwsgi_temp_path {temp['uwsgi']};
    scgi_temp_path {temp['scgi']};
    types {{ video/mp4 mp4; }}
    server {{
        listen 127.0.0.1:{self.port};
        {site}
    }}
}}
""")
        self.proc = subprocess.Popen([NGINX, "-c", os.path.join(self.folder, "nginx.conf"), "-p", self.folder],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_until_up(self.url + "/healthz", self.proc)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)
