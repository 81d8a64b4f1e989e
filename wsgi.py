"""The WSGI entry point for gunicorn: `gunicorn wsgi:app`."""

import sys

from app import create_app
from app.core.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    print(f"configuration error: {exc}", file=sys.stderr)
    sys.exit(3)  # gunicorn treats this as an application load failure and stops
