"""The only package that knows the upstream video API: the contract's models (models), its errors by
meaning (errors), the HTTP client (client) and which addresses may be fetched from (addresses).
The facts it relies on about real relays are in docs/relay-notes.md."""

from app.upstream.client import VideoAPI
from app.upstream.errors import (
    BadAnswer,
    UnsafeAddress,
    UpstreamError,
    UpstreamRefused,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from app.upstream.flavors import UpstreamCall
from app.upstream.models import ImageUpload, Job, VideoRequest, is_usable_id

__all__ = [
    "VideoAPI",
    "Job",
    "VideoRequest",
    "ImageUpload",
    "UpstreamCall",
    "UpstreamError",
    "UpstreamTimeout",
    "UpstreamUnreachable",
    "UpstreamRefused",
    "BadAnswer",
    "UnsafeAddress",
    "is_usable_id",
]
