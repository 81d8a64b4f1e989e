"""Presentation mode: finished videos picked in the history (or a comparison's), on a page of their own
for a meeting room's screen: one at a time or side by side, each with its prompt in large type; the arrow
keys move between them (static/js/present.js), and the links do the same without the script."""

from flask import Blueprint, abort, render_template, request
from flask.typing import ResponseReturnValue

from app.core.messages import N_, Problem
from app.services import services
from app.web.comparisons import card_heading, what_differs

bp = Blueprint("present", __name__)
MAX_VIDEOS = 12
LAYOUTS = ("one", "side")


@bp.get("/present")
def presentation() -> ResponseReturnValue:
    ids = list(dict.fromkeys(i for i in request.args.getlist("id") if i))[:MAX_VIDEOS]
    found = {r.id: r for r in services().store.get_many(ids)}
    records = [found[i] for i in ids if i in found and found[i].has_video]
    if not records:
        abort(404, description=Problem(N_("Pick at least one finished video to present.")))
    layout = request.args.get("layout", "one")
    layout = layout if layout in LAYOUTS else "one"
    try:
        at = min(max(int(request.args.get("at", "0")), 0), len(records) - 1)
    except ValueError:
        at = 0
    varies, _heading = what_differs(records)
    prompts = {r.params.get("prompt") or "" for r in records}
    return render_template(
        "present/present.html",
        # each slide's caption says what differs (a prompt is shown anyway)
        slides=[(r, card_heading(r, varies) if varies != "prompt" else None) for r in records],
        records=records,
        common_prompt=next(iter(prompts)) if len(prompts) == 1 and len(records) > 1 else None,
        layout=layout,
        at=at,
    )
