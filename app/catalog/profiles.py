"""Model profiles from an editable data file (config/model-profiles.toml): what each model family accepts.
The server checks a form against the profile its model matches; the page's script gets the same data."""

import fnmatch
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from flask_babel import format_decimal

from app.catalog import data_files
from app.catalog.prices import Estimate, Price, estimate
from app.core.i18n import gettext as _
from app.core.i18n import localized, localized_field, ngettext
from app.core.paths import ROOT

DEFAULT_FILE = os.path.join(ROOT, "config", "model-profiles.toml")
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
    def input_name(self) -> str:
        """The form input's name and id, unique across profiles."""
        return f"x-{self.profile}-{self.name}"

    def read(self, raw: str | None) -> object:
        """The value to send for what was typed (None: leave it to the API); ValueError with a message."""
        raw = (raw or "").strip()
        if not raw:
            return None
        if self.type == "choice":
            if raw not in [str(c) for c in self.choices]:
                raise ValueError(
                    _(
                        "%(field)s: choose one of %(choices)s.",
                        field=localized(self.label),
                        choices=_either([str(c) for c in self.choices]),
                    )
                )
            return {"true": True, "false": False}.get(raw, raw)
        if self.type == "number":
            try:
                value = float(raw.replace(",", "."))
            except ValueError:
                raise ValueError(
                    _(
                        "%(field)s: enter a number, like %(example)s.",
                        field=localized(self.label),
                        example=self.default or 1,
                    )
                ) from None
            if (
                value != value
                or (self.min is not None and value < self.min)
                or (self.max is not None and value > self.max)
            ):
                low = "" if self.min is None else f"{self.min:g}"
                high = "" if self.max is None else f"{self.max:g}"
                raise ValueError(
                    _(
                        "%(field)s must be a number from %(low)s to %(high)s.",
                        field=localized(self.label),
                        low=low or "−∞",
                        high=high or "∞",
                    )
                )
            return int(value) if value.is_integer() and not isinstance(self.default, float) else value
        if len(raw) > EXTRA_TEXT_LIMIT:
            raise ValueError(
                _(
                    "%(field)s may be at most %(limit)s characters.",
                    field=localized(self.label),
                    limit=format_decimal(EXTRA_TEXT_LIMIT),
                )
            )
        if self.type == "json":
            try:
                value = json.loads(raw)
            except (ValueError, RecursionError):
                raise ValueError(
                    _('%(field)s: this is not valid JSON, like {"type": "simple"}.', field=localized(self.label))
                ) from None
            if not isinstance(value, dict):
                raise ValueError(
                    _(
                        '%(field)s must be a JSON object in braces, like {"type": "simple"}.',
                        field=localized(self.label),
                    )
                )
            return value
        return raw

    def as_json(self) -> dict:
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
    max_seconds: float | None = None
    max_side: int | None = None
    price: Price | None = None

    def estimate(self, values: dict) -> Estimate | None:
        """What a job with these form values would cost at this family's price (None: unknown)."""
        width, height = values.get("width"), values.get("height")
        seconds = values.get("duration")
        if seconds is None and len(self.durations) == 1:
            seconds = self.durations[0]  # the only length it makes
        return estimate(self.price, seconds, f"{width}x{height}" if width and height else None, values.get("n"))

    def matches(self, model: str) -> bool:
        return any(fnmatch.fnmatchcase(model.lower(), pattern.lower()) for pattern in self.models)

    def problems(self, values: dict) -> dict[str, str]:
        """{form field: message} for the values this family does not accept."""
        found = {}
        duration = values.get("duration")
        if self.durations and duration is not None and float(duration) not in [float(d) for d in self.durations]:
            found["duration"] = _(
                "%(family)s makes videos of %(durations)s seconds.",
                family=localized(self.label),
                durations=_either(self.durations),
            )
        if self.max_seconds is not None and duration is not None and float(duration) > self.max_seconds:
            found["duration"] = _(
                "%(family)s makes videos of at most %(max)s seconds.",
                family=localized(self.label),
                max=f"{self.max_seconds:g}",
            )
        width, height = values.get("width"), values.get("height")
        for name, side in (("width", width), ("height", height)):
            if self.max_side is not None and side and int(side) > self.max_side:
                found[name] = _(
                    "%(family)s makes videos at most %(max)d px wide and high.",
                    family=localized(self.label),
                    max=self.max_side,
                )
        if self.sizes and width and height and f"{width}x{height}" not in self.sizes:
            found["width"] = _(
                "%(family)s takes these sizes: %(sizes)s.", family=localized(self.label), sizes=", ".join(self.sizes)
            )
        if self.max_n is not None and (values.get("n") or 1) > self.max_n:
            found["n"] = ngettext(
                "%(family)s makes at most %(num)d video per job.",
                "%(family)s makes at most %(num)d videos per job.",
                self.max_n,
                family=localized(self.label),
            )
        if self.image == "none" and (values.get("image_url") or values.get("has_upload")):
            found["image_url" if values.get("image_url") else "image_file"] = _(
                "%(family)s takes no starting image.", family=localized(self.label)
            )
        if self.image == "upload" and values.get("image_url"):
            found["image_url"] = _(
                "%(family)s does not take image addresses: upload the picture instead.", family=localized(self.label)
            )
        return found

    def read_extras(self, formdata: Mapping) -> tuple[dict, dict, dict[str, str]]:
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

    def summary(self) -> str:
        """The family's limits in one line, for the hint under the model."""
        parts = []
        if self.durations:
            parts.append(f"{_either(self.durations)} s")
        if self.max_seconds is not None:
            parts.append(_("up to %(max)s s", max=f"{self.max_seconds:g}"))
        if self.max_side is not None:
            parts.append(_("sides up to %(max)d px", max=self.max_side))
        if self.sizes:
            parts.append(_("sizes %(sizes)s", sizes=", ".join(self.sizes)))
        if self.max_n is not None:
            parts.append(ngettext("at most %(num)d video per job", "at most %(num)d videos per job", self.max_n))
        parts.append(
            {
                "any": _("a starting image as upload or address"),
                "upload": _("a starting image as upload only"),
                "none": _("no starting image"),
            }[self.image]
        )
        return _("%(parts)s.", parts=_("; ").join(parts))

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "label": localized(self.label),
            "models": list(self.models),
            "durations": list(self.durations),
            "sizes": list(self.sizes),
            "max_n": self.max_n,
            "max_seconds": self.max_seconds,
            "price": self.price.as_json() if self.price else None,
            "max_side": self.max_side,
            "image": self.image,
            "summary": self.summary(),
            "extras": [e.as_json() for e in self.extras],
        }


class Profiles:
    """The profiles of a file, in order; the first that matches a model id wins."""

    def __init__(self, profiles) -> None:
        self.all = tuple(profiles)

    def match(self, model: str | None) -> "Profile | None":
        model = (model or "").strip()
        return next((p for p in self.all if model and p.matches(model)), None)

    @property
    def currency(self) -> str:
        """The prices' currency (the first priced profile's; budgets are in it), or "" when none is priced."""
        return next((p.price.currency for p in self.all if p.price), "")

    def priced(self, values: dict) -> dict:
        """The job's values with "estimate": what sending them costs at their model's price, or None (price
        unknown). Kept with the job, so a price changed later does not rewrite what it cost."""
        profile = self.match(values.get("model"))
        found = profile.estimate(values) if profile is not None else None
        return {**values, "estimate": found.as_dict() if found else None}


def load_profiles(path: str | None = None) -> Profiles:
    """The profiles in the file, checked (app/catalog/data_files.py): a wrong key or type stops start-up."""
    path = path or DEFAULT_FILE
    if not os.path.exists(path):
        return Profiles([])
    checked = data_files.read(path, data_files.ProfilesFile, "MODEL_PROFILES_FILE")
    return Profiles([_profile(entry) for entry in checked.profile])


def _profile(entry):
    fields = entry.model_dump()
    fields["label"] = entry.label or entry.id
    return Profile(
        id=entry.id,
        label=localized_field(fields, "label"),
        models=tuple(entry.models),
        durations=tuple(entry.durations),
        sizes=tuple(entry.sizes),
        max_n=entry.max_n,
        max_seconds=entry.max_seconds,
        max_side=entry.max_side,
        price=_price(entry),
        image=entry.image,
        extras=tuple(_extra(entry.id, extra) for extra in entry.extras),
    )


def _price(entry):
    if not entry.currency:
        return None
    return Price(
        currency=entry.currency,
        per_second=entry.price_per_second,
        per_video=entry.price_per_video,
        by_size={size: (p.price_per_second, p.price_per_video) for size, p in entry.prices.items()},
    )


def _extra(profile, entry):
    fields = entry.model_dump()
    fields["label"] = entry.label or entry.name
    return Extra(
        profile=profile,
        name=entry.name,
        key=entry.key or entry.name,
        label=localized_field(fields, "label"),
        type=entry.type,
        hint=localized_field(fields, "hint"),
        choices=tuple(entry.choices),
        min=entry.min,
        max=entry.max,
        default=entry.default,
    )


def _either(values):
    values = [f"{v:g}" if isinstance(v, float) else str(v) for v in values]
    if len(values) == 1:
        return values[0]
    return _("%(first)s or %(last)s", first=_(", ").join(values[:-1]), last=values[-1])
