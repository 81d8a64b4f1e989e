"""Model profiles from an editable data file (config/model-profiles.toml): what each model family accepts.
The server checks a form against the profile its model matches; the page's script gets the same data."""

import fnmatch
import json
import os
import tomllib
from dataclasses import dataclass, field

from app.config import ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_FILE = os.path.join(ROOT, "config", "model-profiles.toml")
IMAGE_RULES = ("any", "upload", "none")
EXTRA_TYPES = ("choice", "number", "text", "json")
EXTRA_TEXT_LIMIT = 2500


@dataclass(frozen=True)
class Extra:
    """One provider parameter a family understands, sent as metadata[key]; empty means the API's default."""
    profile: str
    name: str
    key: str
    label: str
    type: str = "text"
    hint: str = ""
    choices: tuple = ()
    min: float | None = None
    max: float | None = None
    default: object = None

    @property
    def input_name(self):
        """The form input's name and id, unique across profiles."""
        return f"x-{self.profile}-{self.name}"

    def read(self, raw):
        """The value to send for what was typed (None: leave it to the API); ValueError with a message."""
        raw = (raw or "").strip()
        if not raw:
            return None
        if self.type == "choice":
            if raw not in [str(c) for c in self.choices]:
                raise ValueError(f"{self.label}: choose one of {_either([str(c) for c in self.choices])}.")
            return {"true": True, "false": False}.get(raw, raw)
        if self.type == "number":
            try:
                value = float(raw.replace(",", "."))
            except ValueError:
                raise ValueError(f"{self.label}: enter a number, like {self.default or 1}.") from None
            if value != value or (self.min is not None and value < self.min) or (
                    self.max is not None and value > self.max):
                low = "" if self.min is None else f"{self.min:g}"
                high = "" if self.max is None else f"{self.max:g}"
                raise ValueError(f"{self.label} must be a number from {low or '−∞'} to {high or '∞'}.")
            return int(value) if value.is_integer() and not isinstance(self.default, float) else value
        if len(raw) > EXTRA_TEXT_LIMIT:
            raise ValueError(f"{self.label} may be at most {EXTRA_TEXT_LIMIT:,} characters.")
        if self.type == "json":
            try:
                value = json.loads(raw)
            except (ValueError, RecursionError):
                raise ValueError(f'{self.label}: this is not valid JSON, like {{"type": "simple"}}.') from None
            if not isinstance(value, dict):
                raise ValueError(f'{self.label} must be a JSON object in braces, like {{"type": "simple"}}.')
            return value
        return raw

    def as_json(self):
        return {"name": self.name, "input": self.input_name, "key": self.key}


@dataclass(frozen=True)
class Profile:
    id: str
    label: str
    models: tuple
    durations: tuple = ()
    sizes: tuple = ()
    max_n: int | None = None
    image: str = "any"
    extras: tuple = field(default_factory=tuple)

    def matches(self, model):
        return any(fnmatch.fnmatchcase(model.lower(), pattern.lower()) for pattern in self.models)

    def problems(self, values):
        """{form field: message} for the values this family does not accept."""
        found = {}
        duration = values.get("duration")
        if self.durations and duration is not None and float(duration) not in [float(d) for d in self.durations]:
            found["duration"] = f"{self.label} makes videos of {_either(self.durations)} seconds."
        width, height = values.get("width"), values.get("height")
        if self.sizes and width and height and f"{width}x{height}" not in self.sizes:
            found["width"] = f"{self.label} takes these sizes: {', '.join(self.sizes)}."
        if self.max_n is not None and (values.get("n") or 1) > self.max_n:
            found["n"] = f"{self.label} makes at most {self.max_n} video{'s' if self.max_n > 1 else ''} per job."
        if self.image == "none" and (values.get("image_url") or values.get("has_upload")):
            found["image_url" if values.get("image_url") else "image_file"] = f"{self.label} takes no starting image."
        if self.image == "upload" and values.get("image_url"):
            found["image_url"] = f"{self.label} does not take image addresses: upload the picture instead."
        return found

    def read_extras(self, formdata):
        """(metadata to send, what was typed, {input name: message}) for this family's extra parameters."""
        metadata, typed, errors = {}, {}, {}
        for extra in self.extras:
            raw = (formdata.get(extra.input_name) or "").strip()
            if not raw:
                continue
            typed[extra.name] = raw
            try:
                metadata[extra.key] = extra.read(raw)
            except ValueError as exc:
                errors[extra.input_name] = str(exc)
        return metadata, typed, errors

    def summary(self):
        """The family's limits in one line, for the hint under the model."""
        parts = []
        if self.durations:
            parts.append(f"{_either(self.durations)} s")
        if self.sizes:
            parts.append("sizes " + ", ".join(self.sizes))
        if self.max_n is not None:
            parts.append(f"at most {self.max_n} video{'s' if self.max_n > 1 else ''} per job")
        parts.append({"any": "a starting image as upload or address", "upload": "a starting image as upload only",
                      "none": "no starting image"}[self.image])
        return "; ".join(parts) + "."

    def as_json(self):
        return {"id": self.id, "label": self.label, "models": list(self.models), "durations": list(self.durations),
                "sizes": list(self.sizes), "max_n": self.max_n, "image": self.image, "summary": self.summary(),
                "extras": [e.as_json() for e in self.extras]}


class Profiles:
    """The profiles of a file, in order; the first that matches a model id wins."""

    def __init__(self, profiles):
        self.all = tuple(profiles)

    def match(self, model):
        model = (model or "").strip()
        return next((p for p in self.all if model and p.matches(model)), None)


def load_profiles(path=None):
    path = path or DEFAULT_FILE
    if not os.path.exists(path):
        return Profiles([])
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"MODEL_PROFILES_FILE cannot be read ({path}): {exc}") from None
    profiles = []
    for entry in data.get("profile", []):
        if not isinstance(entry, dict) or not entry.get("id") or not entry.get("models"):
            raise ConfigError(f"MODEL_PROFILES_FILE: every profile needs an id and models ({path})")
        if entry.get("image", "any") not in IMAGE_RULES:
            raise ConfigError(f"MODEL_PROFILES_FILE: profile {entry['id']}: image must be one of {IMAGE_RULES}")
        profiles.append(Profile(id=str(entry["id"]), label=str(entry.get("label") or entry["id"]),
                                models=tuple(str(m) for m in entry["models"]),
                                durations=tuple(entry.get("durations", ())), sizes=tuple(entry.get("sizes", ())),
                                max_n=entry.get("max_n"), image=entry.get("image", "any"),
                                extras=tuple(_extra(entry["id"], e, path) for e in entry.get("extras", ()))))
    return Profiles(profiles)


def _extra(profile, entry, path):
    if not isinstance(entry, dict) or not entry.get("name") or entry.get("type", "text") not in EXTRA_TYPES:
        raise ConfigError(f"MODEL_PROFILES_FILE: profile {profile}: every extra needs a name and a type among "
                          f"{EXTRA_TYPES} ({path})")
    if entry.get("type") == "choice" and not entry.get("choices"):
        raise ConfigError(f"MODEL_PROFILES_FILE: profile {profile}: extra {entry['name']} needs choices")
    return Extra(profile=str(profile), name=str(entry["name"]), key=str(entry.get("key") or entry["name"]),
                 label=str(entry.get("label") or entry["name"]), type=entry.get("type", "text"),
                 hint=str(entry.get("hint", "")), choices=tuple(entry.get("choices", ())),
                 min=entry.get("min"), max=entry.get("max"), default=entry.get("default"))


def _either(values):
    values = [f"{v:g}" if isinstance(v, float) else str(v) for v in values]
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " or " + values[-1]
