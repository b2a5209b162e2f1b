"""Plain data types shared by every layer: events, observations, violations.

This module is the bottom of the import graph: it imports nothing from the package
and nothing outside the standard library.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

EXCERPT_LIMIT = 240
"""Characters of an offending event kept in a violation (the rest is elided)."""


class Level(enum.StrEnum):
    """RFC 2119 requirement level of a rule."""

    MUST = "MUST"
    SHOULD = "SHOULD"


def excerpt(text: str, limit: int = EXCERPT_LIMIT) -> str:
    """Return `text` cut to `limit` characters, marking what was elided."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text) - limit} more characters]"


@dataclass(slots=True)
class Event:
    """One dispatched server-sent event (WHATWG "dispatch the event").

    Treated as a value and never changed after the parser builds it; not declared frozen
    because a frozen dataclass costs about a microsecond more per event to build.

    `offset` is the byte offset of the event's first line in the response body and
    `end` the offset just past the blank line that dispatched it.
    """

    index: int
    data: str
    offset: int
    end: int
    type: str = ""
    id: str | None = None
    data_lines: int = 1


@dataclass(frozen=True, slots=True)
class Observation:
    """Something the byte stream did that a lenient client would hide.

    `kind` is one of the names in `ObservationKind`; `offset` is a byte offset in the body.
    """

    kind: str
    offset: int
    detail: str = ""
    event_index: int | None = None


class ObservationKind:
    """Names of the observations the SSE parser records."""

    BOM = "bom"
    LINE_ENDING = "line_ending"  # detail: "LF", "CRLF" or "CR" (first use of each style)
    COMMENT = "comment"
    UNKNOWN_FIELD = "unknown_field"
    EVENT_NAME = "event_name"
    ID_FIELD = "id_field"
    RETRY_FIELD = "retry_field"
    MULTILINE_DATA = "multiline_data"
    EMPTY_EVENT = "empty_event"  # blank line with no data: not dispatched
    UNTERMINATED_EVENT = "unterminated_event"  # data at end of stream with no blank line
    INVALID_UTF8 = "invalid_utf8"
    LINE_TOO_LONG = "line_too_long"
    EVENT_TOO_LARGE = "event_too_large"


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule, located as precisely as the evidence allows."""

    rule_id: str
    level: Level
    message: str
    expected: str = ""
    received: str = ""
    event_index: int | None = None
    offset: int | None = None
    json_path: str = ""
    event_excerpt: str = ""

    def location(self) -> str:
        """Human-readable position: event index, byte offset and JSON path when known."""
        parts = []
        if self.event_index is not None:
            parts.append(f"event #{self.event_index}")
        if self.offset is not None:
            parts.append(f"byte {self.offset}")
        if self.json_path:
            parts.append(self.json_path)
        return ", ".join(parts) or "whole response"


@dataclass(slots=True)
class Limits:
    """Bounds that turn a hostile target into a clean, explained failure."""

    idle_timeout: float = 30.0
    deadline: float = 120.0
    max_events: int = 100_000
    max_bytes: int = 64 * 1024 * 1024
    max_line: int = 1024 * 1024
    max_event: int = 8 * 1024 * 1024


@dataclass(slots=True)
class Exchange:
    """What a request and its response looked like, for rules that judge the HTTP layer."""

    method: str = "POST"
    url: str = ""
    request_headers: dict[str, str] = field(default_factory=dict)
    request_body: bytes = b""
    status: int | None = None
    reason: str = ""
    response_headers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        """First response header called `name` (case-insensitive), or None."""
        lname = name.lower()
        for key, value in self.response_headers:
            if key.lower() == lname:
                return value
        return None
