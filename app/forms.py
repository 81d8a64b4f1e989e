"""VideoJobForm: one input per API field, named as the API names them; cross-field rules in validate()."""

import json
import math
from types import SimpleNamespace

from flask import request
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    FloatField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from app.images import ImageError, check_image_url
from app.upstream import VideoRequest

PROMPT_LIMIT = 2500
METADATA_LIMIT = 16 * 1024       # characters of the JSON box; relays pass metadata on to the provider as-is
MAX_SEED = 2**32 - 1
FORM_DEFAULTS = {"model": "kling-v1", "duration": 5, "width": 1280, "height": 720}   # an empty form starts here
METADATA_KEYS = ("negative_prompt", "style", "quality_level")
SIZE_PRESETS = ((1280, 720, "Landscape 16:9"), (720, 1280, "Portrait 9:16"), (1920, 1080, "Full HD 16:9"),
                (1080, 1920, "Full HD 9:16"), (1024, 1024, "Square 1:1"))
FIELD_ORDER = ("model", "prompt", "image_file", "image_url", "duration", "width", "height", "fps", "seed", "n",
               "response_format", "user", "negative_prompt", "style", "quality_level", "metadata")
ERROR_ORDER = (*FIELD_ORDER, "compare_mode", "compare_values")


class WholeNumberField(IntegerField):
    """An integer input whose complaint a person understands."""

    def __init__(self, *args, example="30", **kwargs):
        super().__init__(*args, **kwargs)
        self.example = example

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        text = valuelist[0].strip()
        try:
            self.data = int(text)
        except ValueError:
            self.data = None
            raise ValueError(f"Enter a whole number, like {self.example}, not “{text[:20]}”.") from None


class SecondsField(FloatField):
    """A number of seconds; accepts 5, 5.5 or 5,5."""

    def process_formdata(self, valuelist):
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
            raise ValueError(f"Enter a number of seconds, like 5, not “{valuelist[0].strip()[:20]}”.") from None


def _range(low, high, what):
    return NumberRange(low, high, message=f"{what} must be between {low:,} and {high:,}.")


class VideoJobForm(FlaskForm):
    """The create-video form. Hints are the contract's field descriptions."""

    model = StringField("Model", validators=[Optional(), Length(max=100)],
                        description="Model / style ID (模型/风格 ID), e.g. kling-v1.")
    prompt = TextAreaField("Prompt", validators=[
        DataRequired("Describe the video you want."),
        Length(max=PROMPT_LIMIT, message=f"The prompt must be at most {PROMPT_LIMIT:,} characters.")],
                           description="Text description of the video (文本描述提示词).")
    image_file = FileField("Upload an image", description="PNG, JPEG or WebP; sent as base64 (图片输入).")
    image_url = StringField("…or an image address", validators=[Optional(), Length(max=2000)],
                            description="An http(s) URL, passed to the API unchanged (图片输入 URL).")
    image_token = HiddenField()
    submission_id = HiddenField()   # a one-time token: the same filled form sent twice makes one job
    image_remove = BooleanField("Don't use this image")
    duration = SecondsField("Duration (seconds)", validators=[Optional(), _range(0.5, 60, "Duration")],
                            description="Video length in seconds (视频时长). Kling: 5 or 10.")
    width = WholeNumberField("Width (px)", validators=[Optional(), _range(64, 4096, "Width")], example="1280",
                             description="Video width (视频宽度).", render_kw={"placeholder": "API default"})
    height = WholeNumberField("Height (px)", validators=[Optional(), _range(64, 4096, "Height")], example="720",
                              description="Video height (视频高度).", render_kw={"placeholder": "API default"})
    fps = WholeNumberField("Frames per second", validators=[Optional(), _range(1, 120, "Frames per second")],
                           description="Video frame rate (视频帧率), e.g. 24 or 30. Empty: the API's default.",
                           render_kw={"placeholder": "API default"})
    seed = WholeNumberField("Seed", validators=[Optional(), _range(0, MAX_SEED, "Seed")], example="42",
                            description="Random seed (随机种子): the same seed repeats a result. Empty: random.",
                            render_kw={"placeholder": "random"})
    n = WholeNumberField("Number of videos", validators=[Optional(), _range(1, 10, "Number of videos")], example="1",
                         description="How many videos to generate (生成视频数量).",
                         render_kw={"placeholder": "API default"})
    response_format = SelectField("Response format", choices=[SelectChoice("", "API default"), SelectChoice("url"),
                                                              SelectChoice("b64_json")],
                                  validators=[Optional()], description="Response format (响应格式).")
    user = StringField("User", validators=[Optional(), Length(max=256)],
                       description="An id for the person asking (用户标识), e.g. user-1234.")
    negative_prompt = TextAreaField("Negative prompt", validators=[Optional(), Length(max=PROMPT_LIMIT)],
                                    description="What the video should avoid (metadata.negative_prompt).")
    style = StringField("Style", validators=[Optional(), Length(max=200)], description="metadata.style")
    quality_level = StringField("Quality level", validators=[Optional(), Length(max=100)],
                                description="metadata.quality_level")
    metadata = TextAreaField("More metadata (JSON)", validators=[Optional()],
                             description="Extra parameters as a JSON object (扩展参数), e.g. "
                                         '{"cfg_scale": 0.5, "mode": "pro"}. The three boxes above win over '
                                         "the same keys here.")

    compare_mode = SelectField("Compare", choices=[
        SelectChoice("", "Nothing: one job"), SelectChoice("seeds", "Seeds"), SelectChoice("models", "Models"),
        SelectChoice("prompts", "Prompts")],
                               validators=[Optional()],
                               description="Send a few jobs that differ in one thing, and see them side by side.")
    compare_values = TextAreaField("Values to compare", validators=[Optional(), Length(max=12000)],
                                   description="Seeds like 1, 2, 3; model ids one per line; or prompts, one per line.")

    checked_image = None  # set by take_image(): the CheckedImage to send
    extras_typed = {}     # the model family's extra parameters as typed {name: text}; see read_extras()
    extras_errors = {}    # {input name: message}
    extras_metadata = {}  # {provider's metadata key: value}

    def read_extras(self, profile, formdata=None):
        """Read the model family's extra parameters (config/model-profiles.toml) from the posted form;
        False when one is not accepted, with the message at its input."""
        self.extras_metadata, self.extras_typed, self.extras_errors = (
            profile.read_extras(request.form if formdata is None else formdata) if profile else ({}, {}, {}))
        return not self.extras_errors

    def fill_extras(self, profile, typed):
        """Put stored extra values back into the form (a job's settings again, an example)."""
        typed = typed if isinstance(typed, dict) else {}
        if profile is not None:
            self.read_extras(profile, {e.input_name: str(typed[e.name]) for e in profile.extras if e.name in typed})

    def validate_metadata(self, field):
        if len(field.data) > METADATA_LIMIT:
            raise ValidationError(f"Metadata may be at most {METADATA_LIMIT:,} characters; this is "
                                  f"{len(field.data):,}.")
        try:
            value = json.loads(field.data)
        except RecursionError:
            raise ValidationError("This JSON is nested too deeply; keep metadata to a few levels.") from None
        except ValueError as exc:
            raise ValidationError(f"This is not valid JSON: {exc.msg} at line {exc.lineno}, "
                                  f"column {exc.colno}.") from None
        if not isinstance(value, dict):
            raise ValidationError('Metadata must be a JSON object in braces, like {"mode": "pro"}.')

    def validate_image_url(self, field):
        try:
            field.data = check_image_url(field.data)
        except ImageError as exc:
            raise ValidationError(str(exc)) from None

    def validate(self, extra_validators=None):
        """Check every field and the rules between them; no I/O (the image is taken by take_image())."""
        ok = super().validate(extra_validators)
        if (self.width.data is None) != (self.height.data is None) and not (self.width.errors or self.height.errors):
            missing = self.height if self.width.data is not None else self.width
            missing.errors.append("Give both width and height, or neither.")
            ok = False
        return ok

    def profile_problems(self, profile):
        """{field: message} for what this form asks that the model family does not accept."""
        if profile is None:
            return {}
        upload = self.image_file.data
        return profile.problems({
            "duration": self.duration.data, "width": self.width.data, "height": self.height.data,
            "n": self.n.data, "image_url": self.image_url.data,
            "has_upload": bool(self.image_token.data or getattr(upload, "filename", ""))})

    def check_profile(self, profile):
        """The model family's own limits (app/profiles.py), each message at its field; True when none is broken."""
        problems = self.profile_problems(profile)
        for name, message in problems.items():
            self[name].errors = [*self[name].errors, message]
        return self.read_extras(profile) and not problems

    def take_image(self, uploads, max_bytes):
        """Check and keep a new upload, or reload the one kept from an earlier try; False with an error
        at the image field when it cannot be used."""
        upload = self.image_file.data
        if self.image_remove.data:
            self.image_token.data = ""
        if upload is not None and getattr(upload, "filename", ""):
            try:
                self.checked_image = uploads.save_stream(upload.stream, max_bytes)
            except ImageError as exc:
                self.image_file.errors.append(str(exc))
                return False
            self.image_token.data = self.checked_image.token
        elif self.image_token.data:
            try:
                self.checked_image = uploads.load(self.image_token.data, max_bytes)
            except ImageError:
                self.checked_image = None
            if self.checked_image is None:
                self.image_token.data = ""
                self.image_file.errors.append("The image chosen earlier is no longer available; choose it again.")
                return False
        if self.checked_image is not None and self.image_url.data:
            self.image_url.errors.append("Use an uploaded image or an image address, not both.")
            return False
        return True

    def metadata_object(self):
        merged = json.loads(self.metadata.data) if self.metadata.data and self.metadata.data.strip() else {}
        merged.update(self.extras_metadata)
        for key in METADATA_KEYS:
            value = getattr(self, key).data
            if value and value.strip():
                merged[key] = value.strip()
        return merged

    def to_video_request(self, image_value):
        """The API request this form describes; image_value is the encoded upload or the URL."""
        def text(field):
            return (field.data or "").strip() or None
        return VideoRequest(
            prompt=self.prompt.data.strip(), model=text(self.model), image=image_value,
            duration=self.duration.data, width=self.width.data, height=self.height.data,
            fps=self.fps.data, seed=self.seed.data, n=self.n.data,
            response_format=self.response_format.data or None, user=text(self.user),
            metadata=self.metadata_object())

    def values(self):
        """The form's values as they can be stored and put back into the form later."""
        values = {name: self[name].data for name in FIELD_ORDER
                  if name != "image_file" and self[name].data not in (None, "")}
        if isinstance(values.get("duration"), float) and values["duration"].is_integer():
            values["duration"] = int(values["duration"])
        if self.extras_typed:
            values["extras"] = dict(self.extras_typed)
        if self.image_token.data:
            values["image_token"] = self.image_token.data
        if self.checked_image is not None and self.checked_image.warnings:
            values["image_warnings"] = self.checked_image.warnings
        return values

    def error_fields(self):
        """(name, field) of every input with an error, in page order; extras as objects with id and errors."""
        fields = [(name, self[name]) for name in ERROR_ORDER if self[name].errors]
        extras = [(name, SimpleNamespace(id=name, errors=[message])) for name, message in self.extras_errors.items()]
        first = [f for f in fields if f[0] in ("model", "prompt")]        # extras sit just below the prompt
        return first + extras + fields[len(first):]
