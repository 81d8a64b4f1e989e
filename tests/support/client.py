"""Building the app for in-process tests, and sending its form the way a browser does."""

import secrets

from app.core.config import Settings

from .pages import hidden_value

# Made at run time, so no key-shaped string is committed; the tests look for it in pages and logs.
TEST_KEY = "sk-test" + secrets.token_hex(16)


def make_settings(base_url, data_dir, **overrides):
    values = {
        "video_api_base_url": base_url,
        "video_api_key": TEST_KEY,
        "secret_key": "test-secret",
        "data_dir": str(data_dir),
        "video_api_timeout": 5.0,
        "video_api_connect_timeout": 2.0,
    }
    values.update(overrides)
    return Settings(**values)


def csrf_token(client, path="/"):
    return hidden_value(client.get(path).get_data(as_text=True))


def submit(client, data, files=None):
    """POST the form the way a browser does, with a valid CSRF token."""
    payload = {"csrf_token": csrf_token(client), **data}
    if files:
        payload.update(files)
    return client.post("/jobs", data=payload, content_type="multipart/form-data")
