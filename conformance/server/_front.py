"""The front: a small HTTP/1.1 server of its own that serves the reference app, so that the
faults of HTTP/1.1 message handling (which uvicorn gets right and an ASGI app cannot change)
can be served.

It reads requests off a raw connection (keep-alive and pipelining included), frames their
bodies per RFC 9112 6.3, hands each to the ASGI app, and frames the answer. Without
`Quirks` it follows RFC 9112 and RFC 9110 as the suite checks them; each quirk departs from
them in one way, the way a real server might (each fault of `_faults.py` sets one).
`HostileServer` serves it under `/fault/{name}/v1/...` (and, without quirks, `/front/v1/...`).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024
_REQUEST_LINE = re.compile(rb"^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP/(1\.[01])$")
_TOKEN = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_DIGITS = re.compile(rb"^[0-9]+$")

Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]


@dataclass(frozen=True, slots=True)
class Quirks:
    """Ways the front departs from the RFCs (a fault sets one; none: it follows them)."""

    host_optional: bool = False  # HTTP/1.1 requests without Host are served
    content_length_wins: bool = False  # with both, Content-Length frames it, connection kept
    lenient_content_length: bool = False  # an invalid Content-Length: its leading digits, or 0
    any_coding_is_chunked: bool = False  # an unknown transfer coding is read as chunked
    space_before_colon: bool = False  # whitespace between a field name and its colon is dropped
    ignore_close: bool = False  # Connection: close is ignored
    chunked_for_http10: bool = False  # HTTP/1.0 requests get chunked answers
    keep_unread_body: bool = False  # a body the app did not read is left for the next request
    drop_allow: bool = False  # 405 answers lose their Allow header
    not_found_for_methods: bool = False  # 405 answers become 404
    body_for_head: bool = False  # answers to HEAD carry their body
    no_continue: bool = False  # Expect: 100-continue never gets a 100
    drop_client_errors: bool = False  # a 4xx is never written: the connection is just closed


class _Refused(Exception):
    """A request the front refuses with 400 and a closed connection."""


class _Drop(BaseException):
    """The quirk `drop_client_errors`: close the connection without answering (a
    BaseException, so that no layer of the app turns it into a 500 answer)."""


@dataclass(slots=True)
class _Request:
    method: str
    target: str
    version: str
    headers: list[tuple[bytes, bytes]]
    chunked: bool = False
    length: int = 0
    keep_alive: bool = True
    expect_continue: bool = False


class _Body:
    """A request body, read from the connection only when asked for."""

    def __init__(self, reader: asyncio.StreamReader, request: _Request) -> None:
        self.reader = reader
        self.request = request
        self.done = not request.chunked and request.length == 0

    async def read(self) -> bytes:
        if self.done:
            return b""
        self.done = True
        if not self.request.chunked:
            return await self.reader.readexactly(self.request.length)
        return await _read_chunked(self.reader)

    async def drain(self) -> None:
        await self.read()


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        line = await reader.readuntil(b"\r\n")
        size = int(line.split(b";")[0].strip() or b"x", 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass
            return bytes(body)
        if len(body) + size > MAX_BODY:
            raise ValueError("request body too large")
        body += await reader.readexactly(size)
        await reader.readexactly(2)


async def serve(
    app: ASGIApp,
    quirks: Quirks,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    head: bytes,
    prefix: str,
) -> None:
    """Serve the connection whose first request head is `head` until either side closes it;
    `prefix` is cut from each request path before the app sees it."""
    while head:
        try:
            request = _parse(head, quirks)
        except _Refused as exc:
            await _refuse(writer, str(exc))
            return
        body = _Body(reader, request)
        try:
            keep = await _Exchange(app, quirks, request, body, writer=writer, prefix=prefix).run()
        except _Drop:
            writer.transport.abort()
            return
        if not keep:
            return
        if not quirks.keep_unread_body:
            await body.drain()
        head = await _next_head(reader)


async def _next_head(reader: asyncio.StreamReader) -> bytes:
    with contextlib.suppress(asyncio.IncompleteReadError):
        return await reader.readuntil(b"\r\n\r\n")
    return b""


def _parse(head: bytes, quirks: Quirks) -> _Request:
    line, *lines = head[:-4].split(b"\r\n")
    found = _REQUEST_LINE.match(line)
    if found is None:
        raise _Refused("Invalid request line.")
    headers = [_field(raw, quirks) for raw in lines]
    request = _Request(
        found.group(1).decode(), found.group(2).decode(), found.group(3).decode(), headers
    )
    values = _values(headers)
    hosts = values.get(b"host", [])
    if len(hosts) > 1 or (request.version == "1.1" and not hosts and not quirks.host_optional):
        raise _Refused("A request must carry exactly one Host header.")
    _frame(request, values, quirks)
    tokens = {t.strip().lower() for v in values.get(b"connection", []) for t in v.split(b",")}
    close = b"close" in tokens and not quirks.ignore_close
    request.keep_alive = request.version == "1.1" and not close
    expect = b"".join(values.get(b"expect", [])).lower()
    request.expect_continue = request.version == "1.1" and expect == b"100-continue"
    return request


def _field(raw: bytes, quirks: Quirks) -> tuple[bytes, bytes]:
    name, colon, value = raw.partition(b":")
    if quirks.space_before_colon:
        name = name.rstrip()
    if not colon or not _TOKEN.match(name):
        raise _Refused("Invalid header line.")
    return name.lower(), value.strip()


def _values(headers: list[tuple[bytes, bytes]]) -> dict[bytes, list[bytes]]:
    values: dict[bytes, list[bytes]] = {}
    for name, value in headers:
        values.setdefault(name, []).append(value)
    return values


def _frame(request: _Request, values: dict[bytes, list[bytes]], quirks: Quirks) -> None:
    """RFC 9112 6.3: how long the body is (or the 400 the request gets)."""
    codings = [
        c.strip().lower() for v in values.get(b"transfer-encoding", []) for c in v.split(b",")
    ]
    lengths = values.get(b"content-length", [])
    if codings and lengths:
        if not quirks.content_length_wins:  # RFC 9112 6.1: refuse it (or read it by its
            raise _Refused("Both Content-Length and Transfer-Encoding.")  # TE), then close
        codings = []
        request.headers = [(k, v) for k, v in request.headers if k != b"transfer-encoding"]
    if codings:
        if codings[-1] != b"chunked" and not quirks.any_coding_is_chunked:
            raise _Refused("The final transfer coding must be chunked.")
        request.chunked = True
        return
    if lengths:
        request.length = _length(lengths, quirks)


def _length(lengths: list[bytes], quirks: Quirks) -> int:
    parts = {p.strip() for v in lengths for p in v.split(b",")}
    if len(parts) == 1 and _DIGITS.match(next(iter(parts))):
        length = int(next(iter(parts)))
    elif quirks.lenient_content_length:
        digits = re.match(rb"\d*", next(iter(parts)))
        length = int(digits.group(0) or b"0") if digits else 0
    else:
        raise _Refused("Invalid Content-Length.")
    if length > MAX_BODY:
        raise _Refused("Request body too large.")
    return length


async def _refuse(writer: asyncio.StreamWriter, message: str) -> None:
    body = b'{"error":{"message":"%s","type":"invalid_request_error"}}' % message.encode()
    writer.write(
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
    )
    await writer.drain()


class _Exchange:
    """One request handed to the app, and its answer written out."""

    def __init__(
        self,
        app: ASGIApp,
        quirks: Quirks,
        request: _Request,
        body: _Body,
        *,
        writer: asyncio.StreamWriter,
        prefix: str,
    ) -> None:
        self.app = app
        self.quirks = quirks
        self.request = request
        self.body = body
        self.writer = writer
        self.prefix = prefix
        self.started = False
        self.chunked = False
        self.finished = asyncio.Event()
        self.received = False  # the app has been handed the body

    async def run(self) -> bool:
        """Run the app; whether the connection stays open for another request."""
        try:
            await self.app(self._scope(), self._receive, self._send)
        except Exception:
            if self.started:
                return False
            await self._send({"type": "http.response.start", "status": 500, "headers": []})
            await self._send({"type": "http.response.body", "body": b""})
        finally:
            self.finished.set()
        return self.request.keep_alive

    def _scope(self) -> Message:
        path, _, query = self.request.target.partition("?")
        path = path[len(self.prefix) :] if path.startswith(self.prefix) else path
        peer = self.writer.get_extra_info("peername")
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": self.request.version,
            "method": self.request.method,
            "scheme": "http",
            "path": unquote(path),
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": self.request.headers,
            "client": tuple(peer[:2]) if peer else None,
            "server": None,
        }

    async def _receive(self) -> Message:
        if not self.received:
            self.received = True
            if self.request.expect_continue and not self.quirks.no_continue:
                self.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                await self.writer.drain()
            return {"type": "http.request", "body": await self.body.read(), "more_body": False}
        await self.finished.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            await self._start(message["status"], list(message.get("headers", [])))
        elif message["type"] == "http.response.body":
            await self._write(message.get("body", b""), message.get("more_body", False))

    async def _start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        quirks, request = self.quirks, self.request
        if quirks.drop_client_errors and 400 <= status < 500:
            raise _Drop
        if status == 405 and quirks.drop_allow:
            headers = [(k, v) for k, v in headers if k.lower() != b"allow"]
        if status == 405 and quirks.not_found_for_methods:
            status = 404
        names = {k.lower() for k, _ in headers}
        if b"connection" in names and any(
            k.lower() == b"connection" and v.lower() == b"close" for k, v in headers
        ):
            request.keep_alive = False
        if b"content-length" not in names:
            if request.version == "1.1" or quirks.chunked_for_http10:
                self.chunked = True
                headers.append((b"transfer-encoding", b"chunked"))
            else:
                request.keep_alive = False
        if not request.keep_alive and b"connection" not in names:
            headers.append((b"connection", b"close"))
        lines = [f"HTTP/1.1 {status} {_phrase(status)}".encode()]
        lines += [k + b": " + v for k, v in headers]
        self.writer.write(b"\r\n".join(lines) + b"\r\n\r\n")
        self.started = True

    async def _write(self, data: bytes, more: bool) -> None:
        if self.writer.transport.is_closing():  # the client left: the app hears of it
            raise ConnectionResetError("the client closed the connection")
        if self.request.method == "HEAD":  # no content (the quirk: the body, as it is)
            if self.quirks.body_for_head and data:
                self.writer.write(data)
            await self.writer.drain()
            return
        if data:
            self.writer.write(b"%x\r\n%s\r\n" % (len(data), data) if self.chunked else data)
        if not more and self.chunked:
            self.writer.write(b"0\r\n\r\n")
        await self.writer.drain()


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
