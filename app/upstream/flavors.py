"""How a create request is written for each kind of upstream ("flavour"): which field carries the picture
and how, which names carry the length and the size, and where the model's extra options go. Each flavour is
data; `build_create()` is the one place that reads it, and `UpstreamCall` is what the client sends and what
"As code" prints, so the two cannot drift apart.

- relay: what new-api-style relays read (RELAY-NOTES.md): `image` as base64 text or the address, the
  contract's duration/width/height plus `seconds`/`size`, every extra option inside one `metadata` JSON part.
- openai: what OpenAI's Videos API and LiteLLM's proxy read: `input_reference` as a file part with the
  picture's own name and type; `seconds` and `size`; the extra options as top-level fields (LiteLLM passes
  those on and drops `metadata`). An address goes as the `image` text part, which LiteLLM passes on: its
  proxy (1.108.7) refuses `input_reference` as text ("Expected UploadFile, received: <class 'str'>") and
  fails on `{"image_url": ...}` in a JSON body ("'dict' object has no attribute 'read'"), both tried.
"""

import json
from dataclasses import dataclass, field
from urllib.parse import quote

from app.upstream.models import ImageUpload, VideoRequest
from app.upstream.multipart import Base64File, FilePart, MultipartBody


@dataclass(frozen=True)
class Flavor:
    name: str
    upload_field: str  # the form field that carries an uploaded picture
    upload_as_file: bool  # an upload as a file part (True) or as base64 text (False)
    address_field: str  # the form field that carries a picture's address, as text
    contract_sizes: bool  # send the contract's duration, width and height
    always_aliases: bool  # send seconds and size whatever VIDEO_API_COMPAT_ALIASES says
    options_in_metadata: bool  # extra options in one metadata JSON part (True) or as top-level fields


RELAY = Flavor(
    "relay",
    upload_field="image",
    upload_as_file=False,
    address_field="image",
    contract_sizes=True,
    always_aliases=False,
    options_in_metadata=True,
)
OPENAI = Flavor(
    "openai",
    upload_field="input_reference",
    upload_as_file=True,
    address_field="image",
    contract_sizes=False,
    always_aliases=True,
    options_in_metadata=False,
)
FLAVORS = {f.name: f for f in (RELAY, OPENAI)}
CHOICES = ("auto", *FLAVORS)


@dataclass
class UpstreamCall:
    """One request to the upstream: method, path and the multipart parts, in the order they are sent.
    A part's value is text, Base64File (a picture as base64 text) or FilePart (a picture as a file)."""

    method: str
    path: str
    parts: list = field(default_factory=list)
    flavor: str = ""

    def body(self) -> MultipartBody:
        return MultipartBody(self.parts)

    def record(self) -> dict:
        """The call as JSON-able data (no image bytes): kept with the job and printed as code."""
        parts = []
        for name, value in self.parts:
            if isinstance(value, FilePart):
                parts.append({"name": name, "file": value.filename, "type": value.content_type})
            elif isinstance(value, Base64File):
                parts.append({"name": name, "base64_of": value.filename, "prefix": value.prefix.decode("ascii")})
            else:
                parts.append({"name": name, "text": str(value)})
        return {"method": self.method, "path": self.path, "flavor": self.flavor, "parts": parts}


def build_create(
    request: VideoRequest, flavor: Flavor, base64_format: str = "raw", send_aliases: bool = True
) -> UpstreamCall:
    """POST /v1/videos for this request, written the way `flavor` reads it."""
    parts = []

    def add(name: str, value: object) -> None:
        if value is not None and value != "":
            parts.append((name, _text(value)))

    add("model", request.model)
    add("prompt", request.prompt)
    image = request.image
    if isinstance(image, ImageUpload):
        if flavor.upload_as_file:
            parts.append((flavor.upload_field, FilePart(image.path, image.filename, image.mime)))
        else:
            prefix = f"data:{image.mime};base64," if base64_format == "data-url" else ""
            parts.append((flavor.upload_field, Base64File(image.path, prefix, image.filename)))
    elif image:
        add(flavor.address_field, image)
    if flavor.contract_sizes:
        add("duration", request.duration)
        add("width", request.width)
        add("height", request.height)
    else:
        add("seconds", request.duration)
        if request.width and request.height:
            add("size", f"{request.width}x{request.height}")
    for name in ("fps", "seed", "n", "response_format", "user"):
        add(name, getattr(request, name))
    if request.metadata:
        if flavor.options_in_metadata:
            parts.append(("metadata", json.dumps(request.metadata, ensure_ascii=False)))
        else:
            taken = {name for name, _ in parts} | {
                "seconds",
                "size",
                "duration",
                "width",
                "height",
                "image",
                "input_reference",
                "metadata",
            }
            for key, value in request.metadata.items():
                if key not in taken:
                    add(key, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
    if flavor.contract_sizes and (send_aliases or flavor.always_aliases):
        add("seconds", request.duration)
        if request.width and request.height:
            add("size", f"{request.width}x{request.height}")
    return UpstreamCall("POST", "/v1/videos", parts, flavor.name)


def build_remix(video_id: str, prompt: str) -> UpstreamCall:
    """POST /v1/videos/{id}/remix with the new prompt (the id percent-encoded as one path segment)."""
    return UpstreamCall("POST", f"/v1/videos/{path_segment(video_id)}/remix", [("prompt", prompt)], "")


def path_segment(video_id: str) -> str:
    """An opaque id as one path segment: every byte but letters, digits and "-._~" percent-encoded, so "/",
    "%", "?", "#", "=" and non-ASCII reach the upstream as the id and never as path syntax."""
    return quote(str(video_id), safe="")


def _text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
