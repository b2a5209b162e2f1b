"""Builders for test streams: conformant chunk lists and SSE bodies, and ways to break them."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import orjson

from conformance._check import StreamChecker, StreamResult
from conformance._model import Exchange, Limits

MODEL = "alphaedge-large-3-2512"


def chunk(
    content: str | None = None,
    *,
    role: bool = False,
    finish: str | None = None,
    index: int = 0,
    cid: str = "chatcmpl-abc123",
    created: int = 1_764_000_000,
    **extra: Any,
) -> dict[str, Any]:
    """One chunk with a single choice."""
    delta: dict[str, Any] = {}
    if role:
        delta["role"] = "assistant"
    if content is not None:
        delta["content"] = content
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": MODEL,
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
        **extra,
    }


def completion(text: tuple[str, ...] = ("Hel", "lo", "!"), **kw: Any) -> list[dict[str, Any]]:
    """A conformant completion: role chunk, content chunks, finish chunk."""
    return [chunk("", role=True, **kw), *(chunk(t, **kw) for t in text), chunk(finish="stop", **kw)]


def sse(payloads: list[Any], *, done: bool = True, eol: str = "\n", space: str = " ") -> bytes:
    """An SSE body: one `data:` event per payload (dicts are JSON-encoded), then [DONE]."""
    events = [p if isinstance(p, str) else orjson.dumps(p).decode() for p in payloads]
    if done:
        events.append("[DONE]")
    return "".join(f"data:{space}{e}{eol}{eol}" for e in events).encode()


def good_body() -> bytes:
    """A conformant stream body."""
    return sse(completion())


def mutated(change: Any) -> list[dict[str, Any]]:
    """A conformant completion after `change(chunks)` modified a deep copy of it."""
    chunks = copy.deepcopy(completion())
    change(chunks)
    return chunks


def ok_exchange(
    content_type: str = "text/event-stream; charset=utf-8", status: int = 200
) -> Exchange:
    """A response head as the client would have recorded it."""
    return Exchange(status=status, reason="OK", response_headers=[("content-type", content_type)])


def check(
    body: bytes,
    *,
    exchange: Exchange | None = None,
    live: bool = False,
    n: int | None = 1,
    pieces: list[int] | None = None,
    started_at: float | None = None,
    limits: Limits | None = None,
) -> StreamResult:
    """Run the checker over `body`, fed whole or split at the `pieces` offsets."""
    checker = StreamChecker(live=live, requested_n=n, keep_text=True, limits=limits)
    checker.state.started_at = started_at
    if checker.check_response(exchange or ok_exchange()):
        cuts = [0, *(pieces or []), len(body)]
        for start, end in itertools.pairwise(cuts):
            if not checker.feed(body[start:end]):
                break
    return checker.finish()


def read_request_body(rfile: Any) -> bytes:
    """Read one HTTP/1.1 request head from `rfile` and return its body (Content-Length)."""
    length = 0
    while (line := rfile.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return bytes(rfile.read(length))
