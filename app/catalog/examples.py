"""Examples shown above the form, from a data file a team can edit (examples/examples.toml)."""

import os
from dataclasses import dataclass, field

from app.catalog import data_files
from app.core.config import ConfigError
from app.core.i18n import localized_field
from app.core.messages import N_
from app.core.paths import ROOT

DEFAULT_FILE = os.path.join(ROOT, "examples", "examples.toml")
FORM_FIELDS = (
    "model",
    "prompt",
    "duration",
    "width",
    "height",
    "fps",
    "seed",
    "n",
    "negative_prompt",
    "style",
    "quality_level",
    "image_url",
)


@dataclass(frozen=True)
class Example:
    id: str
    title: str
    values: dict  # form field -> value
    image_path: str | None = None
    metadata: dict = field(default_factory=dict)
    extras: dict = field(default_factory=dict)  # the model profile's extra parameters {name: value}
    prompts: dict = field(default_factory=dict)  # the prompt in other languages {"zh": ...}

    @property
    def kind(self) -> str:
        return N_("image to video") if self.image_path or self.values.get("image_url") else N_("text to video")


def load_examples(path: str | None = None) -> list[Example]:
    """The examples in the file, checked (app/catalog/data_files.py): a broken file stops start-up with one line
    saying what is wrong and where."""
    path = path or DEFAULT_FILE
    if not os.path.exists(path):
        return []
    checked = data_files.read(path, data_files.ExamplesFile, "EXAMPLES_FILE")
    examples, folder = [], os.path.join(os.path.dirname(path), "images")
    for entry in checked.example:
        image_path = os.path.join(folder, os.path.basename(entry.image)) if entry.image else None
        if image_path and not os.path.exists(image_path):
            raise ConfigError(
                f"EXAMPLES_FILE ({path}): the picture {entry.image} of example {entry.id} is missing ({folder})"
            )
        fields = entry.model_dump()
        fields["title"] = entry.title or entry.id
        examples.append(
            Example(
                id=entry.id,
                title=localized_field(fields, "title"),
                values={k: fields[k] for k in FORM_FIELDS if fields.get(k) is not None},
                image_path=image_path,
                metadata=dict(entry.metadata),
                extras=dict(entry.extras),
                prompts={"zh": entry.prompt_zh} if entry.prompt_zh else {},
            )
        )
    return examples
