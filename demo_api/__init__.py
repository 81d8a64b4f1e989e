"""A local OpenAI-compatible video API that draws real placeholder MP4s (no key, no network)."""

from demo_api.server import create_app

__all__ = ["create_app"]
