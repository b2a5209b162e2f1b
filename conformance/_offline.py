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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from conformance._check import StreamChecker, StreamResult
from conformance._coding import IDENTITY, CodingError, Truncated, decoded, normalise
from conformance._json import TooDeep, dumps
from conformance._model import (
    DEFAULT_POLICY,
    DEPTH_LIMIT,
    Ending,
    EndingKind,
    Exchange,
    Finding,
    Limits,
    Policy,
)
from conformance._profiles import Profile
from conformance.rules.http import EVENT_STREAM, media_type

if TYPE_CHECKING:  # client replay (`--clients`) only
    from conformance._replay._recorded import Tap

READ_SIZE = 64 * 1024
HEAD_LIMIT = 1024 * 1024
"""Most bytes of `###` lines and HTTP head read before a curl capture is refused."""
TAIL = 64
"""Bytes held back at the end of a curl capture, where `### curl exit code N` may stand."""
UNLIMITED = 1 << 62

_DATA_LINE = re.compile(rb"[\r\n]data:")
_CURL_EXIT = re.compile(rb"### curl exit code (\d+)\s*\Z")
_STATUS = re.compile(rb"HTTP/[\d.]+ +(\d{3})(?: +([^\r\n]*))?")
_HEAD_END = re.compile(rb"\r\n\r\n|\n\n")
_NEWLINES = re.compile(rb"[\r\n]*")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]+)[ \t]*(?:;[^\r\n]*)?\r?\n")
CHUNK_LINE_LIMIT = 4096
"""Bytes of a chunk-size line (with its extensions) read before the framing is refused."""


class UnreadableError(Exception):
    """A file that cannot be read, or that holds no event stream at all."""


def offline_limits(limits: Limits | None = None) -> Limits:
    """Limits for a recording: no event or byte limit (memory stays flat), lines as live."""
    return replace(limits or Limits(), max_events=UNLIMITED, max_bytes=UNLIMITED)


@dataclass(slots=True)
class Recording:
    """One recorded response: where it came from, its head if recorded, and its body."""

    label: str
    kind: str  # "sse", "curl" or "har"
    body: Iterable[bytes]
    exchange: Exchange | None = None
    request: dict[str, Any] | None = None
    failure: str | None = None  # the transfer failed (known once the body is read)

    @property
    def compressed(self) -> bool:
        """Whether the recorded body has a content coding to remove."""
        coding = self.exchange.header("content-encoding") if self.exchange else None
        return normalise(coding) not in IDENTITY


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
    error: str | None = None  # the check stopped: its worker process crashed, or a bug

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
        """The verdict: `conformant`, `not conformant`, `unreadable`, or `error` (the check
        itself did not finish: see `error`)."""
        if self.error is not None:
            return "error"
        if self.unreadable is not None:
            return "unreadable"
        return "not conformant" if self.failing(policy) else "conformant"


# -- reading ------------------------------------------------------------------------------


def recordings(path: Path, *, depth: int = DEPTH_LIMIT) -> Iterator[Recording]:
    """The recorded responses in `path`: one, or one per HAR entry. A body is read from the
    file only as it is iterated; a HAR nested more than `depth` levels is refused."""
    head = next(_file_pieces(path), b"")
    if not head:
        raise UnreadableError(f"{path}: the file is empty")
    kind = _sniff(path, head)
    if kind == "har":
        with _open(path) as handle:
            yield from _har(path, handle, depth)
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
    head = _CurlHead()
    for piece in pieces:
        parsed = head.add(piece)
        if parsed is not None:
            meta, exchange, rest = parsed
            recording = Recording(label, "curl", (), exchange, _request(meta))
            body = _curl_body(recording, rest, pieces)
            if "chunked" in (exchange.header("transfer-encoding") or "").lower():
                body = _raw_chunks(recording, body)
            recording.body = _decoded(recording, exchange, body)
            return recording
        if len(head.data) > HEAD_LIMIT:
            break
    exit_code = _CURL_EXIT.search(bytes(head.data[-TAIL:]))
    why = f" (curl exit code {exit_code.group(1).decode()})" if exit_code else ""
    raise UnreadableError(f"{label}: no complete HTTP status line and headers{why}")


class _CurlHead:
    """The `###` meta lines and the final response head of a curl capture, read as its
    pieces arrive, each byte once: a capture of many interim heads is read in linear time.
    Interim 1xx heads and a proxy's CONNECT answer are skipped, as curl -i prints them
    before the real one."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.position = 0  # what is before it is read
        self.meta: dict[str, str] = {}
        self.in_heads = False  # past the `###` lines

    def add(self, piece: bytes) -> tuple[dict[str, str], Exchange, bytes] | None:
        """The meta lines, the final head and the body bytes after it, once complete."""
        self.data += piece
        if not self.in_heads and not self._meta_lines():
            return None
        return self._heads()

    def _meta_lines(self) -> bool:
        data = self.data
        while (line_end := data.find(b"\n", self.position)) >= 0:
            line = bytes(data[self.position : line_end]).rstrip(b"\r")
            if line.startswith(b"HTTP/"):
                self.in_heads = True
                return True
            if line.startswith(b"### "):
                key, _, value = line[4:].decode("utf-8", "replace").partition(":")
                self.meta[key.strip()] = value.strip()
            self.position = line_end + 1
        return False

    def _heads(self) -> tuple[dict[str, str], Exchange, bytes] | None:
        data = self.data
        while (found := _HEAD_END.search(data, self.position)) is not None:
            lines = bytes(data[self.position : found.start()]).replace(b"\r\n", b"\n")
            exchange = _exchange(lines.split(b"\n"), self.meta)
            interim = exchange.status is not None and (
                100 <= exchange.status < 200 or exchange.reason.lower() == "connection established"
            )
            following = _NEWLINES.match(data, found.end()).end()  # type: ignore[union-attr]
            rest = data[following : following + 5]
            if interim and len(rest) < 5 and b"HTTP/".startswith(rest):
                return None  # what follows an interim head is not read yet
            if not interim or not data.startswith(b"HTTP/", following):
                return self.meta, exchange, bytes(data[found.end() :])
            self.position = following
        return None


def _exchange(lines: list[bytes], meta: dict[str, str]) -> Exchange:
    match = _STATUS.match(lines[0])
    method, _, url = meta.get("request", "").partition(" ")
    exchange = Exchange(method or "POST", url)
    if match:
        exchange.status = int(match.group(1))
        exchange.reason = (match.group(2) or b"").decode("latin-1").strip()
    else:  # kept whole, so that what stood there can be shown
        exchange.reason = lines[0][:200].decode("latin-1")
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


def _raw_chunks(recording: Recording, body: Iterator[bytes]) -> Iterator[bytes]:
    """The body of a capture that kept the chunked framing on the wire (`curl --raw`), with
    the framing removed; the body as it is when curl removed it (its first line is then
    not a chunk size). A framing cut short or broken ends the body as a failed transfer."""
    data = b""
    for piece in body:
        data += piece
        if b"\n" in data or len(data) > CHUNK_LINE_LIMIT:
            break
    if not _CHUNK_SIZE.match(data):
        yield data
        yield from body
        return
    yield from _Chunks(recording, data, body).body()


class _Chunks:
    """Removes HTTP/1.1 chunked framing (RFC 9112 7.1) from a stream of pieces, by positions
    (a framing of tiny chunks costs no copy per chunk) and in READ_SIZE pieces of body."""

    def __init__(self, recording: Recording, data: bytes, pieces: Iterator[bytes]) -> None:
        self.recording = recording
        self.data = data
        self.pos = 0  # in `data`
        self.pieces = pieces
        self.offset = 0  # bytes of framed body consumed before `data`

    def body(self) -> Iterator[bytes]:
        out: list[bytes] = []
        size = 0
        for part in self._parts():
            out.append(part)
            size += len(part)
            if size >= READ_SIZE:
                yield b"".join(out)
                out, size = [], 0
        if out:
            yield b"".join(out)

    def _parts(self) -> Iterator[bytes]:
        while (size := self._size_line()) is not None and size > 0:  # 0: the last chunk
            yield from self._chunk(size)
            if not self._ends_chunk():
                return

    def _more(self) -> bool:
        piece = next(self.pieces, b"")
        self.offset += self.pos
        self.data, self.pos = self.data[self.pos :] + piece, 0
        return bool(piece)

    def _size_line(self) -> int | None:
        while (found := _CHUNK_SIZE.match(self.data, self.pos)) is None:
            if len(self.data) - self.pos >= CHUNK_LINE_LIMIT or not self._more():
                self._fail("a chunk-size line is expected")
                return None
        self.pos = found.end()
        return int(found.group(1), 16)

    def _chunk(self, left: int) -> Iterator[bytes]:
        while left:
            if self.pos >= len(self.data) and not self._more():
                self._fail(f"the body ends {left:,} bytes into a chunk")
                return
            part = self.data[self.pos : self.pos + left]
            self.pos += len(part)
            left -= len(part)
            yield part

    def _ends_chunk(self) -> bool:
        if self.recording.failure:
            return False
        while len(self.data) - self.pos < 2 and self._more():
            pass
        for ending in (b"\r\n", b"\n"):
            if self.data.startswith(ending, self.pos):
                self.pos += len(ending)
                return True
        self._fail("a chunk's data is not followed by a line break")
        return False

    def _fail(self, why: str) -> None:
        at = self.offset + self.pos
        if self.pos >= len(self.data):
            why += ": the body ends without the zero-length last chunk"
        self.recording.failure = (
            f"the transfer failed: the chunked framing breaks at byte {at:,} of the body "
            f"as recorded: {why}"
        )


def _decoded(recording: Recording, exchange: Exchange, body: Iterator[bytes]) -> Iterator[bytes]:
    try:
        pieces = decoded(body, exchange.header("content-encoding"))
    except CodingError as exc:
        raise UnreadableError(f"the body cannot be read: {exc}") from None
    return _unreadable_on_corruption(recording, pieces)


def _unreadable_on_corruption(recording: Recording, pieces: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield from pieces
    except Truncated as exc:  # what arrived is judged; the cut is a failed transfer
        recording.failure = f"the transfer failed: {exc}"
    except CodingError as exc:
        raise UnreadableError(str(exc)) from None


# -- HAR ------------------------------------------------------------------------------------


def _har(path: Path, handle: IO[bytes], depth: int) -> Iterator[Recording]:
    import ijson  # type: ignore[import-untyped]

    found = 0
    try:
        for number, entry in enumerate(_har_entries(handle, depth)):
            response = entry.get("response") if isinstance(entry, dict) else None
            if isinstance(response, dict) and _har_event_stream(response):
                found += 1
                yield _har_recording(f"{path}#entry{number}", entry, response)
    except ijson.JSONError as exc:
        raise UnreadableError(f"{path}: not a valid HAR (JSON) file: {exc}") from None
    except TooDeep:
        raise UnreadableError(
            f"{path}: the HAR file nests JSON arrays and objects deeper than the reader's "
            f"limit of {depth} levels"
        ) from None
    if not found:
        raise UnreadableError(f"{path}: no HAR entry has a text/event-stream response")


_ENTRIES = ["log", "entries", "item"]


def _har_entries(handle: IO[bytes], depth: int) -> Iterator[Any]:
    """Each member of the HAR's `log.entries`, built one at a time from ijson's basic events
    (which carry no path: the path ijson would build per level makes deep nesting cost the
    square of its depth). Raises `TooDeep` past `depth` levels of nesting."""
    import ijson

    path: list[str | None] = []  # per open container: the member's key, or "item"
    entry = _Builder()
    for event, value in ijson.basic_parse(handle, use_float=True):
        if event == "map_key":
            path[-1] = value
            entry.key(value)
        elif event in ("end_map", "end_array"):
            path.pop()
            if entry.close():
                yield entry.take()
        else:
            starts = event in ("start_map", "start_array")
            if entry.building or path == _ENTRIES:
                entry.add(event, value)
            if starts:
                if len(path) >= depth:
                    raise TooDeep(f"nested deeper than {depth} levels")
                path.append("item" if event == "start_array" else None)
            elif entry.done():
                yield entry.take()


class _Builder:
    """Builds one JSON value from ijson's basic events, without recursion."""

    def __init__(self) -> None:
        self.open: list[Any] = []  # the containers not yet closed, outermost first
        self.keys: list[str | None] = []  # per open map, the key of its next member
        self.value: Any = None
        self.building = False

    def add(self, event: str, value: Any) -> None:
        """A value starts: a scalar, or a container that later events fill."""
        made: Any = {} if event == "start_map" else [] if event == "start_array" else value
        if self.open:
            parent = self.open[-1]
            if isinstance(parent, list):
                parent.append(made)
            else:
                parent[self.keys[-1]] = made
        else:
            self.value, self.building = made, True
        if event in ("start_map", "start_array"):
            self.open.append(made)
            self.keys.append(None)

    def key(self, name: str) -> None:
        if self.open:
            self.keys[-1] = name

    def close(self) -> bool:
        """A container ends; whether that completes the value."""
        if not self.open:
            return False
        self.open.pop()
        self.keys.pop()
        return not self.open

    def done(self) -> bool:
        """Whether a scalar value was just completed (it opens nothing)."""
        return self.building and not self.open

    def take(self) -> Any:
        value, self.value, self.building = self.value, None, False
        return value


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
    keeps the body's pieces (decoded) for client replay.

    A compressed body is read up to the live byte limit: a few hundred KiB of recording may
    inflate a thousandfold, and judging it must not take a thousand times as long."""
    if tap is not None:
        recording.body = tap.tap(recording.body)
    bounds = offline_limits(limits)
    if recording.compressed:
        bounds = replace(bounds, max_bytes=(limits or Limits()).max_bytes)
    checker = StreamChecker(
        profile=profile,
        limits=bounds,
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
            arguments = "".join(call.arguments) if call.whole is None else dumps(call.whole)
            calls.setdefault(index, []).append(ToolCallText(call.index, call.name or "", arguments))
    return calls
