"""HTTP routes of the demo video API: /v1/videos (create, list, retrieve, delete, content) and /v1/models."""

import hmac
import os
import tempfile

from flask import Flask, abort, jsonify, request, send_file
from PIL import Image
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from demo_api import limits
from demo_api.errors import APIError
from demo_api.jobs import JobStore
from demo_api.render import sprite_path
from demo_api.validation import parse_create, read_fields

POLL_AFTER_MS = 250  # the polling hint OpenAI's SDK honours


def create_app(
    key: str = "demo",
    data_dir=None,
    workers: int = 2,
    min_render_seconds: float = 0.0,
    allow_private_urls: bool = False,
):
    """The demo API as a Flask app; without data_dir its files live in a temporary folder."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = limits.MAX_BODY_BYTES
    # An image sent as base64 is a text field: Werkzeug keeps text fields to 500 kB by default, which
    # refused any picture over about 370 kB with a 413.
    app.config["MAX_FORM_MEMORY_SIZE"] = limits.MAX_BODY_BYTES
    app.json.sort_keys = False  # pyright: ignore[reportAttributeAccessIssue]  (DefaultJSONProvider's setting)
    # Resolved once here: send_file would otherwise resolve a relative folder against this package.
    store = JobStore(
        os.path.abspath(data_dir or tempfile.mkdtemp(prefix="demo_api_")),
        workers,
        min_render_seconds,
        allow_private_urls=allow_private_urls,
    )
    app.extensions["demo_store"] = store

    @app.before_request
    def check_key():
        if request.path.startswith("/v1/"):
            header = request.headers.get("Authorization", "")
            token = header[7:].strip() if header.lower().startswith("bearer ") else ""
            if not hmac.compare_digest(token.encode(), key.encode()):
                raise APIError(
                    401, "Incorrect or missing API key. Send 'Authorization: Bearer <key>'.", code="invalid_api_key"
                )

    @app.errorhandler(APIError)
    def api_error(exc):
        return exc.to_response()

    @app.errorhandler(HTTPException)
    def http_error(exc):
        if isinstance(exc, RequestEntityTooLarge):
            return APIError(
                413,
                f"Request body is larger than {limits.MAX_BODY_BYTES // (1024 * 1024)} MB.",
                code="request_too_large",
            ).to_response()
        body, status = APIError(exc.code, exc.description, code=exc.name.lower().replace(" ", "_")).to_response()
        # Keep the exception's own headers: a 405 must say which methods are allowed (RFC 9110).
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        return body, status, headers

    @app.get("/")
    def index():
        return jsonify({"name": "demo video API", "endpoints": ["/v1/videos", "/v1/models"]})

    @app.post("/v1/videos")
    def create_video():
        spec = parse_create(request)
        return jsonify(store.create(spec))

    @app.post("/v1/videos/<job_id>/remix")
    def remix_video(job_id):
        values, _ = read_fields(request)
        prompt = values.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise APIError(400, "prompt is required and must not be empty.", param="prompt", code="missing_prompt")
        if len(prompt) > limits.MAX_PROMPT_CHARS:
            raise APIError(
                400,
                f"prompt is longer than {limits.MAX_PROMPT_CHARS} characters.",
                param="prompt",
                code="invalid_value",
            )
        source = _job_or_404(store, job_id)
        if source["status"] != "completed":
            raise APIError(
                400,
                f"Video {job_id} is {source['status']}; only a completed video can be remixed.",
                code="invalid_request",
            )
        return jsonify(store.remix(job_id, prompt))

    @app.get("/v1/videos")
    def list_videos():
        order = request.args.get("order", "desc")
        if order not in ("asc", "desc"):
            raise APIError(400, "order must be 'asc' or 'desc'.", param="order", code="invalid_value")
        try:
            limit = int(request.args.get("limit", 20))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            raise APIError(400, "limit must be a whole number from 1 to 100.", param="limit", code="invalid_value")
        page, has_more = store.list(request.args.get("after"), limit, order)
        return jsonify(
            {
                "object": "list",
                "data": page,
                "has_more": has_more,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
            }
        )

    @app.get("/v1/videos/<job_id>")
    def retrieve_video(job_id):
        job = _job_or_404(store, job_id)
        resp = jsonify(job)
        if job["status"] in ("queued", "in_progress"):
            resp.headers["openai-poll-after-ms"] = str(POLL_AFTER_MS)
        return resp

    @app.delete("/v1/videos/<job_id>")
    def delete_video(job_id):
        if not store.delete(job_id):
            raise _not_found(job_id)
        return jsonify({"id": job_id, "object": "video.deleted", "deleted": True})

    @app.get("/v1/videos/<job_id>/content")
    def video_content(job_id):
        job = _job_or_404(store, job_id)
        variant = request.args.get("variant", "video")
        if variant not in ("video", "thumbnail", "spritesheet"):
            raise APIError(
                400, "variant must be 'video', 'thumbnail' or 'spritesheet'.", param="variant", code="invalid_value"
            )
        try:
            index = int(request.args.get("index", 0))
        except ValueError:
            index = -1
        if not 0 <= index < job["n"]:
            raise APIError(400, f"index must be from 0 to {job['n'] - 1}.", param="index", code="invalid_value")
        if job["status"] != "completed":
            raise APIError(
                409,
                f"Video {job_id} is {job['status']}; its content exists once it is completed.",
                code="video_not_ready",
            )
        if variant == "video":
            path, mimetype, suffix = store.video_path(job_id, index), "video/mp4", "mp4"
        else:
            # Pictures are webp, as OpenAI's are; JPEG for a client whose Accept prefers it.
            picture = store.thumb_path(job_id, index)
            if variant == "spritesheet":
                picture = sprite_path(picture)
            if not os.path.exists(picture):
                abort(404)
            mimetype = request.accept_mimetypes.best_match(["image/webp", "image/jpeg"], default="image/webp")
            path, suffix = (picture, "jpg") if mimetype == "image/jpeg" else (as_webp(picture), "webp")
        if not os.path.exists(path):
            abort(404)
        return send_file(
            path, mimetype=mimetype, conditional=True, max_age=3600, download_name=f"{job_id}_{index}.{suffix}"
        )

    @app.get("/v1/models")
    def list_models():
        return jsonify(
            {
                "object": "list",
                "data": [
                    {"id": m, "object": "model", "created": 1700000000, "owned_by": "demo"} for m in limits.MODELS
                ],
            }
        )

    return app


def as_webp(jpeg_path):
    """The picture as webp beside the JPEG, made once."""
    webp = jpeg_path[: -len(".jpg")] + ".webp"
    if not os.path.exists(webp):
        with Image.open(jpeg_path) as img:
            img.save(webp + ".part", "WEBP", quality=80)
        os.replace(webp + ".part", webp)
    return webp


def _not_found(job_id):
    return APIError(404, f"No video with id {job_id!r}.", param="id", code="not_found")


def _job_or_404(store, job_id):
    job = store.get(job_id)
    if job is None:
        raise _not_found(job_id)
    return job
