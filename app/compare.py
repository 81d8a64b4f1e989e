"""Compare: one form sent as a few jobs that differ in one thing (the seed, the model or the prompt),
shown side by side on a page of their own."""

import re

from app.forms import MAX_SEED, PROMPT_LIMIT

MAX_JOBS = 4
MODES = {"seeds": "several seeds", "models": "several models", "prompts": "several prompts, one per line"}


def variants(mode, text):
    """[{field: value}] for each job of a comparison; ValueError with a message fit for the field."""
    if mode not in MODES:
        raise ValueError("Choose what to compare: seeds, models or prompts.")
    if mode == "prompts":
        items = [" ".join(line.split()) for line in (text or "").splitlines()]
    else:
        items = re.split(r"[\s,;]+", text or "")
    items = list(dict.fromkeys(item for item in items if item))      # in order, each once
    if len(items) < 2:
        raise ValueError(f"Give at least two {mode} to compare.")
    if len(items) > MAX_JOBS:
        raise ValueError(f"At most {MAX_JOBS} jobs go at once; you gave {len(items)} {mode}.")
    if mode == "seeds":
        if not all(item.isdigit() and int(item) <= MAX_SEED for item in items):
            raise ValueError(f"Seeds are whole numbers from 0 to {MAX_SEED:,}, like 1, 2, 3.")
        return [{"seed": int(item)} for item in items]
    if mode == "models":
        if any(len(item) > 100 for item in items):
            raise ValueError("A model id has at most 100 characters.")
        return [{"model": item} for item in items]
    if any(len(item) > PROMPT_LIMIT for item in items):
        raise ValueError(f"Each prompt may be at most {PROMPT_LIMIT:,} characters.")
    return [{"prompt": item} for item in items]
