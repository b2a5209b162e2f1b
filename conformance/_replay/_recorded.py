"""A recorded response as replay needs it: head, body bytes as they arrived, what the
checker read in them, and the constructs in them that are known to trip client parsers."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conformance._coding import normalise
from conformance._model import (
    ChoiceRead,
    Exchange,
    ObservationKind,
    Reading,
    ToolCallRead,
)
from conformance._replay._accumulate import sent_reading

if TYPE_CHECKING:
    from conformance._check import StreamResult

RECORD_LIMIT = 1024 * 1024
"""Body bytes kept per stream for replay; a longer stream is not replayed."""

Kind = ObservationKind
CONSTRUCTS = {
    Kind.BOM: "leading BOM",
    Kind.EMPTY_EVENT: "event block without data",
    Kind.MULTILINE_DATA: "multi-line data",
    Kind.EVENT_NAME: "event: field",
    Kind.ID_FIELD: "id: field",
    Kind.RETRY_FIELD: "retry: field",
    Kind.UNKNOWN_FIELD: "unknown field",
    Kind.INVALID_UTF8: "invalid UTF-8",
    Kind.UNTERMINATED_EVENT: "unterminated final event",
}
LINE_ENDINGS = {"CR": "bare CR line endings", "CRLF": "CRLF line endings"}
EARLY_COMMENT, LATE_COMMENT = "comment before the first event", "comment between events"
CHARSET, CODING = "charset={} in Content-Type", "{} content coding"
"""The names of the constructs client parsers are known to trip on."""
UTF8 = ("utf-8", "utf8")


class Tap:
    """Keeps the body's pieces as they arrive, up to RECORD_LIMIT bytes in all."""

    def __init__(self, limit: int = RECORD_LIMIT) -> None:
        self.limit = limit
        self.pieces: list[bytes] = []
        self.size = 0
        self.overflow = False

    def take(self, piece: bytes) -> None:
        """Keep one piece (or note that the body is over the limit)."""
        if self.overflow:
            return
        self.size += len(piece)
        if self.size > self.limit:
            self.overflow = True
            self.pieces = []
        else:
            self.pieces.append(piece)

    def tap(self, pieces: Iterable[bytes]) -> Iterable[bytes]:
        """`pieces`, each kept as it passes."""
        for piece in pieces:
            self.take(piece)
            yield piece


@dataclass(slots=True)
class Recorded:
    """One response to replay: where it came from, its head, its body pieces (content-coded
    as sent), what the checker read, the constructs in it, and (when not empty) the only
    libraries to read it through."""

    label: str
    status: int
    headers: list[tuple[str, str]]
    chunks: list[bytes]
    sent: Reading
    constructs: tuple[str, ...] = ()
    only: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON data (the body base64-encoded), as a spool file keeps it."""
        return {
            "label": self.label,
            "status": self.status,
            "headers": [list(h) for h in self.headers],
            "chunks": [base64.b64encode(c).decode("ascii") for c in self.chunks],
            "sent": reading_dict(self.sent),
            "constructs": list(self.constructs),
            "only": list(self.only),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recorded:
        """The inverse of `as_dict`."""
        return cls(
            str(data["label"]),
            int(data["status"]),
            [(str(k), str(v)) for k, v in data["headers"]],
            [base64.b64decode(c) for c in data["chunks"]],
            reading_from(data["sent"]),
            tuple(data.get("constructs", ())),
            tuple(data.get("only", ())),
        )


def replayable(result: StreamResult | None, exchange: Exchange, tap: Tap) -> str | None:
    """Why a stream is not replayed, or None when it is (a 200 event stream the checker read
    to its end, within RECORD_LIMIT)."""
    from conformance.rules.http import is_stream

    if result is None or not is_stream(exchange):
        return "not a 200 text/event-stream response"
    if result.ending is not None:
        return f"the read stopped early: {result.ending.reason}"
    if result.aborted:
        return "the server gave the completion up mid-stream"
    if tap.overflow:
        return f"the body is over the replay limit ({RECORD_LIMIT:,} bytes)"
    if result.state is None or not result.state.keep_text:
        return "the checker did not keep the text of the stream"
    return None


def recorded(
    label: str, exchange: Exchange, tap: Tap, result: StreamResult, *, decoded: bool = False
) -> Recorded:
    """The Recorded form of a judged stream; `decoded`: the pieces are already free of their
    content coding (an offline recording), so the head no longer announces one."""
    assert result.state is not None
    headers = list(exchange.response_headers)
    if decoded:
        headers = [(k, v) for k, v in headers if k.lower() != "content-encoding"]
    return Recorded(
        label,
        exchange.status or 200,
        headers,
        list(tap.pieces),
        sent_reading(result.state),
        constructs_of(result, exchange),
    )


def constructs_of(result: StreamResult, exchange: Exchange) -> tuple[str, ...]:
    """The constructs in a stream that client parsers are known to trip on, in order."""
    found: list[str] = []
    first_data = result.transcript.find(b"data:")
    for observation in result.observations:
        name = CONSTRUCTS.get(observation.kind)
        if observation.kind == Kind.LINE_ENDING:
            name = LINE_ENDINGS.get(observation.detail)
        elif observation.kind == Kind.COMMENT:
            early = first_data < 0 or observation.offset < first_data
            name = EARLY_COMMENT if early else LATE_COMMENT
        if name and name not in found:
            found.append(name)
    found += _head_constructs(exchange)
    return tuple(found)


def _head_constructs(exchange: Exchange) -> list[str]:
    out = []
    for part in (exchange.header("content-type") or "").split(";")[1:]:
        key, _, value = part.partition("=")
        charset = value.strip().strip('"').lower()
        if key.strip().lower() == "charset" and charset not in UTF8:
            out.append(CHARSET.format(charset))
    coding = normalise(exchange.header("content-encoding"))
    if coding not in ("identity", ""):
        out.append(CODING.format(coding))
    return out


def reading_dict(reading: Reading) -> dict[str, Any]:
    """A Reading as plain JSON data (the shape the node replay writes too)."""
    return {
        "choices": [
            {
                "index": c.index,
                "content": c.content,
                "tool_calls": [
                    {"index": t.index, "id": t.id, "name": t.name, "arguments": t.arguments}
                    for t in c.tool_calls
                ],
                "finish_reason": c.finish_reason,
            }
            for c in reading.choices
        ],
        "chunks": reading.chunks,
        "error": reading.error,
    }


def reading_from(data: dict[str, Any]) -> Reading:
    """The inverse of `reading_dict`."""
    return Reading(
        tuple(
            ChoiceRead(
                int(c["index"]),
                str(c.get("content") or ""),
                tuple(
                    ToolCallRead(
                        int(t["index"]),
                        None if t.get("id") is None else str(t["id"]),
                        str(t.get("name") or ""),
                        str(t.get("arguments") or ""),
                    )
                    for t in c.get("tool_calls") or ()
                ),
                None if c.get("finish_reason") is None else str(c["finish_reason"]),
            )
            for c in data.get("choices") or ()
        ),
        int(data.get("chunks") or 0),
        None if data.get("error") is None else str(data["error"]),
    )
