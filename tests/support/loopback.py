"""One base for every HTTP server the tests run in-process on loopback."""

import threading

from werkzeug.serving import make_server


class LoopbackServer:
    """A threaded WSGI server on a free port of host (127.0.0.1, or another loopback address such as
    127.0.0.2 standing for an internal service); url is its address. Call stop() when done."""

    def __init__(self, wsgi_app, host="127.0.0.1"):
        self._server = make_server(host, 0, wsgi_app, threaded=True)
        self.host, self.port = host, self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
