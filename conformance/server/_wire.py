"""Bytes on the wire: JSON responses, error bodies, SSE events, and their pacing."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Mapping

import orjson
from starlette.responses import Response

from ._request import RequestError

DONE = b"[DONE]"
SSE_MEDIA_TYPE = "text/event-stream; charset=utf-8"


def json_response(
    value: object, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """`value` as a compact JSON response."""
    return Response(orjson.dumps(value), status, headers, media_type="application/json")


def error_body(
    message: str, *, param: str | None = None, code: str | None = None, status: int = 400
) -> dict[str, object]:
    """An OpenAI-style error object."""
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def openai_error(error: RequestError) -> Response:
    """The documented way of refusing a request: an OpenAI-style JSON error."""
    body = error_body(error.message, param=error.param, code=error.code, status=error.status)
    return json_response(body, error.status)


def encode_event(payload: bytes) -> bytes:
    """One SSE event carrying `payload`, one `data:` line per line of it."""
    return b"".join(b"data: " + line + b"\n" for line in payload.split(b"\n")) + b"\n"


async def paced(events: list[bytes], delay: float) -> AsyncIterator[bytes]:
    """Yield each event on its own, `delay` seconds apart."""
    for position, event in enumerate(events):
        if position and delay > 0:
            await asyncio.sleep(delay)
        yield event


def tcp_listener(host: str, port: int) -> socket.socket:
    """A listening TCP socket on `host` (IPv4 or IPv6). Made with the TCP protocol number,
    unlike `socket.create_server`'s: asyncio sets TCP_NODELAY only on such sockets, and
    without it an answer's head and body are two writes the second of which waits for the
    client's delayed ACK (40 ms a request on a reused connection)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(socket.SOMAXCONN)
    except OSError:
        sock.close()
        raise
    return sock
