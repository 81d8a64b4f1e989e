"""The key (and any other secret of the connection) taken out of text the upstream sends, in every form it
could come back in: any case, HTML entities, URL escapes, and any WINDOW consecutive characters of it (a
key cut where an excerpt ends still shows most of itself)."""

import re
from html import unescape
from urllib.parse import unquote

REDACTED = "[redacted]"
MIN_SECRET_CHARS = 8  # a "key" of a few characters (the demo API's "demo") is no secret
WINDOW = 12


class Redactor:
    def __init__(self, *secrets) -> None:
        pieces = set()
        for secret in secrets:
            if secret and len(secret) >= MIN_SECRET_CHARS:
                width = min(WINDOW, len(secret))
                pieces.update(secret[i : i + width].lower() for i in range(len(secret) - width + 1))
        self.secrets = tuple(s for s in secrets if s and len(s) >= MIN_SECRET_CHARS)
        alternatives = "|".join(re.escape(p) for p in sorted(pieces, key=len, reverse=True))
        # A look-ahead finds overlapping pieces, so a whole key is covered end to end.
        self._pattern = re.compile(f"(?=({alternatives}))", re.I) if pieces else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, text: str) -> str:
        """text with every trace of a secret replaced; text that holds none comes back unchanged (an address
        stays byte for byte the same). Text that hides one behind escapes comes back unescaped, masked."""
        if not text or self._pattern is None or not isinstance(text, str):
            return text
        if self._pattern.search(text):
            return self._mask(text)
        plain = unquote(unescape(text)) if ("&" in text or "%" in text) else text
        if plain is not text and self._pattern.search(plain):
            return self._mask(plain)
        return text

    def bytes(self, body: bytes) -> bytes:
        """A raw body with the secrets as sent (in any case) replaced; escaped forms are caught once parsed."""
        if self._pattern is None:
            return body
        for secret in self.secrets:
            body = re.sub(re.escape(secret.encode("utf-8")), REDACTED.encode(), body, flags=re.I)
        return body

    def tree(self, value: object) -> object:
        """Every string of a parsed answer, keys included."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.tree(v) for v in value]
        if isinstance(value, dict):
            return {self.text(str(k)): self.tree(v) for k, v in value.items()}
        return value

    def _mask(self, text):
        spans = []
        if self._pattern is None:
            return text
        for match in self._pattern.finditer(text):
            start, end = match.start(), match.start() + len(match.group(1))
            if spans and start <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], end)
            else:
                spans.append([start, end])
        out, last = [], 0
        for start, end in spans:
            out.extend((text[last:start], REDACTED))
            last = end
        out.append(text[last:])
        return "".join(out)
