"""Upstream job ids in the studio's own URLs: opaque text of up to 1,024 characters (LiteLLM's base64 with
"=", new-api's task_..., anything printable) made into one path segment and read back exactly.

An id is percent-encoded. Servers decode "%2F" back to "/" before routing, and browsers resolve "." and
".." segments, so an id holding "/", equal to "." or "..", or starting with "~" is written as "~" and its
UTF-8 in unpadded URL-safe base64 instead. Either way the page's address names exactly one job.
"""

import base64
import binascii
from urllib.parse import quote

from flask import Flask
from werkzeug.routing import BaseConverter, ValidationError

ENCODED = "~"


class JobIdConverter(BaseConverter):
    """`<job:job_id>`: one path segment that is an upstream id."""

    regex = r"[^/]+"
    part_isolating = True

    def to_url(self, value: object) -> str:
        value = str(value)
        if "/" in value or value in (".", "..") or value.startswith(ENCODED):
            return ENCODED + base64.urlsafe_b64encode(value.encode("utf-8")).decode("ascii").rstrip("=")
        return quote(value, safe="=+:@,")

    def to_python(self, value: str) -> str:
        if not value.startswith(ENCODED):
            return value
        text = value[len(ENCODED) :]
        try:
            return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8")
        except (binascii.Error, ValueError):
            raise ValidationError() from None


def init_job_urls(app: Flask) -> None:
    app.url_map.converters["job"] = JobIdConverter
