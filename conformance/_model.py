"""Plain data types shared by every layer: events, observations, findings, exchanges, policy.

This module is the bottom of the import graph: it imports nothing from the package
and nothing outside the standard library.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_PROFILE = "alphaedge"
"""The profile of the seed doc: the one a run uses unless told otherwise."""

EXCERPT_LIMIT = 240
"""Characters of an offending event kept in a finding's excerpt (the rest is elided)."""

EVENT_BYTES_LIMIT = 4096
"""Bytes of an offending event kept verbatim in a finding."""

DEPTH_LIMIT = 128
"""Levels of JSON nesting read from a target: far beyond any chunk or HAR file, and far below
the depth at which a recursive consumer (decoder, encoder, validator, `repr`) breaks."""

VALUES_LIMIT = 100_000
"""JSON values one payload may hold: a few bytes of JSON (`{},`) decode to a hundred bytes of
objects, so a 2 MiB event could take hundreds of MiB; no chunk comes near it."""

TEXT_LIMIT = 2000
"""Characters of a finding's message, expected or received text kept (the rest elided)."""

_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


class Level(enum.StrEnum):
    """RFC 2119 requirement level of a rule."""

    MUST = "MUST"
    SHOULD = "SHOULD"


def excerpt(text: str, limit: int = EXCERPT_LIMIT) -> str:
    """Return `text` cut to `limit` characters, marking what was elided."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text) - limit} more characters]"


def printable(text: str) -> str:
    """`text` safe to write to any output: each control character but tab and line feed, and
    each lone surrogate (which a JSON escape such as `"\\ud800"` can carry but no UTF-8
    output can), is written as its escape (`\\x1b`, `\\ud800`)."""
    return _UNSAFE.sub(_escape, text) if _UNSAFE.search(text) else text


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


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


class EndingKind(enum.StrEnum):
    """Why reading a response stopped before its natural end."""

    IDLE_TIMEOUT = "idle_timeout"
    DEADLINE = "deadline"
    BYTE_LIMIT = "byte_limit"
    EVENT_LIMIT = "event_limit"
    LINE_LIMIT = "line_limit"  # one line or one event's data over its limit
    HEAD_LIMIT = "head_limit"  # the status line and headers over the client's limit
    JSON_LIMIT = "json_limit"  # a payload's JSON nests too deep or holds too many values
    TRACKING_LIMIT = "tracking_limit"  # more choices, tool calls or text than the client keeps
    BUDGET = "budget"  # the run's whole time budget (--budget) ran out
    BROKEN = "broken"  # the connection failed (or the transfer was cut) before the end
    NOT_HTTP = "not_http"  # the answer is not a valid HTTP response
    DROPPED = "dropped"  # the server closed or reset the connection without answering

    @property
    def is_limit(self) -> bool:
        """Whether a limit of the client ended the read (rather than the connection)."""
        return self not in (EndingKind.BROKEN, EndingKind.NOT_HTTP, EndingKind.DROPPED)


@dataclass(frozen=True, slots=True)
class Ending:
    """Reading a response stopped early: why, in words a person fixing the server reads."""

    kind: EndingKind
    reason: str
    offset: int | None = None  # bytes of the body read when it stopped
    event_index: int | None = None  # the last event read, if any


@dataclass(frozen=True, slots=True)
class Deadline:
    """When a live exchange must be over (a `time.monotonic()` value), and how reading it
    ends when it is not: the exchange's deadline, or the end of the run's budget."""

    at: float
    kind: EndingKind
    reason: str

    def ending(self) -> Ending:
        """The ending of an exchange still going at `at`."""
        return Ending(self.kind, self.reason)


class Mistake(enum.StrEnum):
    """The client mistake a bad request makes (what the answers to it are judged for)."""

    NOT_JSON = "not_json"  # not JSON at all, truncated, or empty
    MISSING_MESSAGES = "missing_messages"  # no messages: absent, null, or not an object body
    WRONG_TYPE = "wrong_type"  # a field, at any depth, of a JSON type its schema forbids
    INVALID_VALUE = "invalid_value"  # right type, forbidden value: empty, unknown role, ...
    INVALID_UTF8 = "invalid_utf8"  # JSON whose bytes are not UTF-8
    WRONG_CONTENT_TYPE = "wrong_content_type"  # a valid body sent as another media type
    OVERSIZED = "oversized"  # a valid body padded to MiBs (a server may accept or refuse it)
    WRONG_METHOD = "wrong_method"  # a method other than POST on the endpoint


class Probe(enum.StrEnum):
    """A request the suite writes byte by byte on its own connection (`conformance._probe`):
    the methods the endpoint does not document, the 100-continue handshake, and the
    HTTP/1.1 message-framing cases of RFC 9112."""

    GET = "GET"
    PUT = "PUT"
    DELETE = "DELETE"
    PATCH = "PATCH"
    HEAD = "HEAD"
    OPTIONS = "OPTIONS"
    EXPECT_CONTINUE = "expect_continue"
    CONTENT_LENGTH_AND_CHUNKED = "content_length_and_chunked"
    INVALID_CONTENT_LENGTH = "invalid_content_length"
    UNKNOWN_TRANSFER_CODING = "unknown_transfer_coding"
    SPACE_BEFORE_COLON = "space_before_colon"
    MISSING_HOST = "missing_host"
    CONNECTION_CLOSE = "connection_close"
    HTTP_1_0 = "http_1_0"
    UNREAD_BODY = "unread_body"

    @property
    def method(self) -> str | None:
        """The method a method probe sends (None for the other probes)."""
        return self.value if self.value.isupper() else None


class Need(enum.StrEnum):
    """Something a rule needs to see before it can judge anything."""

    LIVE = "live"  # a live exchange (the client's clock at the time of the request)
    REQUEST = "request"  # the request that was sent
    HEAD = "head"  # the response's status line and headers
    TRANSPORT = "transport"  # whether the connection delivered the whole response
    REPLAY = "replay"  # the response replayed through client libraries (`--clients`)


@dataclass(frozen=True, slots=True)
class Finding:
    """One broken rule, located as precisely as the evidence allows.

    `event` holds the offending event's bytes as they arrived (at most EVENT_BYTES_LIMIT),
    captured when the event was parsed; `excerpt` its decoded text, cut.
    """

    rule_id: str
    level: Level
    message: str
    expected: str = ""
    received: str = ""
    event_index: int | None = None
    offset: int | None = None
    json_path: str = ""
    excerpt: str = ""
    event: bytes = b""

    def location(self) -> str:
        """Human-readable position: event number (from 1), byte offset and JSON path."""
        parts = []
        if self.event_index is not None:
            parts.append(f"event {self.event_index + 1}")
        if self.offset is not None:
            parts.append(f"byte {self.offset}")
        if self.json_path:
            parts.append(self.json_path)
        return ", ".join(parts) or "whole response"

    def as_dict(self) -> dict[str, Any]:
        """The finding as plain JSON data: the one shape every JSON output uses."""
        return {
            "rule": self.rule_id,
            "level": str(self.level),
            "message": self.message,
            "location": self.location(),
            "event_index": self.event_index,
            "offset": self.offset,
            "json_path": self.json_path,
            "expected": self.expected,
            "received": self.received,
            "excerpt": self.excerpt,
            "event": self.event.decode("utf-8", "backslashreplace"),
        }


class Exit(enum.IntEnum):
    """The exit statuses of `conformance run` and `conformance check`."""

    OK = 0  # certified; every recording conformant
    FAILED = 1  # not certified; a recording not conformant
    USAGE = 2  # a set-up or usage error: unreachable target, refused key, bad URL or option
    INCOMPLETE = 3  # what ran passed, but a MUST rule was not exercised or not selected
    INTERNAL = 4  # a bug in the suite (the traceback is saved to a file)


FAIL_ON = ("must", "should", "clients")
"""What `--fail-on` may name: `must` (the default), `should` (SHOULD findings fail too),
`clients` (a client library's mis-reading fails too); `should,clients` for both."""

CLIENT_AREA = "client."
"""The id prefix of the rules that judge how client libraries read a stream (`client.*`)."""


@dataclass(frozen=True, slots=True)
class Policy:
    """Which findings fail a test, a recording and a run: MUST always, SHOULD on request.

    A client library's mis-reading (`client.*`) is no defect of the server's own: it fails
    only when `fail_on_clients` asks for it (`--fail-on clients`), whatever its level.
    """

    fail_on_should: bool = False
    fail_on_clients: bool = False

    @classmethod
    def parse(cls, value: str) -> Policy:
        """The policy of a `--fail-on` value: `must`, `should`, `clients`, or several
        separated by commas."""
        words = {word.strip().lower() for word in value.split(",") if word.strip()}
        unknown = sorted(words - set(FAIL_ON))
        if unknown or not words:
            raise ValueError(f"expected one of {', '.join(FAIL_ON)}, got {value!r}")
        return cls(fail_on_should="should" in words, fail_on_clients="clients" in words)

    @property
    def fail_on(self) -> str:
        """The `--fail-on` value of this policy."""
        flags = (("should", self.fail_on_should), ("clients", self.fail_on_clients))
        return ",".join(word for word, on in flags if on) or "must"

    def fails(self, finding: Finding) -> bool:
        """Whether `finding` fails under this policy."""
        return self.fails_level(finding.level, finding.rule_id)

    def fails_level(self, level: Level, rule_id: str = "") -> bool:
        """Whether a finding of `level` (of rule `rule_id`, when known) fails under this
        policy: the one place it is decided."""
        if rule_id.startswith(CLIENT_AREA):
            return self.fail_on_clients
        return level is Level.MUST or self.fail_on_should

    def failing(self, findings: Iterable[Finding]) -> list[Finding]:
        """The findings that fail, in order."""
        return [f for f in findings if self.fails(f)]


DEFAULT_POLICY = Policy()
"""MUST findings fail, SHOULD findings are warnings."""


@dataclass(slots=True)
class Limits:
    """Bounds that turn a hostile target into a clean, explained failure."""

    idle_timeout: float = 30.0
    deadline: float = 120.0
    max_events: int = 100_000
    max_bytes: int = 64 * 1024 * 1024
    max_line: int = 1024 * 1024
    max_event: int = 2 * 1024 * 1024  # twice a line: 8 streams at once stay within memory
    max_depth: int = DEPTH_LIMIT
    max_values: int = VALUES_LIMIT


@dataclass(slots=True)
class Exchange:
    """What a request and its response looked like, for rules that judge the HTTP layer (its
    repr leaves out the request's headers, which carry secrets, and its body)."""

    method: str = "POST"
    url: str = ""
    request_headers: dict[str, str] = field(default_factory=dict, repr=False)
    request_body: bytes = field(default=b"", repr=False)
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


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer to a request that makes a client mistake: its head, body and the mistake."""

    exchange: Exchange
    body: bytes
    mistake: Mistake


@dataclass(frozen=True, slots=True)
class RawResponse:
    """One response read off a raw connection: status line, headers, body (bounded)."""

    version: str
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    interim: tuple[int, ...] = ()  # the 1xx statuses that came before it

    def header(self, name: str) -> str | None:
        """First header called `name` (case-insensitive), or None."""
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)

    def line(self) -> str:
        """The status line, as a person reads it."""
        return f"{self.version} {self.status} {self.reason}".strip()


@dataclass(frozen=True, slots=True)
class WireAnswer:
    """What came back on the connection of one probe.

    `responses` are the final responses read, in order (a second one answers a second
    request: the suite's follow-up, or bytes the server wrongly read as a request);
    `requests` how many requests the suite sent on the connection; `closed` whether the
    server closed it after the last response; `ending` why reading stopped early (no
    answer at all, a timeout); `continued` (Expect probe): whether a 100 (Continue) or a
    final status came before the content was sent.
    """

    probe: Probe
    responses: tuple[RawResponse, ...] = ()
    requests: int = 1
    closed: bool | None = None  # None: not seen either way (the probe stopped reading)
    ending: Ending | None = None
    continued: bool | None = None
    waited: float = 0.0  # seconds the suite waited for the server where it matters

    @property
    def first(self) -> RawResponse | None:
        """The answer to the probe itself, if any."""
        return self.responses[0] if self.responses else None


@dataclass(frozen=True, slots=True)
class Expectation:
    """What a case expects a completion to show: each choice's finish reason, text it lacks."""

    finish_reason: str | None = None
    excludes: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCallRead:
    """One tool call as a reader assembled it: its position, id, function name, arguments."""

    index: int
    id: str | None
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ChoiceRead:
    """One choice as a reader assembled it."""

    index: int
    content: str = ""
    tool_calls: tuple[ToolCallRead, ...] = ()
    finish_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    """What one reader made of a stream: each choice, the chunks it delivered, and the error
    it raised (its type and message), if it raised one."""

    choices: tuple[ChoiceRead, ...] = ()
    chunks: int = 0
    error: str | None = None

    def choice(self, index: int) -> ChoiceRead | None:
        """The choice with this index, if the reader delivered it."""
        return next((c for c in self.choices if c.index == index), None)


@dataclass(frozen=True, slots=True)
class ClientReading:
    """A client library's reading of one recorded stream, beside the checker's own.

    `sent` is the checker's reconstruction from the strict parser, `got` the library's
    (None when the library is not available, and `unavailable` says why, with the install
    hint). `constructs` names what in the stream is known to trip client parsers (a leading
    BOM, bare CR line endings, ...). `first_choice_only`: the library reads one choice by
    design, so only choice 0 is compared. `cause`: what made the library mis-read the
    stream, as replaying variants of it showed ("caused by leading BOM (...)"; empty when
    it read the stream exactly or was not diagnosed).
    """

    library: str
    entry: str
    version: str
    runtime: str
    stream: str
    sent: Reading
    got: Reading | None
    constructs: tuple[str, ...] = ()
    unavailable: str = ""
    first_choice_only: bool = False
    cause: str = ""
