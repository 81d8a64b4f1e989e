"""The demo API's caps, in one place so the README, the validator and the tests agree."""

MAX_SIDE = 1920  # px, width and height
MIN_SIDE = 64  # px
MAX_SECONDS = 20  # duration
MIN_SECONDS = 0.5
MAX_FPS = 60
MIN_FPS = 1
MAX_N = 4
MAX_SEED = 2**32 - 1
MAX_PROMPT_CHARS = 2500
MAX_IMAGE_BYTES = 10 * 1024 * 1024  # decoded image
MAX_BODY_BYTES = 20 * 1024 * 1024  # whole request (base64 inflates an image by a third)
MAX_USER_CHARS = 256
RESPONSE_FORMATS = ("url", "b64_json")

DEFAULTS = {
    "model": "kling-v1",
    "duration": 5.0,
    "width": 1280,
    "height": 720,
    "fps": 24,
    "n": 1,
    "response_format": "url",
}

MODELS = ("kling-v1", "kling-v1-6", "kling-v2-master", "kling-v2-1", "sora-2", "demo-v1")
MAX_IMAGE_PIXELS = 40_000_000  # a decoded picture larger than this (a decompression bomb) is refused
MAX_METADATA_CHARS = 16 * 1024
MAX_EXTRA_FIELDS = 50  # unknown form fields kept in metadata, at most
