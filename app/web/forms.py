"""VideoJobForm: one input per API field, named as the API names them; cross-field rules in validate()."""

import json
import math
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any, cast

from flask import request
from flask_babel import format_decimal
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    Field,
    FloatField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice  # pyright: ignore[reportAttributeAccessIssue]  (stubs predate it)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from app.catalog.profiles import Profile
from app.core.i18n import gettext as _
from app.core.i18n import lazy_gettext as _l
from app.core.i18n import problem_text
from app.core.messages import N_, stored
from app.media.images import ImageError, UploadStore, check_image_url
from app.upstream import ImageUpload, VideoRequest

PROMPT_LIMIT = 2500
METADATA_LIMIT = 16 * 1024  # characters of the JSON box; relays pass metadata on to the provider as-is
MAX_SEED = 2**32 - 1
FORM_DEFAULTS = {"model": "kling-v1", "duration": 5, "width": 1280, "height": 720}  # an empty form starts here
METADATA_KEYS = ("negative_prompt", "style", "quality_level")
SIZE_PRESETS = (
    (1280, 720, N_("Landscape 16:9")),
    (720, 1280, N_("Portrait 9:16")),
    (1920, 1080, N_("Full HD 16:9")),
    (1080, 1920, N_("Full HD 9:16")),
    (1024, 1024, N_("Square 1:1")),
)
FIELD_ORDER = (
    "model",
    "prompt",
    "image_file",
    "image_url",
    "duration",
    "width",
    "height",
    "fps",
    "seed",
    "n",
    "response_format",
    "user",
    "negative_prompt",
    "style",
    "quality_level",
    "metadata",
)
ERROR_ORDER = (*FIELD_ORDER, "compare_mode", "compare_values")


MAX_DIGITS = 20  # a whole number of the form (seed, size, fps, n) is never longer; int() is not asked


class WholeNumberField(IntegerField):
    """An integer input whose complaint a person understands."""

    def __init__(self, *args, example: str = "30", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.example = example

    def process_formdata(self, valuelist: list) -> None:
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        text = valuelist[0].strip()
        if len(text.lstrip("+-").lstrip("0")) > MAX_DIGITS:  # checked before int(): no number here is that long
            self.data = None
            raise ValueError(
                _("That number is far too large; enter a whole number like %(example)s.", example=self.example)
            )
        try:
            self.data = int(text)
        except ValueError:
            self.data = None
            raise ValueError(
                _("Enter a whole number, like %(example)s, not “%(text)s”.", example=self.example, text=text[:20])
            ) from None


class SecondsField(FloatField):
    """A number of seconds; accepts 5, 5.5 or 5,5."""

    def process_formdata(self, valuelist: list) -> None:
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        text = valuelist[0].strip().replace(",", ".")
        try:
            self.data = float(text)
            if not math.isfinite(self.data):
                raise ValueError
        except ValueError:
            self.data = None
            raise ValueError(
                _("Enter a number of seconds, like 5, not “%(text)s”.", text=valuelist[0].strip()[:20])
            ) from None


class _RangeMessage:
    """'Width must be between 64 and 4,096.', in the reader's language when shown."""

    def __init__(self, what, low, high) -> None:
        self.what, self.low, self.high = what, low, high

    def __str__(self) -> str:
        return _(
            "%(what)s must be between %(low)s and %(high)s.",
            what=str(self.what),
            low=format_decimal(self.low),
            high=format_decimal(self.high),
        )

    def __mod__(self, values):  # WTForms formats the message with the range; ours is already whole
        return str(self)


def _range(low, high, what):
    return NumberRange(low, high, message=cast(str, _RangeMessage(what, low, high)))  # shown as str(message)


def upload_name(name: str | None, mime: str) -> str:
    """The picture's name as the person's file had it (no folders, no control characters, at most 100
    characters), or image.<ext> for its type when there is none."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if c.isprintable() and c not in '"').strip()[:100]
    return base or "image." + {"image/jpeg": "jpg", "image/webp": "webp"}.get(mime, "png")


class VideoJobForm(FlaskForm):
    """The create-video form. Hints are the contract's field descriptions."""

    model = StringField(
        _l("Model"),
        validators=[Optional(), Length(max=100, message=_l("The model id must be at most 100 characters."))],
        description=_l("Model / style ID, e.g. kling-v1."),
    )
    prompt = TextAreaField(
        _l("Prompt"),
        validators=[
            DataRequired(_l("Describe the video you want.")),
            Length(max=PROMPT_LIMIT, message=_l("The prompt must be at most 2,500 characters.")),
        ],
        description=_l("Text description of the video."),
    )
    image_file = FileField(_l("Upload an image"), description=_l("PNG, JPEG or WebP; sent as base64."))
    image_url = StringField(
        _l("…or an image address"),
        validators=[Optional(), Length(max=2000, message=_l("The image address must be at most 2,000 characters."))],
        description=_l("An http(s) URL, passed to the API unchanged."),
    )
    image_token = HiddenField()
    image_name = HiddenField()  # the uploaded file's own name, sent with it where the API reads a file
    submission_id = HiddenField()  # a one-time token: the same filled form sent twice makes one job
    image_remove = BooleanField(_l("Don't use this image"))
    duration = SecondsField(
        _l("Duration (seconds)"),
        validators=[Optional(), _range(0.5, 60, _l("Duration"))],
        description=_l("Video length in seconds; the model's own limits are under the model."),
    )
    width = WholeNumberField(
        _l("Width (px)"),
        validators=[Optional(), _range(64, 4096, _l("Width"))],
        example="1280",
        description=_l("Video width."),
        render_kw={"placeholder": _l("API default")},
    )
    height = WholeNumberField(
        _l("Height (px)"),
        validators=[Optional(), _range(64, 4096, _l("Height"))],
        example="720",
        description=_l("Video height."),
        render_kw={"placeholder": _l("API default")},
    )
    fps = WholeNumberField(
        _l("Frames per second"),
        validators=[Optional(), _range(1, 120, _l("Frames per second"))],
        description=_l("Video frame rate, e.g. 24 or 30. Empty: the API's default."),
        render_kw={"placeholder": _l("API default")},
    )
    seed = WholeNumberField(
        _l("Seed"),
        validators=[Optional(), _range(0, MAX_SEED, _l("Seed"))],
        example="42",
        description=_l("Random seed: the same seed repeats a result. Empty: random."),
        render_kw={"placeholder": _l("random")},
    )
    n = WholeNumberField(
        _l("Number of videos"),
        validators=[Optional(), _range(1, 10, _l("Number of videos"))],
        example="1",
        description=_l("How many videos to generate."),
        render_kw={"placeholder": _l("API default")},
    )
    response_format = SelectField(
        _l("Response format"),
        choices=[SelectChoice("", _l("API default")), SelectChoice("url"), SelectChoice("b64_json")],
        validators=[Optional()],
        description=_l("How the API returns the video."),
    )
    user = StringField(
        _l("User"),
        validators=[Optional(), Length(max=256, message=_l("The user id must be at most 256 characters."))],
        description=_l("An id for the person asking, e.g. user-1234."),
    )
    negative_prompt = TextAreaField(
        _l("Negative prompt"),
        validators=[
            Optional(),
            Length(max=PROMPT_LIMIT, message=_l("The negative prompt must be at most 2,500 characters.")),
        ],
        description=_l("What the video should avoid (metadata.negative_prompt)."),
    )
    style = StringField(
        _l("Style"),
        validators=[Optional(), Length(max=200, message=_l("The style must be at most 200 characters."))],
        description="metadata.style",
    )
    quality_level = StringField(
        _l("Quality level"),
        validators=[Optional(), Length(max=100, message=_l("The quality level must be at most 100 characters."))],
        description="metadata.quality_level",
    )
    metadata = TextAreaField(
        _l("More metadata (JSON)"),
        validators=[Optional()],
        description=_l(
            'Extra parameters as a JSON object, e.g. {"cfg_scale": 0.5, "mode": '
            '"pro"}. The three boxes above win over the same keys here.'
        ),
    )

    compare_mode = SelectField(
        _l("Compare"),
        choices=[
            SelectChoice("", _l("Nothing: one job")),
            SelectChoice("seeds", _l("Seeds")),
            SelectChoice("models", _l("Models")),
            SelectChoice("prompts", _l("Prompts")),
        ],
        validators=[Optional()],
        description=_l("Send a few jobs that differ in one thing, and see them side by side."),
    )
    compare_values = TextAreaField(
        _l("Values to compare"),
        validators=[
            Optional(),
            Length(max=12000, message=_l("The values to compare must be at most 12,000 characters.")),
        ],
        description=_l("Seeds like 1, 2, 3; model ids one per line; or prompts, one per line."),
    )

    checked_image = None  # set by take_image(): the CheckedImage to send
    extras_typed = {}  # the model family's extra parameters as typed {name: text}; see read_extras()
    extras_errors = {}  # {input name: message}
    extras_metadata = {}  # {provider's metadata key: value}

    def read_extras(self, profile: Profile | None, formdata: Mapping | None = None) -> bool:
        """Read the model family's extra parameters (config/model-profiles.toml) from the posted form;
        False when one is not accepted, with the message at its input."""
        self.extras_metadata, self.extras_typed, self.extras_errors = (
            profile.read_extras(request.form if formdata is None else formdata) if profile else ({}, {}, {})
        )
        return not self.extras_errors

    def fill_extras(self, profile: Profile | None, typed: dict | None) -> None:
        """Put stored extra values back into the form (a job's settings again, an example)."""
        typed = typed if isinstance(typed, dict) else {}
        if profile is not None:
            self.read_extras(profile, {e.input_name: str(typed[e.name]) for e in profile.extras if e.name in typed})

    def validate_metadata(self, field: Field) -> None:
        if len(field.data) > METADATA_LIMIT:
            raise ValidationError(
                _(
                    "Metadata may be at most %(limit)s characters; this is %(size)s.",
                    limit=format_decimal(METADATA_LIMIT),
                    size=format_decimal(len(field.data)),
                )
            )
        try:
            value = json.loads(field.data)
        except RecursionError:
            raise ValidationError(_("This JSON is nested too deeply; keep metadata to a few levels.")) from None
        except json.JSONDecodeError as exc:
            raise ValidationError(
                _(
                    "This is not valid JSON: %(reason)s at line %(line)d, column %(column)d.",
                    reason=exc.msg,
                    line=exc.lineno,
                    column=exc.colno,
                )
            ) from None
        except ValueError:  # Python refuses to read an integer of more than 4300 digits
            raise ValidationError(_("A number in this JSON is far too long.")) from None
        if not isinstance(value, dict):
            raise ValidationError(_('Metadata must be a JSON object in braces, like {"mode": "pro"}.'))

    def validate_image_url(self, field: Field) -> None:
        try:
            field.data = check_image_url(field.data)
        except ImageError as exc:
            raise ValidationError(problem_text(exc.message)) from None

    def validate(self, extra_validators: Any = None) -> bool:
        """Check every field and the rules between them; no I/O (the image is taken by take_image())."""
        ok = super().validate(extra_validators)
        if (self.width.data is None) != (self.height.data is None) and not (self.width.errors or self.height.errors):
            missing = self.height if self.width.data is not None else self.width
            missing.errors = [*missing.errors, _("Give both width and height, or neither.")]
            ok = False
        return ok

    def profile_problems(self, profile: Profile | None) -> dict[str, str]:
        """{field: message} for what this form asks that the model family does not accept."""
        if profile is None:
            return {}
        upload = self.image_file.data
        return profile.problems(
            {
                "duration": self.duration.data,
                "width": self.width.data,
                "height": self.height.data,
                "n": self.n.data,
                "image_url": self.image_url.data,
                "has_upload": bool(self.image_token.data or getattr(upload, "filename", "")),
            }
        )

    def check_profile(self, profile: Profile | None) -> bool:
        """The model family's own limits (app/catalog/profiles.py), each message at its field; True when none
        is broken."""
        problems = self.profile_problems(profile)
        for name, message in problems.items():
            self[name].errors = [*self[name].errors, message]
        return self.read_extras(profile) and not problems

    def take_image(self, uploads: UploadStore, max_bytes: int) -> bool:
        """Check and keep a new upload, or reload the one kept from an earlier try; False with an error
        at the image field when it cannot be used."""
        upload = self.image_file.data
        if self.image_remove.data:
            self.image_token.data = self.image_name.data = ""
        if upload is not None and getattr(upload, "filename", ""):
            try:
                self.checked_image = uploads.save_stream(upload.stream, max_bytes)
            except ImageError as exc:
                self.image_file.errors = [*self.image_file.errors, problem_text(exc.message)]
                return False
            self.image_token.data = self.checked_image.token
            self.image_name.data = upload_name(upload.filename, self.checked_image.mime)
        elif self.image_token.data:
            try:
                self.checked_image = uploads.load(self.image_token.data, max_bytes)
            except ImageError:
                self.checked_image = None
            if self.checked_image is None:
                self.image_token.data = ""
                self.image_file.errors = [
                    *self.image_file.errors,
                    _("The image chosen earlier is no longer available; choose it again."),
                ]
                return False
        if self.checked_image is not None and self.image_url.data:
            self.image_url.errors = [*self.image_url.errors, _("Use an uploaded image or an image address, not both.")]
            return False
        return True

    def metadata_object(self) -> dict:
        merged = json.loads(self.metadata.data) if self.metadata.data and self.metadata.data.strip() else {}
        merged.update(self.extras_metadata)
        for key in METADATA_KEYS:
            value = getattr(self, key).data
            if value and value.strip():
                merged[key] = value.strip()
        return merged

    def _image_mime(self):
        if self.checked_image is not None:
            return self.checked_image.mime
        token = self.image_token.data or ""
        return {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}.get(
            token.rsplit(".", 1)[-1], "image/png"
        )

    def image_value(self, uploads: UploadStore | None = None) -> ImageUpload | str | None:
        """The request's picture: the checked upload (with its own file name and type), the address, or None.
        A job's stored settings name an upload by token; uploads (the store) finds its file again."""
        if self.checked_image is not None:
            return ImageUpload(
                self.checked_image.path,
                self.checked_image.mime,
                upload_name(self.image_name.data, self.checked_image.mime),
            )
        if self.image_token.data and uploads is not None:
            return ImageUpload(
                uploads.path(self.image_token.data) or "",
                self._image_mime(),
                upload_name(self.image_name.data, self._image_mime()),
            )
        return (self.image_url.data or "").strip() or None

    def to_video_request(self, image_value: ImageUpload | str | None) -> VideoRequest:
        """The API request this form describes; image_value is the encoded upload or the URL."""

        def text(field: Field) -> str | None:
            return (field.data or "").strip() or None

        return VideoRequest(
            prompt=(self.prompt.data or "").strip(),
            model=text(self.model),
            image=image_value,
            duration=self.duration.data,
            width=self.width.data,
            height=self.height.data,
            fps=self.fps.data,
            seed=self.seed.data,
            n=self.n.data,
            response_format=self.response_format.data or None,
            user=text(self.user),
            metadata=self.metadata_object(),
        )

    def values(self) -> dict:
        """The form's values as they can be stored and put back into the form later."""
        values = {
            name: self[name].data for name in FIELD_ORDER if name != "image_file" and self[name].data not in (None, "")
        }
        if isinstance(values.get("duration"), float) and values["duration"].is_integer():
            values["duration"] = int(values["duration"])
        if self.extras_typed:
            values["extras"] = dict(self.extras_typed)
        if self.image_token.data:
            values["image_token"] = self.image_token.data
            values["image_name"] = upload_name(self.image_name.data, self._image_mime())
        if self.checked_image is not None and self.checked_image.warnings:
            values["image_warnings"] = [stored(w) for w in self.checked_image.warnings]
        return values

    def error_fields(self) -> list[tuple[str, Any]]:
        """(name, field) of every input with an error, in page order; extras as objects with id and errors."""
        fields = [(name, self[name]) for name in ERROR_ORDER if self[name].errors]
        extras = [(name, SimpleNamespace(id=name, errors=[message])) for name, message in self.extras_errors.items()]
        first = [f for f in fields if f[0] in ("model", "prompt")]  # extras sit just below the prompt
        return first + extras + fields[len(first) :]
