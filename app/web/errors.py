"""How the upstream's errors meet the web page: which form field an error concerns, and which HTTP
status the browser gets for it."""

from app.upstream import UpstreamError, UpstreamRefused, UpstreamTimeout

# Upstream field names (and the aliases relays read) -> the form field a person sees.
PARAM_TO_FIELD = {
    "model": "model",
    "prompt": "prompt",
    "image": "image",
    "input_reference": "image",
    "images": "image",
    "duration": "duration",
    "seconds": "duration",
    "width": "width",
    "height": "height",
    "size": "width",
    "fps": "fps",
    "seed": "seed",
    "n": "n",
    "response_format": "response_format",
    "user": "user",
    "metadata": "metadata",
    "negative_prompt": "negative_prompt",
    "style": "style",
    "quality_level": "quality_level",
}


def form_field(error: UpstreamError, image_is_url: bool = False) -> str | None:
    """The form field an upstream error names, when it names one (an image error goes to the image used)."""
    if not error.param:
        return None
    key = str(error.param).split(".")[0].split("[")[0].strip().lower()
    field = PARAM_TO_FIELD.get(key, "metadata" if str(error.param).startswith("metadata") else None)
    if field == "image":
        return "image_url" if image_is_url else "image_file"
    return field


def browser_status(error: UpstreamError) -> int:
    """What the app answers the browser with when the upstream failed."""
    if isinstance(error, UpstreamTimeout):
        return 504
    if isinstance(error, UpstreamRefused) and error.status in (400, 404, 409, 413, 422, 429):
        return {429: 429, 413: 413}.get(error.status, 400)
    return 502
