"""Turn a create request (multipart, urlencoded or JSON) into a checked JobSpec, or a 400 naming the field."""

import base64
import binascii
import io
import json
import math
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from PIL import Image, UnidentifiedImageError

from demo_api import limits
from demo_api.errors import field_error

KNOWN_FIELDS = {
    "model",
    "prompt",
    "image",
    "input_reference",
    "duration",
    "seconds",
    "width",
    "height",
    "size",
    "fps",
    "n",
    "seed",
    "response_format",
    "user",
    "metadata",
}
SIZE_RE = re.compile(r"^\s*(\d+)\s*[xX×*]\s*(\d+)\s*$")
DATA_URL_RE = re.compile(r"^data:(image/[\w.+-]+)?(;[\w=.-]+)*;base64,(.*)$", re.S)


@dataclass
class JobSpec:
    """Everything needed to render a job, already checked."""

    prompt: str
    model: str
    duration: float
    width: int
    height: int
    fps: int
    n: int
    seed: int | None
    response_format: str
    user: str | None
    metadata: dict = field(default_factory=dict)
    image_url: str | None = None  # http(s) address, fetched when rendering
    image_bytes: bytes | None = None  # decoded upload / base64 / data: URL

    @property
    def frame_count(self):
        return max(1, round(self.duration * self.fps))

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def seconds(self) -> str:
        return f"{self.duration:g}"


def read_fields(request):
    """The request's text fields and image file, whatever its content type."""
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise field_error(None, "The JSON body must be an object.", "invalid_json")
        return body, None
    values = dict(request.form.items())
    upload = request.files.get("input_reference") or request.files.get("image")
    return values, upload


def parse_create(request):
    """Validate a POST /v1/videos request into a JobSpec."""
    values, upload = read_fields(request)

    def get(name):
        return _blank_to_none(values.get(name))

    prompt = get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise field_error("prompt", "prompt is required and must not be empty.", "missing_prompt")
    if len(prompt) > limits.MAX_PROMPT_CHARS:
        raise field_error(
            "prompt", f"prompt is {len(prompt)} characters; at most {limits.MAX_PROMPT_CHARS} are allowed."
        )

    model = get("model") or limits.DEFAULTS["model"]
    if not isinstance(model, str) or len(model) > 100:
        raise field_error("model", "model must be a model id of at most 100 characters.")
    if not model.isprintable():
        raise field_error("model", "model must not contain control characters.")

    duration_param = "duration" if get("duration") is not None else "seconds"
    duration = _number(
        duration_param, get(duration_param), limits.DEFAULTS["duration"], limits.MIN_SECONDS, limits.MAX_SECONDS
    )

    width, height = _dimensions(get)
    fps = _integer("fps", get("fps"), limits.DEFAULTS["fps"], limits.MIN_FPS, limits.MAX_FPS)
    n = _integer("n", get("n"), limits.DEFAULTS["n"], 1, limits.MAX_N)
    seed = _integer("seed", get("seed"), None, 0, limits.MAX_SEED)

    response_format = get("response_format") or limits.DEFAULTS["response_format"]
    if response_format not in limits.RESPONSE_FORMATS:
        raise field_error(
            "response_format", "response_format must be one of: " + ", ".join(limits.RESPONSE_FORMATS) + "."
        )

    user = get("user")
    if user is not None and (not isinstance(user, str) or len(user) > limits.MAX_USER_CHARS):
        raise field_error("user", f"user must be text of at most {limits.MAX_USER_CHARS} characters.")

    metadata = _metadata(get("metadata"))
    # As new-api does with a multipart body: fields it does not know are kept in metadata as text, where a
    # provider adaptor reads them (negative_prompt, mode, cfg_scale, ... sent as fields of their own).
    for name, value in values.items():
        if (
            isinstance(name, str)
            and name.strip()
            and name not in KNOWN_FIELDS
            and isinstance(value, str)
            and len(metadata) < limits.MAX_EXTRA_FIELDS
        ):
            metadata.setdefault(name[:100], value[: limits.MAX_METADATA_CHARS])
    image_url, image_bytes = _image(get("image") or _reference_url(values.get("input_reference")), upload)

    return JobSpec(
        prompt=prompt,
        model=model,
        duration=duration,
        width=width,
        height=height,
        fps=fps,
        n=n,
        seed=seed,
        response_format=response_format,
        user=user,
        metadata=metadata,
        image_url=image_url,
        image_bytes=image_bytes,
    )


def _blank_to_none(value):
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _number(param, raw, default, low, high):
    if raw is None:
        return default
    try:
        if isinstance(raw, bool):
            raise ValueError
        value = float(raw)
    except (TypeError, ValueError):
        raise field_error(param, f"{param} must be a number of seconds, not {str(raw)[:40]!r}.") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise field_error(param, f"{param} must be between {low:g} and {high:g} seconds.")
    return value


def _integer(param, raw, default, low, high):
    if raw is None:
        return default
    if isinstance(raw, bool) or isinstance(raw, float) and not raw.is_integer():
        raise field_error(param, f"{param} must be a whole number.")
    try:
        value = int(raw) if not isinstance(raw, str) else int(raw.strip(), 10)
    except (TypeError, ValueError):
        raise field_error(param, f"{param} must be a whole number, not {str(raw)[:40]!r}.") from None
    if not low <= value <= high:
        raise field_error(param, f"{param} must be between {low} and {high}.")
    return value


def _dimensions(get):
    size = get("size")
    default_w, default_h = limits.DEFAULTS["width"], limits.DEFAULTS["height"]
    if size is not None and get("width") is None and get("height") is None:
        match = SIZE_RE.match(str(size))
        if not match:
            raise field_error("size", f"size must look like 1280x720, not {str(size)[:40]!r}.")
        default_w, default_h = int(match[1]), int(match[2])
        for value in (default_w, default_h):
            if not limits.MIN_SIDE <= value <= limits.MAX_SIDE or value % 2:
                raise field_error(
                    "size", f"size sides must be even numbers between {limits.MIN_SIDE} and {limits.MAX_SIDE} px."
                )
    width = _integer("width", get("width"), default_w, limits.MIN_SIDE, limits.MAX_SIDE)
    height = _integer("height", get("height"), default_h, limits.MIN_SIDE, limits.MAX_SIDE)
    for name, value in (("width", width), ("height", height)):
        if value % 2:
            raise field_error(name, f"{name} must be an even number of pixels (H.264 needs it).")
    return width, height


def _metadata(raw):
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str):
        raise field_error("metadata", "metadata must be a JSON object.")
    if len(raw) > limits.MAX_METADATA_CHARS:
        raise field_error("metadata", f"metadata is longer than {limits.MAX_METADATA_CHARS:,} characters.")
    try:
        value = json.loads(raw)
    except ValueError as exc:  # bad JSON, or a number too long to read (Python's 4,300-digit limit)
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise field_error("metadata", f"metadata is not valid JSON: {detail}{where}.") from None
    except RecursionError:
        raise field_error("metadata", "metadata is nested too deeply.") from None
    if not isinstance(value, dict):
        raise field_error("metadata", 'metadata must be a JSON object, like {"style": "anime"}.')
    return value


def _reference_url(reference):
    """OpenAI's input_reference given as {"image_url": ...} (a JSON object, or its text in a form field)."""
    if isinstance(reference, str) and reference.strip().startswith("{"):
        try:
            reference = json.loads(reference)
        except ValueError:
            raise field_error("input_reference", "input_reference is not valid JSON.") from None
    if isinstance(reference, dict):
        url = reference.get("image_url")
        if not isinstance(url, str) or not re.match(r"^https?://", url.strip(), re.I):
            raise field_error("input_reference", "input_reference.image_url must be an http(s) URL.")
        return url.strip()
    return None


def _image(raw, upload):
    """(url, bytes) from the image field or an uploaded file; at most one is set."""
    if upload is not None and upload.filename:
        data = upload.read(limits.MAX_IMAGE_BYTES + 1)
        param = upload.name
        return None, _checked_image(data, param)
    if raw is None:
        return None, None
    if not isinstance(raw, str):
        raise field_error("image", "image must be an http(s) URL or base64 image data.")
    text = raw.strip()
    if re.match(r"^https?://", text, re.I):
        parts = urlsplit(text)
        if not parts.hostname:
            raise field_error("image", "image URL has no host name.")
        return text, None
    match = DATA_URL_RE.match(text)
    encoded = match[3] if match else text
    if re.match(r"^[a-z][a-z0-9+.-]*:", text, re.I) and not match:
        raise field_error("image", "image must be an http(s) URL, a data: URL or raw base64.")
    try:
        data = base64.b64decode("".join(encoded.split()), validate=True)
    except (binascii.Error, ValueError):
        raise field_error("image", "image is neither an http(s) URL nor valid base64 image data.") from None
    return None, _checked_image(data, "image")


def _checked_image(data, param):
    if len(data) > limits.MAX_IMAGE_BYTES:
        raise field_error(
            param, f"image is larger than {limits.MAX_IMAGE_BYTES // (1024 * 1024)} MB.", "image_too_large"
        )
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.size[0] * img.size[1] > limits.MAX_IMAGE_PIXELS:
                raise field_error(
                    param,
                    f"image is {img.size[0]}x{img.size[1]} px, more than "
                    f"{limits.MAX_IMAGE_PIXELS // 1_000_000} megapixels.",
                    "image_too_large",
                )
            img.verify()
    except Image.DecompressionBombError:
        raise field_error(
            param, f"image has far more than {limits.MAX_IMAGE_PIXELS // 1_000_000} megapixels.", "image_too_large"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise field_error(
            param, "image data could not be read as a picture (png, jpeg, webp, gif).", "invalid_image"
        ) from None
    return data
