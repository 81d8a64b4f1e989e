"""What a comparison varies: the values typed for it (seeds, models or prompts) read into one change per job,
shown side by side on a page of their own."""

import re

from flask_babel import format_decimal

from app.core.i18n import gettext as _
from app.core.i18n import ngettext
from app.core.messages import N_
from app.web.forms import MAX_SEED, PROMPT_LIMIT

MAX_JOBS = 4
MODES = {
    "seeds": N_("%(prompt)s · several seeds"),
    "models": N_("%(prompt)s · several models"),  # page titles
    "prompts": N_("%(prompt)s · several prompts"),
}


def variants(mode: str | None, text: str | None) -> list[dict]:
    """[{field: value}] for each job of a comparison; ValueError with a message fit for the field."""
    if mode not in MODES:
        raise ValueError(_("Choose what to compare: seeds, models or prompts."))
    if mode == "prompts":
        items = [" ".join(line.split()) for line in (text or "").splitlines()]
    else:
        items = re.split(r"[\s,;]+", text or "")
    items = list(dict.fromkeys(item for item in items if item))  # in order, each once
    if len(items) < 2:
        raise ValueError(
            {
                "seeds": _("Give at least two seeds to compare."),
                "models": _("Give at least two models to compare."),
                "prompts": _("Give at least two prompts to compare."),
            }[mode]
        )
    if len(items) > MAX_JOBS:
        raise ValueError(_("At most %(limit)d jobs go at once; you gave %(count)d.", limit=MAX_JOBS, count=len(items)))
    if mode == "seeds":
        if not all(item.isdigit() and int(item) <= MAX_SEED for item in items):
            raise ValueError(
                _("Seeds are whole numbers from 0 to %(max)s, like 1, 2, 3.", max=format_decimal(MAX_SEED))
            )
        return [{"seed": int(item)} for item in items]
    if mode == "models":
        if any(len(item) > 100 for item in items):
            raise ValueError(_("A model id has at most 100 characters."))
        return [{"model": item} for item in items]
    if any(len(item) > PROMPT_LIMIT for item in items):
        raise ValueError(_("Each prompt may be at most %(limit)s characters.", limit=format_decimal(PROMPT_LIMIT)))
    return [{"prompt": item} for item in items]


def what_differs(records: list) -> tuple[str | None, str]:
    """(the setting the comparison's jobs differ in: seed, model or prompt, or None; the page's heading),
    read from the jobs themselves, so the heading is true whatever the form said."""
    varies = None
    for name in ("seed", "model", "prompt"):
        if len({str(r.params.get(name)) for r in records}) > 1:
            varies = name
            break
    count = len(records)
    prompts = {r.params.get("prompt") or "" for r in records}
    prompt = ellipsis(next(iter(prompts)), 80) if len(prompts) == 1 else ""
    if varies == "seed":
        heading = ngettext("%(num)d seed of “%(prompt)s”", "%(num)d seeds of “%(prompt)s”", count, prompt=prompt)
    elif varies == "model":
        heading = ngettext("%(num)d model on “%(prompt)s”", "%(num)d models on “%(prompt)s”", count, prompt=prompt)
    elif varies == "prompt":
        heading = ngettext("%(num)d prompt", "%(num)d prompts", count)
    else:
        heading = ngettext("%(num)d job of “%(prompt)s”", "%(num)d jobs of “%(prompt)s”", count, prompt=prompt)
    return varies, heading


def card_heading(record, varies: str | None) -> str | None:
    """What heads a comparison's card: the value that makes it differ from the others."""
    if varies == "seed":
        return _("Seed %(seed)s", seed=record.params.get("seed"))
    if varies == "model":
        return str(record.params.get("model") or "")
    if varies == "prompt":
        return ellipsis(record.params.get("prompt") or "", 60)
    return None


def ellipsis(text: str, limit: int) -> str:
    """text on one line, cut at a word where it can, with "…" when it was cut."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:，。") + "…"
