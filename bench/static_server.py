"""The counterpart for serving videos: nginx as a plain static server (sendfile on, Range built in), on
a free loopback port, serving one folder. `make bench` installs Debian's nginx where it can."""

import os
import shutil
import subprocess
import tempfile

from tests.support.servers import free_port, wait_until_up

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def available():
    return os.access(NGINX, os.X_OK)


class StaticServer:
    def __init__(self, root):
        self.root, self.folder = root, tempfile.mkdtemp(prefix="bench_nginx_")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
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
        root {root};
        location = /healthz {{ return 200 "ok"; }}
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
