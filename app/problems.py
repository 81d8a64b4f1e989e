"""Messages made away from a request (the follower's thread, the upstream client) and shown later, in the
reader's language. A Problem reads as its English text everywhere (logs, exceptions, tests) and keeps
its message id and values, so the database stores it as {"m": id, "a": values} and a page translates it
when it is shown. Text the upstream sent stays a plain string: it is shown as sent."""

import json

from flask_babel import gettext


def N_(msgid):
    """Marks a message for the catalogue; it is translated where it is shown."""
    return msgid


class Problem(str):
    def __new__(cls, msgid, **values):
        text = msgid % {k: str(v) for k, v in values.items()} if values else msgid
        self = super().__new__(cls, text)
        self.msgid, self.values = msgid, values
        return self

    def to_json(self):
        return {"m": self.msgid, "a": {k: v.to_json() if isinstance(v, Problem) else v for k, v in self.values.items()}}


def stored(message):
    """The text to keep in the database for a message (None stays None)."""
    if isinstance(message, Problem):
        return json.dumps(message.to_json(), ensure_ascii=False)
    return message


def _translate(data):
    if isinstance(data, dict) and isinstance(data.get("m"), str) and isinstance(data.get("a", {}), dict):
        values = {k: _translate(v) for k, v in data.get("a", {}).items()}
        try:
            return gettext(data["m"], **values) if values else gettext(data["m"])
        except (KeyError, ValueError, TypeError):
            return data["m"] % values if values else data["m"]
    return data


def problem_text(value):
    """A stored or fresh message in the reader's language; anything else as it is."""
    if isinstance(value, Problem):
        return _translate(value.to_json())
    if isinstance(value, str) and value.startswith('{"m":'):
        try:
            return _translate(json.loads(value))
        except ValueError:
            return value
    return value
