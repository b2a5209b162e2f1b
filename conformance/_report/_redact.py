"""Redaction: the API key and every `--header` value never reach a file or the terminal."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "[REDACTED]"
PREFIX_MIN = 8
"""A cut-off start of a secret this long or longer is redacted too (an excerpt may end in
the middle of one); shorter secrets are redacted only whole."""


class Redactor:
    """Replaces every secret in text, in nested JSON-like values and in URLs."""

    __slots__ = ("secrets",)

    def __init__(self, secrets: Iterable[str | None]) -> None:
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def text(self, text: str) -> str:
        """`text` with every secret, and every start of one cut off by an excerpt,
        replaced by `[REDACTED]`."""
        for secret in self.secrets:
            text = _redact_one(text, secret)
        return text

    def deep(self, value: Any) -> Any:
        """A copy of a JSON-like value with every string (keys included) redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.deep(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.deep(v) for v in value]
        return value

    def url(self, url: str) -> str:
        """`url` without userinfo, query values or fragment, and with every secret redacted."""
        return self.text(public_url(url))


def _redact_one(text: str, secret: str) -> str:
    if len(secret) < PREFIX_MIN:
        return text.replace(secret, REDACTED)
    head, out, start = secret[:PREFIX_MIN], [], 0
    while (found := text.find(head, start)) >= 0:
        end = found + PREFIX_MIN
        while end - found < len(secret) and end < len(text) and text[end] == secret[end - found]:
            end += 1
        out += [text[start:found], REDACTED]
        start = end
    return "".join([*out, text[start:]])


def public_url(url: str) -> str:
    """A URL safe to publish: userinfo and query values replaced, fragment dropped."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = urlencode([(key, REDACTED) for key, _ in pairs], safe="[]")
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def visible_line_endings(text: str) -> str:
    """`text` with CR and LF shown as ␍ and ␊ (each line break kept after its marks), and
    other control characters (C0 and C1) as `\\xNN`, so framing differences can be seen."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "\r" and i + 1 < n and text[i + 1] == "\n":
            out.append("␍␊\n")
            i += 2
            continue
        out.append(_visible(char))
        i += 1
    return "".join(out)


def _visible(char: str) -> str:
    if char == "\r":
        return "␍\n"
    if char == "\n":
        return "␊\n"
    if char == "\ufeff":
        return "[BOM]"
    if char != "\t" and (ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F):
        return f"\\x{ord(char):02x}"
    if "\ud800" <= char <= "\udfff":
        return f"\\u{ord(char):04x}"
    return char
