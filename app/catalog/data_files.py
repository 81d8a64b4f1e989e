"""The data files a team edits (config/model-profiles.toml, examples/examples.toml), checked when they are
read: every key known, every value of its type. A misspelt key or a value of the wrong type stops start-up
with one line naming the file, the entry and the key, rather than being ignored or failing on a request."""

import tomllib
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from app.core.config import ConfigError

Text = Annotated[str, StringConstraints(strip_whitespace=True)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Scalar = bool | int | float | str


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ExtraEntry(_Entry):
    """A provider parameter of a model family ([[profile.extras]])."""

    name: Name
    key: Name | None = None
    label: Text | None = None
    label_zh: Text | None = None
    hint: Text = ""
    hint_zh: Text | None = None
    type: Literal["choice", "number", "text", "json"] = "text"
    choices: list[Scalar] = []
    min: float | None = None
    max: float | None = None
    default: Scalar | None = None

    @model_validator(mode="after")
    def _choices_for_a_choice(self):
        if self.type == "choice" and not self.choices:
            raise ValueError("a choice needs choices")
        return self


class PriceEntry(_Entry):
    """A price for one size of a model family ([profile.prices."1920x1080"]), over the family's own."""

    price_per_second: float | None = Field(default=None, ge=0)
    price_per_video: float | None = Field(default=None, ge=0)


class ProfileEntry(_Entry):
    """A model family ([[profile]])."""

    id: Name
    label: Text | None = None
    label_zh: Text | None = None
    models: list[Name] = Field(min_length=1)
    durations: list[int | float] = []
    sizes: list[Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,4}x[1-9][0-9]{0,4}$")]] = []
    max_n: int | None = Field(default=None, ge=1)
    max_seconds: float | None = Field(default=None, gt=0)  # the longest video, when any length up to it goes
    max_side: int | None = Field(default=None, ge=1)  # the largest width and height in px, when any size up to it goes
    image: Literal["any", "upload", "none"] = "any"
    extras: list[ExtraEntry] = []
    # What a video costs, in `currency` (e.g. "CNY"): per second of video and/or per video, with
    # overrides by size. No price: "price unknown", never zero.
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
    price_per_second: float | None = Field(default=None, ge=0)
    price_per_video: float | None = Field(default=None, ge=0)
    prices: dict[Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,4}x[1-9][0-9]{0,4}$")], PriceEntry] = {}

    @model_validator(mode="after")
    def _a_price_has_a_currency(self):
        priced = self.price_per_second is not None or self.price_per_video is not None or self.prices
        if priced and not self.currency:
            raise ValueError('a price needs its currency (e.g. currency = "CNY")')
        return self


class ProfilesFile(_Entry):
    profile: list[ProfileEntry] = []


class ExampleEntry(_Entry):
    """An example above the form ([[example]])."""

    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
    title: Text | None = None
    title_zh: Text | None = None
    prompt: Name
    prompt_zh: Name | None = None  # the prompt on the Chinese page (else the prompt as it is)
    model: Name | None = None
    duration: int | float | None = None
    width: int | None = Field(default=None, ge=1)
    height: int | None = Field(default=None, ge=1)
    fps: int | None = Field(default=None, ge=1)
    seed: int | None = None
    n: int | None = Field(default=None, ge=1)
    negative_prompt: Text | None = None
    style: Text | None = None
    quality_level: Text | None = None
    image: Name | None = None
    image_url: Name | None = None
    extras: dict[str, Scalar] = {}
    metadata: dict[str, object] = {}


class ExamplesFile(_Entry):
    example: list[ExampleEntry] = []


Checked = TypeVar("Checked", bound=_Entry)


def read(path: str, schema: type[Checked], variable: str) -> Checked:
    """The file at path checked against schema; ConfigError with one line saying what is wrong, and where."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{variable} cannot be read ({path}): {exc}") from None
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{variable} ({path}): {describe(exc, data)}") from None


def describe(exc: ValidationError, data: dict) -> str:
    """The first problem as a person reads it: 'profile 2 (kling), extras 1 (mode), key "lable": not a known
    key', and how many more there are."""
    errors = exc.errors()
    first = errors[0]
    where, node = [], data
    for step in first["loc"]:
        if isinstance(step, int) and isinstance(node, list) and step < len(node):
            node = node[step]
            named = node.get("id") or node.get("name") if isinstance(node, dict) else None
            where[-1] = f"{where[-1]} {step + 1}" + (f" ({named})" if named else "")
        elif isinstance(step, str):
            where.append(step)
            node = node.get(step) if isinstance(node, dict) else None
    message = first["msg"].removeprefix("Value error, ")
    on_a_key = bool(first["loc"]) and isinstance(first["loc"][-1], str)
    if first["type"] == "extra_forbidden":
        problem = f'key "{where.pop()}" is not a known key (a misspelling?)'
    elif on_a_key:
        problem = f'key "{where.pop()}": {message[0].lower() + message[1:]}'
        if "input" in first and not isinstance(first["input"], dict | list):
            problem += f" (found {first['input']!r})"
    else:
        problem = message[0].lower() + message[1:]
    more = f"; and {len(errors) - 1} more" if len(errors) > 1 else ""
    return ", ".join([*where, problem]) + more
