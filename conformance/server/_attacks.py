"""Body hooks of the hostile faults an ASGI app can still serve: stalls, floods, bombs.

These attack the client rather than a protocol rule: a suite that hangs or runs out of
memory on them gives no verdict. Endless bodies pause (`sleep(0)`) between writes so that
a client's disconnect can cancel them: once the peer is gone, uvicorn's `send` returns
without suspending, and a loop that never suspends could not be stopped.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator, Iterator

import orjson

from ._request import DEFAULT_MODEL
from ._wire import encode_event

STALL_SECONDS = 3600.0
HUGE_LINE = 100 * 1024 * 1024
"""Bytes of the one line (no line break) the `huge-line` fault sends."""
BOMB_MIB = 4096
"""MiB the `gzip-bomb` body inflates to."""
DRIP_SECONDS = 1.0
"""Pause between the single bytes of the `slow-drip` fault."""
WRITE = 64 * 1024
"""Bytes per write of the floods."""
TOOL_CALLS = 15_000
"""Tool calls (without `index`) the `tool-call-flood` fault lists in one chunk (~214 KB)."""
DEEP = 100_000
"""Levels of nesting of the `deep-json` fault's delta field."""


async def stall_first(body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Send the response head, then nothing for an hour."""
    await asyncio.sleep(STALL_SECONDS)
    async for event in body:
        yield event


async def endless(body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The opening event, then the content events again and again, never a finish or [DONE]."""
    events = [event async for event in body]
    yield events[0]
    middle = b"".join(events[1:-2]) or events[0]
    batch = middle * (WRITE // len(middle) + 1)
    while True:
        yield batch
        await asyncio.sleep(0)


async def huge_line(body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """`data: ` and then HUGE_LINE bytes of `x` without a line break."""
    yield b"data: "
    piece = b"x" * WRITE
    for _ in range(HUGE_LINE // WRITE):
        yield piece
        await asyncio.sleep(0)


async def drip(body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The normal stream, one byte every DRIP_SECONDS (never idle long enough to time out)."""
    async for event in body:
        for position in range(len(event)):
            yield event[position : position + 1]
            await asyncio.sleep(DRIP_SECONDS)


async def gzip_bomb(body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """A valid gzip member of BOMB_MIB MiB of chunk events (~250:1; DEFLATE caps one layer
    at ~1000:1), built from one compressed MiB repeated: after a full flush, deflate
    restarts from scratch, so the same input compresses to the same bytes."""
    for piece in _bomb():  # the request was valid: the bomb instead of its answer
        yield piece
        await asyncio.sleep(0)


def _bomb() -> Iterator[bytes]:
    event = encode_event(
        orjson.dumps(
            {
                "id": "chatcmpl-bomb",
                "object": "chat.completion.chunk",
                "created": 1_764_086_400,
                "model": DEFAULT_MODEL,
                "choices": [{"index": 0, "delta": {"content": "boom "}, "finish_reason": None}],
            }
        )
    )
    plain = event * (1024 * 1024 // len(event))
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    yield deflate.compress(plain) + deflate.flush(zlib.Z_FULL_FLUSH)
    segment = deflate.compress(plain) + deflate.flush(zlib.Z_FULL_FLUSH)
    yield segment
    for _ in range(BOMB_MIB - 2):  # the deflater would write `segment` again: skip the work
        yield segment
    final = deflate.flush(zlib.Z_FINISH)[:-8]  # its trailer counts two segments only
    yield final + _gzip_trailer(plain)


def _gzip_trailer(plain: bytes) -> bytes:
    """CRC-32 and size (mod 2**32) of BOMB_MIB times `plain`."""
    crc = 0
    for _ in range(BOMB_MIB):
        crc = zlib.crc32(plain, crc)
    size = (len(plain) * BOMB_MIB) & 0xFFFFFFFF
    return crc.to_bytes(4, "little") + size.to_bytes(4, "little")


def tool_call_flood(payloads: list[bytes]) -> list[bytes]:
    """The opening chunk's delta also lists TOOL_CALLS calls, each a bare `{"id": ...}`."""
    calls = b",".join(b'{"id":"%d"}' % i for i in range(TOOL_CALLS))
    first = payloads[0].replace(b'"delta":{', b'"delta":{"tool_calls":[' + calls + b"],", 1)
    return [first, *payloads[1:]]


def deep_json(payloads: list[bytes]) -> list[bytes]:
    """The second chunk's delta carries a field nested DEEP levels deep."""
    deep = b"[" * DEEP + b"]" * DEEP
    second = payloads[1].replace(b'"delta":{', b'"delta":{"x":' + deep + b",", 1)
    return [payloads[0], second, *payloads[2:]]


def hostile_strings(payloads: list[bytes]) -> list[bytes]:
    """Strings no output may write as they are: a role and an id with lone surrogates and
    control characters (JSON escapes, valid JSON), content of lone surrogates, and an event
    of raw control bytes."""
    role = b'"role":"assistant\\u0000\\u001b[2J\\u0007\\ud800"'
    first = payloads[0].replace(b'"role":"assistant"', role, 1)
    raw = b"\x00\x1b[2J\x1b]0;pwned\x07 not json \xc2\x9b"
    rest = [p.replace(b'"content":"', b'"content":"\\ud800\\udfff', 1) for p in payloads[1:]]
    changed = [first, raw, *rest]
    return [p.replace(b'"id":"chatcmpl-', b'"id":"chatcmpl-\\udfff', 1) for p in changed]


async def long_event(body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The opening event, then one event of data lines without end: `data: {},` again and
    again (a JSON array of empty objects, were it ever closed), never the blank line."""
    events = [event async for event in body]
    yield events[0]
    yield b"data: [\n"
    batch = b"data: {},\n" * (WRITE // 10)
    while True:
        yield batch
        await asyncio.sleep(0)
