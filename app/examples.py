"""Examples shown above the form, from a data file a team can edit (examples/examples.toml)."""

import os
import re
import tomllib
from dataclasses import dataclass, field

from app.config import ConfigError
from app.i18n import localized_field
from app.problems import N_

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_FILE = os.path.join(ROOT, "examples", "examples.toml")
FORM_FIELDS = ("model", "prompt", "duration", "width", "height", "fps", "seed", "n", "negative_prompt", "style",
               "quality_level", "image_url")
ID = re.compile(r"\A[a-z0-9][a-z0-9-]{0,63}\Z")


@dataclass(frozen=True)
class Example:
    id: str
    title: str
    values: dict                 # form field -> value
    image_path: str | None = None
    metadata: dict = field(default_factory=dict)
    extras: dict = field(default_factory=dict)     # the model profile's extra parameters {name: value}

    @property
    def kind(self):
        return N_("image to video") if self.image_path or self.values.get("image_url") else N_("text to video")


def load_examples(path=None):
    """The examples in the file; a broken file stops start-up with one line saying what is wrong."""
    path = path or DEFAULT_FILE
    if not os.path.exists(path):
        return []
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"EXAMPLES_FILE cannot be read ({path}): {exc}") from None
    examples, folder = [], os.path.join(os.path.dirname(path), "images")
    for entry in data.get("example", []):
        if not isinstance(entry, dict) or not ID.match(str(entry.get("id", ""))) or not entry.get("prompt"):
            raise ConfigError(f"EXAMPLES_FILE: every example needs an id (a-z, 0-9, -) and a prompt ({path})")
        image = entry.get("image")
        image_path = os.path.join(folder, os.path.basename(str(image))) if image else None
        if image_path and not os.path.exists(image_path):
            raise ConfigError(f"EXAMPLES_FILE: the picture {image} of example {entry['id']} is missing ({folder})")
        metadata = entry.get("metadata") if isinstance(entry.get("metadata"), dict) else {}
        entry.setdefault("title", entry["id"])
        examples.append(Example(id=entry["id"], title=localized_field(entry, "title"),
                                values={k: entry[k] for k in FORM_FIELDS if k in entry},
                                image_path=image_path, metadata=metadata,
                                extras=entry["extras"] if isinstance(entry.get("extras"), dict) else {}))
    return examples
