"""Examples above the form: the picture of each, and the form's values when one is chosen."""

import json

from flask import Blueprint, abort, send_file
from flask.typing import ResponseReturnValue

from app.catalog.examples import Example
from app.core.i18n import current_language
from app.services import services
from app.web.forms import FORM_DEFAULTS

bp = Blueprint("examples", __name__)


def example_values(example: Example) -> dict:
    """The form's values for an example; its picture is kept like an upload, so the form shows it."""
    data = {**FORM_DEFAULTS, **example.values}
    data["prompt"] = example.prompts.get(current_language()) or data.get("prompt")  # in the page's language
    if example.extras:
        data["extras"] = dict(example.extras)
    if example.metadata:
        data["metadata"] = json.dumps(example.metadata, ensure_ascii=False)
    if example.image_path:
        with open(example.image_path, "rb") as fh:
            data["image_token"] = services().uploads.save_stream(fh, services().settings.max_upload_bytes).token
    return data


@bp.get("/examples/<example_id>.png")
def example_image(example_id: str) -> ResponseReturnValue:
    """An example's picture, for its card above the form."""
    example = next((e for e in services().examples if e.id == example_id and e.image_path), None)
    if example is None:
        abort(404)
    return send_file(example.image_path, max_age=86400)
