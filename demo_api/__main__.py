"""Run the demo video API: python -m demo_api [--host H] [--port P] [--key K] [--data-dir DIR]."""

import argparse
import logging
import os

from werkzeug.serving import make_server

from demo_api.server import create_app


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m demo_api", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--key", default="demo", help="the bearer key clients must send (default: demo)")
    parser.add_argument(
        "--data-dir", default=None, help="keep jobs and videos here across restarts (default: a temporary folder)"
    )
    parser.add_argument("--workers", type=int, default=2, help="videos rendered at once (default: 2)")
    parser.add_argument(
        "--min-render-seconds",
        type=float,
        default=0.0,
        help="make each job take at least this long, so progress can be watched",
    )
    parser.add_argument("--quiet", action="store_true", help="no line per request (errors are still logged)")
    parser.add_argument(
        "--allow-private-urls",
        action="store_true",
        help="fetch image URLs on loopback, private and link-local addresses too (off by default)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="demo_api %(levelname)s %(message)s")
    if args.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    data_dir = os.path.abspath(args.data_dir) if args.data_dir else None  # relative to where we were started
    app = create_app(
        args.key, data_dir, args.workers, args.min_render_seconds, allow_private_urls=args.allow_private_urls
    )
    server = make_server(args.host, args.port, app, threaded=True)
    logging.getLogger("demo_api").info("serving on http://%s:%s", args.host, server.server_port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        app.extensions["demo_store"].shutdown()


if __name__ == "__main__":
    main()
