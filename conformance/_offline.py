"""Offline checking: judge recorded streams with the same rules as a live run.

Three recordings are understood, told apart by their first bytes:

- a raw SSE body (`.sse`, `.txt`, a `curl -N` paste);
- `curl -i` output: optional `### key: value` lines (as `capture-peer.sh` writes them, with
  the request body), the status line and headers, then the body; a trailing
  `### curl exit code N` line means the transfer failed;
- a HAR file: every entry whose response is `text/event-stream`.

Files are read in pieces and fed to a `StreamChecker(live=False)`, so memory does not grow
with the file (a HAR entry's body is one JSON string, so there memory follows the largest
entry). Rules that need a live exchange, or a part of the exchange the recording lacks, are
listed as not applicable with the reason, never counted as passed.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from conformance._check import StreamChecker, StreamResult
from conformance._coding import CodingError, decoded
from conformance._model import (
    DEFAULT_POLICY,
    Ending,
    EndingKind,
    Exchange,
    Finding,
    Limits,
    Policy,
)
from conformance._profiles import Profile
from conformance._replay._recorded import Tap
from conformance.rules.http import EVENT_STREAM, media_type

READ_SIZE = 64 * 1024
HEAD_LIMIT = 1024 * 1024
"""Most bytes of `###` lines and HTTP head read before a curl capture is refused."""
TAIL = 64
"""Bytes held back at the end of a curl capture, where `### curl exit code N` may stand."""
UNLIMITED = 1 << 62

_DATA_LINE = re.compile(rb"[\r\n]data:")
_CURL_EXIT = re.compile(rb"### curl exit code (\d+)\s*\Z")
_STATUS = re.compile(rb"HTTP/[\d.]+ +(\d{3})(?: +([^\r\n]*))?")


class UnreadableError(Exception):
    """A file that cannot be read, or that holds no event stream at all."""


def offline_limits(limits: Limits | None = None) -> Limits:
    """Limits for a recording: no event or byte limit (memory stays flat), lines as live."""
    base = limits or Limits()
    return Limits(
        idle_timeout=base.idle_timeout,
        deadline=base.deadline,
        max_events=UNLIMITED,
        max_bytes=UNLIMITED,
        max_line=base.max_line,
        max_event=base.max_event,
    )


@dataclass(slots=True)
class Recording:
    """One recorded response: where it came from, its head if recorded, and its body."""

    label: str
    kind: str  # "sse", "curl" or "har"
    body: Iterable[bytes]
    exchange: Exchange | None = None
    request: dict[str, Any] | None = None
    failure: str | None = None  # the transfer failed (known once the body is read)


@dataclass(slots=True)
class ToolCallText:
    """One reassembled tool call."""

    index: int
    name: str
    arguments: str


@dataclass(slots=True)
class RecordingResult:
    """What judging one recording under one profile showed."""

    label: str
    kind: str
    profile: str
    result: StreamResult | None
    unreadable: str | None = None
    tool_calls: dict[int, list[ToolCallText]] = field(default_factory=dict)

    @property
    def not_applicable(self) -> list[tuple[str, str]]:
        """(rule id, why) for every rule of the profile the recording could not judge."""
        return list(self.result.unjudged.items()) if self.result else []

    @property
    def completion_failures(self) -> list[str]:
        """Why the server gave the completion up, when it did (an error event)."""
        return self.result.aborted if self.result else []

    def failing(self, policy: Policy = DEFAULT_POLICY) -> list[Finding]:
        """The findings that make the recording not conformant under `policy`."""
        return policy.failing(self.result.findings) if self.result else []

    def verdict(self, policy: Policy = DEFAULT_POLICY) -> str:
        """The verdict: `conformant`, `not conformant` or `unreadable`."""
        if self.unreadable is not None:
            return "unreadable"
        return "not conformant" if self.failing(policy) else "conformant"


# -- reading ------------------------------------------------------------------------------


def recordings(path: Path) -> Iterator[Recording]:
    """The recorded responses in `path`: one, or one per HAR entry. A body is read from the
    file only as it is iterated."""
    head = next(_file_pieces(path), b"")
    if not head:
        raise UnreadableError(f"{path}: the file is empty")
    kind = _sniff(path, head)
    if kind == "har":
        with _open(path) as handle:
            yield from _har(path, handle)
    elif kind == "curl":
        yield _curl(str(path), _file_pieces(path))
    else:
        yield Recording(str(path), "sse", _file_pieces(path))


def _open(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except OSError as exc:
        raise UnreadableError(f"{path}: cannot be read: {exc.strerror or exc}") from None


def _file_pieces(path: Path) -> Iterator[bytes]:
    with _open(path) as handle:
        while True:
            try:
                data = handle.read(READ_SIZE)
            except OSError as exc:
                raise UnreadableError(f"{path}: cannot be read: {exc.strerror or exc}") from None
            if not data:
                return
            yield data


def _sniff(path: Path, head: bytes) -> str:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if start.startswith(b"{") and (path.suffix.lower() == ".har" or b'"log"' in head):
        return "har"
    if start.startswith((b"HTTP/", b"### ")):
        return "curl"
    return "sse"


# -- curl -i output ---------------------------------------------------------------------------


def _curl(label: str, pieces: Iterator[bytes]) -> Recording:
    buffer = bytearray()
    for piece in pieces:
        buffer += piece
        parsed = _curl_head(bytes(buffer))
        if parsed is not None:
            meta, exchange, rest = parsed
            recording = Recording(label, "curl", (), exchange, _request(meta))
            recording.body = _decoded(exchange, _curl_body(recording, rest, pieces))
            return recording
        if len(buffer) > HEAD_LIMIT:
            break
    exit_code = _CURL_EXIT.search(bytes(buffer[-TAIL:]))
    why = f" (curl exit code {exit_code.group(1).decode()})" if exit_code else ""
    raise UnreadableError(f"{label}: no complete HTTP status line and headers{why}")


def _curl_head(data: bytes) -> tuple[dict[str, str], Exchange, bytes] | None:
    """`###` meta lines, the final response head, and the body bytes after it (or None
    while the head is incomplete). Interim 1xx heads and a proxy's CONNECT answer are
    skipped, as curl -i prints them before the real one."""
    meta: dict[str, str] = {}
    position = 0
    while True:
        line_end = data.find(b"\n", position)
        if line_end < 0:
            return None
        line = data[position:line_end].rstrip(b"\r")
        if line.startswith(b"HTTP/"):
            break
        if line.startswith(b"### "):
            key, _, value = line[4:].decode("utf-8", "replace").partition(":")
            meta[key.strip()] = value.strip()
        position = line_end + 1
    return _response_head(data, position, meta)


def _response_head(
    data: bytes, position: int, meta: dict[str, str]
) -> tuple[dict[str, str], Exchange, bytes] | None:
    while True:
        end, after = _head_end(data, position)
        if end < 0:
            return None
        lines = data[position:end].replace(b"\r\n", b"\n").split(b"\n")
        exchange = _exchange(lines, meta)
        interim = exchange.status is not None and (
            100 <= exchange.status < 200 or exchange.reason.lower() == "connection established"
        )
        if not interim or not data[after:].lstrip(b"\r\n").startswith(b"HTTP/"):
            return meta, exchange, data[after:]
        position = after + (len(data[after:]) - len(data[after:].lstrip(b"\r\n")))


def _head_end(data: bytes, start: int) -> tuple[int, int]:
    ends = [
        (i, i + len(sep)) for sep in (b"\r\n\r\n", b"\n\n") if (i := data.find(sep, start)) >= 0
    ]
    return min(ends) if ends else (-1, -1)


def _exchange(lines: list[bytes], meta: dict[str, str]) -> Exchange:
    match = _STATUS.match(lines[0])
    method, _, url = meta.get("request", "").partition(" ")
    exchange = Exchange(method or "POST", url)
    if match:
        exchange.status = int(match.group(1))
        exchange.reason = (match.group(2) or b"").decode("latin-1").strip()
    for line in lines[1:]:
        name, sep, value = line.decode("latin-1").partition(":")
        if sep:
            exchange.response_headers.append((name.strip(), value.strip()))
    return exchange


def _request(meta: dict[str, str]) -> dict[str, Any] | None:
    try:
        body = orjson.loads(meta.get("body", ""))
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


def _curl_body(recording: Recording, rest: bytes, pieces: Iterator[bytes]) -> Iterator[bytes]:
    """The body, holding back the last bytes until the end to strip curl's exit marker."""
    held = rest
    for piece in pieces:
        held += piece
        if len(held) > TAIL:
            yield held[:-TAIL]
            held = held[-TAIL:]
    marker = _CURL_EXIT.search(held)
    if marker:
        recording.failure = (
            f"the transfer failed: curl exited with code "
            f"{marker.group(1).decode()} before the response was complete"
        )
        held = held[: marker.start()]
    if held:
        yield held


def _decoded(exchange: Exchange, body: Iterator[bytes]) -> Iterator[bytes]:
    try:
        pieces = decoded(body, exchange.header("content-encoding"))
    except CodingError as exc:
        raise UnreadableError(f"the body cannot be read: {exc}") from None
    return _unreadable_on_corruption(pieces)


def _unreadable_on_corruption(pieces: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield from pieces
    except CodingError as exc:
        raise UnreadableError(str(exc)) from None


# -- HAR ------------------------------------------------------------------------------------


def _har(path: Path, handle: IO[bytes]) -> Iterator[Recording]:
    import ijson  # type: ignore[import-untyped]

    found = 0
    try:
        for number, entry in enumerate(ijson.items(handle, "log.entries.item", use_float=True)):
            response = entry.get("response") if isinstance(entry, dict) else None
            if isinstance(response, dict) and _har_event_stream(response):
                found += 1
                yield _har_recording(f"{path}#entry{number}", entry, response)
    except ijson.JSONError as exc:
        raise UnreadableError(f"{path}: not a valid HAR (JSON) file: {exc}") from None
    if not found:
        raise UnreadableError(f"{path}: no HAR entry has a text/event-stream response")


def _har_event_stream(response: dict[str, Any]) -> bool:
    content = response.get("content")
    mime = content.get("mimeType") if isinstance(content, dict) else None
    headers = _har_headers(response)
    declared = next((v for k, v in headers if k.lower() == "content-type"), None)
    return EVENT_STREAM in (media_type(mime), media_type(declared))


def _har_headers(message: dict[str, Any]) -> list[tuple[str, str]]:
    headers = message.get("headers")
    if not isinstance(headers, list):
        return []
    return [
        (str(h.get("name", "")), str(h.get("value", ""))) for h in headers if isinstance(h, dict)
    ]


def _har_recording(label: str, entry: dict[str, Any], response: dict[str, Any]) -> Recording:
    request = entry.get("request")
    request = request if isinstance(request, dict) else {}
    status = response.get("status")
    exchange = Exchange(
        str(request.get("method", "POST")),
        str(request.get("url", "")),
        status=status if isinstance(status, int) else None,
        reason=str(response.get("statusText", "")),
        response_headers=_har_headers(response),
    )
    exchange.response_headers = [
        (k, v) for k, v in exchange.response_headers if k.lower() != "content-encoding"
    ]  # HAR bodies are decoded
    post = request.get("postData")
    meta = {"body": str(post.get("text", ""))} if isinstance(post, dict) else {}
    return Recording(label, "har", [_har_body(label, response)], exchange, _request(meta))


def _har_body(label: str, response: dict[str, Any]) -> bytes:
    content = response.get("content")
    if not isinstance(content, dict) or not isinstance(content.get("text"), str):
        raise UnreadableError(f"{label}: the HAR entry does not record the response body")
    text: str = content["text"]
    if content.get("encoding") == "base64":
        try:
            return base64.b64decode(text, validate=True)
        except ValueError:
            raise UnreadableError(f"{label}: the body is not valid base64") from None
    return text.encode("utf-8", "surrogatepass")


# -- judging --------------------------------------------------------------------------------


def judge(
    recording: Recording,
    profile: Profile,
    *,
    keep_text: bool = False,
    limits: Limits | None = None,
    tap: Tap | None = None,
) -> RecordingResult:
    """Judge one recording with every rule of `profile` that a recording can show; `tap`
    keeps the body's pieces (decoded) for client replay."""
    if tap is not None:
        recording.body = tap.tap(recording.body)
    checker = StreamChecker(
        profile=profile,
        limits=offline_limits(limits),
        live=False,
        keep_text=keep_text or tap is not None,
        request=recording.request,
        head=recording.exchange is not None,
        transport=recording.kind == "curl",  # curl records a failed transfer (exit code)
    )
    judged = RecordingResult(recording.label, recording.kind, profile.name, None)
    try:
        parsed = _feed(checker, recording)
    except UnreadableError as exc:
        judged.unreadable = str(exc)
        return judged
    if recording.failure:
        checker.stop(Ending(EndingKind.BROKEN, recording.failure))
    result = checker.finish()
    judged.result = result
    judged.unreadable = _not_a_stream(recording, checker, parsed)
    if keep_text:
        judged.tool_calls = _tool_calls(checker)
    return judged


def _feed(checker: StreamChecker, recording: Recording) -> bool | None:
    """Feed the body. True: read as a stream; False: the head refused it and the body holds
    no `data:` line either; None: the head refused a body that looks like a stream (judged,
    as live, by the HTTP rules alone)."""
    if recording.exchange is not None and not checker.check_response(recording.exchange):
        return None if _has_data_line(recording.body) else False
    for data in recording.body:
        if not checker.feed(data):
            break
    return True


def _has_data_line(body: Iterable[bytes]) -> bool:
    window = b"\n"
    seen = 0
    for piece in body:
        if _DATA_LINE.search(window[-8:] + piece):
            return True
        window, seen = piece, seen + len(piece)
        if seen > HEAD_LIMIT:
            break
    return False


def _not_a_stream(recording: Recording, checker: StreamChecker, parsed: bool | None) -> str | None:
    exchange = recording.exchange
    if parsed is False and exchange is not None:
        return (
            f"{recording.label}: not an event stream: HTTP {exchange.status} "
            f"{exchange.header('content-type') or 'without Content-Type'} (answers to "
            "bad requests are judged by the live suite)"
        )
    if parsed is None or exchange is not None or checker.ending or checker.state.events:
        return None  # a recorded head that declares an event stream makes it one, even empty
    if checker.state.pending_data is not None:
        return None
    return (
        f"{recording.label}: not an event stream: no `data:` event in "
        f"{checker.parser.bytes_seen:,} bytes"
    )


def _tool_calls(checker: StreamChecker) -> dict[int, list[ToolCallText]]:
    calls: dict[int, list[ToolCallText]] = {}
    for index, choice in sorted(checker.state.choices.items()):
        for call in sorted(choice.tools.values(), key=lambda c: c.index):
            arguments = (
                "".join(call.arguments) if call.whole is None else orjson.dumps(call.whole).decode()
            )
            calls.setdefault(index, []).append(ToolCallText(call.index, call.name or "", arguments))
    return calls
