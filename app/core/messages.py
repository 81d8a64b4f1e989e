"""Messages made away from a request (the follower's thread, the upstream client) and shown later, in the
reader's language, kept apart from text the upstream sent.

A Problem reads as its English text everywhere (logs, exceptions, tests) and keeps its message id and
values, so a page translates it when it is shown. In the database every message is a typed record made
here and nowhere else: {"m": id, "a": values} for the app's own, {"t": text} for anything else. Upstream
text always lands inside "t" (or as a value inside "a"), so nothing it says can read as one of the app's
sentences, whatever it looks like. Nothing is ever recognised by its shape outside loaded().
"""

import json
from collections.abc import Collection
from typing import Any

TEXT_LIMIT = 4000  # characters of someone else's text kept in a message (an upstream error is a sentence)


def N_(msgid: str) -> str:
    """Marks a message for the catalogue; it is translated where it is shown."""
    return msgid


class Problem(str):
    msgid: str
    values: dict

    def __new__(cls, msgid, **values):
        text = msgid % {k: str(v) for k, v in values.items()} if values else msgid
        self = super().__new__(cls, text)
        self.msgid, self.values = msgid, values
        return self

    def to_json(self) -> dict:
        return {
            "m": self.msgid,
            "a": {k: v.to_json() if isinstance(v, Problem) else _value(v) for k, v in self.values.items()},
        }


def _value(value):
    """A value inside one of our messages: numbers as they are, text cut to TEXT_LIMIT."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return cut(str(value))


def cut(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def stored(message: object) -> str | None:
    """The record to keep in the database for a message (None stays None)."""
    if message is None:
        return None
    record = message.to_json() if isinstance(message, Problem) else {"t": cut(str(message))}
    return json.dumps(record, ensure_ascii=False)


def loaded(value: Any, known_msgids: Collection[str] | None = None) -> Any:
    """A message back from the database: a Problem for the app's own, text for anything else.

    Only records made by stored() are read as ours. A value stored before records were typed (plain
    text) is text. known_msgids, given by the one-time migration of such values, lets an old record of
    ours through only when every message id in it is one the app has (see legacy_record)."""
    if value is None or isinstance(value, Problem):
        return value
    try:
        record = json.loads(value) if isinstance(value, str) and value.startswith("{") else None
    except (ValueError, RecursionError):
        record = None
    if isinstance(record, dict) and set(record) == {"t"} and isinstance(record["t"], str):
        return record["t"]
    if isinstance(record, dict) and set(record) == {"m", "a"}:
        problem = _problem(record, known_msgids, depth=0)
        if problem is not None:
            return problem
    return value


def _problem(record, known_msgids, depth):
    msgid, values = record.get("m"), record.get("a")
    if not isinstance(msgid, str) or not isinstance(values, dict) or depth > 3:
        return None
    if known_msgids is not None and msgid not in known_msgids:
        return None
    kept = {}
    for key, value in values.items():
        if isinstance(value, dict):
            value = _problem(value, known_msgids, depth + 1)
            if value is None:
                return None
        elif isinstance(value, str):
            value = cut(value)
        elif not isinstance(value, (int, float)) or isinstance(value, bool):
            return None
        kept[str(key)] = value
    try:
        return Problem(msgid, **kept)
    except (KeyError, ValueError, TypeError):
        return None


def legacy_record(value: str | None, known_msgids: Collection[str]) -> str | None:
    """The typed record for a value stored before records were typed: an old record of ours whose ids
    are all in the catalogue stays ours, everything else becomes text."""
    if value is None:
        return None
    message = loaded(value, known_msgids) if value.startswith('{"m":') else value
    return stored(message)
