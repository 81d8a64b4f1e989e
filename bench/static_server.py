"""nginx for the video-serving counterparts (tests/support/nginx.py runs it): as a plain static server
(one worker, sendfile, Range built in) serving one folder, or in front of the app with the shipped
settings and their internal archive location. `make bench` installs Debian's nginx where it can."""

import shutil
import tempfile

from tests.support import nginx

available = nginx.available


class Nginx:
    def __init__(self, static_root=None, app_port=None, data_dir=None):
        self.folder = tempfile.mkdtemp(prefix="bench_nginx_")
        site = (
            nginx.static_site(static_root) if app_port is None else nginx.shipped_site(self.folder, app_port, data_dir)
        )
        self.proc, self.url = nginx.start(self.folder, site)

    def stop(self):
        nginx.stop(self.proc)
        shutil.rmtree(self.folder, ignore_errors=True)
