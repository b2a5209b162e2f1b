"""Answers no HTTP framework will write: exact bytes on a raw TCP connection.

Each `RawAnswer` receives the parsed request and the connection's writer, and writes
whatever broken HTTP its fault calls for (a garbage status line, a megabyte of headers, a
chunked body cut short, a reset in the middle of an event, a redirect elsewhere). They are
served by `HostileServer` (`_hostile.py`); the catalogue entries live in `_faults.py`.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import orjson

from ._reply import new_completion_id
from ._request import DEFAULT_MODEL
from ._wire import encode_event

OVERSIZED_HEADERS = 1024 * 1024
"""Bytes of response headers the `oversized-headers` fault sends (and then some)."""
_HEADER_LINE = b"X-Padding: " + b"a" * 8180 + b"\r\n"
HEAD_DRIP_SECONDS = 0.25
"""Pause between the header lines of the `slow-head` fault (far below any idle timeout)."""
STALL_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class RawRequest:
    """The request line, headers and body of one request to the hostile server."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""
    elsewhere: str = field(default="", repr=False)  # base URL of the recorder (redirects)


RawAnswer = Callable[[RawRequest, asyncio.StreamWriter], Awaitable[None]]


def _events(count: int = 3) -> list[bytes]:
    """The first `count` events of a conformant completion (role chunk, then content)."""
    envelope = {
        "id": new_completion_id(),
        "object": "chat.completion.chunk",
        "created": 1_764_086_400,
        "model": DEFAULT_MODEL,
    }
    deltas = [
        {"role": "assistant", "content": ""},
        *({"content": f"part {i} "} for i in range(1, count)),
    ]
    return [
        encode_event(
            orjson.dumps(
                {**envelope, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            )
        )
        for delta in deltas
    ]


def _head(status: str = "200 OK", *headers: bytes) -> bytes:
    lines = [f"HTTP/1.1 {status}".encode(), *headers, b"Connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


_SSE_HEAD = _head(
    "200 OK",
    b"Content-Type: text/event-stream; charset=utf-8",
    b"Cache-Control: no-cache",
    b"Transfer-Encoding: chunked",
)


async def garbage_status_line(request: RawRequest, writer: asyncio.StreamWriter) -> None:
    """A reply that is not HTTP at all."""
    writer.write(b"HELLO FROM A BROKEN SERVER \x00\xff\r\n\r\n")
    await writer.drain()


async def oversized_headers(request: RawRequest, writer: asyncio.StreamWriter) -> None:
    """A status line, then header lines for ever (past OVERSIZED_HEADERS, then closed)."""
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n")
    for _ in range(OVERSIZED_HEADERS // len(_HEADER_LINE) + 1):
        writer.write(_HEADER_LINE)
        await writer.drain()


async def close_without_last_chunk(request: RawRequest, writer: asyncio.StreamWriter) -> None:
    """Three whole events, then a clean close without the zero-length last chunk."""
    writer.write(_SSE_HEAD + b"".join(map(_chunked, _events())))
    await writer.drain()


async def reset_mid_event(request: RawRequest, writer: asyncio.StreamWriter) -> None:
    """Two events and half of a third, then a TCP reset (RST, not FIN)."""
    first, second, third = _events()
    writer.write(_SSE_HEAD + _chunked(first) + _chunked(second) + _chunked(third[:40]))
    await writer.drain()
    await asyncio.sleep(0.05)  # let the client read what was sent before the reset
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def redirect_elsewhere(request: RawRequest, writer: asyncio.StreamWriter) -> None:
    """307 to the same path on another host: a client that follows leaks its credentials."""
    location = f"{request.elsewhere}{request.path}".encode()
    writer.write(_head("307 Temporary Redirect", b"Location: " + location, b"Content-Length: 0"))
    await writer.drain()


async def slow_head(request: RawRequest, writer: asyncio.StreamWriter) -> None:
    """A status line, then a short header line every HEAD_DRIP_SECONDS, for ever: the head
    never ends, and the connection is never idle."""
    writer.write(b"HTTP/1.1 200 OK\r\n")
    number = 0
    while True:
        await writer.drain()
        await asyncio.sleep(HEAD_DRIP_SECONDS)
        number += 1
        writer.write(b"X-Slow-%d: a\r\n" % number)


async def interim_flood(request: RawRequest, writer: asyncio.StreamWriter) -> None:
    """Interim answers (`100 Continue`, `102 Processing`) as fast as the client reads them,
    for ever, and never a final response."""
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n" * 256
    while True:
        writer.write(interim)
        await writer.drain()
        await asyncio.sleep(0)
