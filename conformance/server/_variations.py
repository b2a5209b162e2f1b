"""The catalogue of variations: legal ways of streaming that a strict checker must accept."""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.responses import Response

from ._behaviour import Behaviour, each_event, rewrite
from ._reply import Chunk
from ._request import RequestError
from ._wire import DONE, json_response

KEEP_ALIVE = b": keep-alive\n\n"
SPLIT_SIZES = (1, 3, 7, 2, 5, 1, 6, 4)
"""Byte counts the `byte-split` variation cycles through."""
MODEL_DATE = "2026-01-15"
_DATA_SPACE = re.compile(rb"^data: ", re.MULTILINE)
_PARAM_PART = re.compile(r"[^.\[\]]+")
_FASTAPI_TYPES = {
    "missing_required_parameter": "missing",
    "invalid_json": "json_invalid",
    "invalid_type": "type_error",
}


@dataclass(frozen=True, slots=True)
class Variation:
    """A named, legal way of streaming that differs from the plain one."""

    name: str
    description: str
    behaviour: Behaviour = field(default=Behaviour(), repr=False, compare=False)


def _comments(events: list[bytes]) -> list[bytes]:
    spaced = [KEEP_ALIVE, b":\n\n"]
    for event in events:
        spaced += [event, KEEP_ALIVE]
    return spaced[:-1]


def _field_blocks(events: list[bytes]) -> list[bytes]:
    """A `retry:` block before the first event and an `event: ping` block before each other
    one: blocks without a data line, which a client must not dispatch."""
    spaced = [b"retry: 3000\n\n" + events[0]]
    for event in events[1:]:
        spaced += [b"event: ping\n\n", event]
    return spaced


def _fields(events: list[bytes]) -> list[bytes]:
    return [
        (b"retry: 3000\n" if i == 0 else b"") + b"event: message\nid: %d\n" % (i + 1) + e
        for i, e in enumerate(events)
    ]


def _pretty(payloads: list[bytes]) -> list[bytes]:
    return [
        p if p == DONE else orjson.dumps(orjson.loads(p), option=orjson.OPT_INDENT_2)
        for p in payloads
    ]


def _with_extras(chunk: Chunk) -> Chunk:
    choices = [
        {**c, "x_vendor": {"shard": 7}, "delta": {**c["delta"], "x_vendor": "alpha"}}
        for c in chunk["choices"]
    ]
    return {
        **chunk,
        "system_fingerprint": "fp_alphaedge_3",
        "x_vendor": {"region": "eu"},
        "choices": choices,
    }


def _is_content(chunk: Chunk) -> bool:
    choice = chunk["choices"][0] if chunk["choices"] else {"finish_reason": "none"}
    return choice["finish_reason"] is None and "role" not in choice["delta"]


def _empty_deltas(chunks: list[Chunk]) -> list[Chunk]:
    padded = []
    for position, chunk in enumerate(chunks):
        padded.append(chunk)
        if position % 3 == 1 and _is_content(chunk):
            blank = [{**c, "delta": {}, "finish_reason": None} for c in chunk["choices"]]
            padded.append({**chunk, "choices": blank})
    return padded


async def _byte_split(body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    sizes = itertools.cycle(SPLIT_SIZES)
    async for event in body:
        start = 0
        while start < len(event):
            size = next(sizes)
            yield event[start : start + size]
            start += size


async def _gzip(body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    compressor = zlib.compressobj(wbits=31)
    async for event in body:
        yield compressor.compress(event) + compressor.flush(zlib.Z_SYNC_FLUSH)
    yield compressor.flush()


def _fastapi_error(error: RequestError) -> Response:
    loc: list[Any] = ["body"]
    loc += [int(p) if p.isdigit() else p for p in _PARAM_PART.findall(error.param or "")]
    detail = {
        "loc": loc,
        "msg": error.message,
        "type": _FASTAPI_TYPES.get(error.code, "value_error"),
    }
    return json_response({"detail": [detail]}, 422 if error.status == 400 else error.status)


_B = Behaviour
_CRLF = each_event(lambda e: e.replace(b"\n", b"\r\n"))
_CATALOGUE = (
    Variation("crlf", "Lines end with CRLF.", _B(events=(_CRLF,))),
    Variation(
        "cr",
        "Lines end with a bare CR.",
        _B(events=(each_event(lambda e: e.replace(b"\n", b"\r")),)),
    ),
    Variation(
        "no-space",
        "`data:{...}` with no space after the colon.",
        _B(events=(each_event(lambda e: _DATA_SPACE.sub(b"data:", e)),)),
    ),
    Variation(
        "comments",
        "`: keep-alive` comments before and between events, and a bare `:`.",
        _B(events=(_comments,)),
    ),
    Variation(
        "bom",
        "The body starts with one UTF-8 byte order mark.",
        _B(events=(lambda es: [b"\xef\xbb\xbf" + es[0], *es[1:]],)),
    ),
    Variation(
        "keep-alive-first",
        "One `: keep-alive` comment block before the first event, and no other comment.",
        _B(events=(lambda es: [KEEP_ALIVE + es[0], *es[1:]],)),
    ),
    Variation(
        "field-blocks",
        "Blocks with only `retry:` or `event:` lines and no data (not dispatched), before "
        "the events.",
        _B(events=(_field_blocks,)),
    ),
    Variation(
        "charset-ascii",
        "Content-Type `text/event-stream; charset=iso-8859-1` on an ASCII body (SSE is "
        "always UTF-8; the parameter is ignored).",
        _B(media_type="text/event-stream; charset=iso-8859-1"),
    ),
    Variation(
        "charset-latin1",
        "Content-Type `text/event-stream; charset=iso-8859-1` on a non-ASCII reply, sent "
        "as UTF-8 as SSE always is.",
        _B(greeting="Héllo 👋!", media_type="text/event-stream; charset=iso-8859-1"),
    ),
    Variation(
        "multiline-data",
        "Each JSON payload is pretty-printed over several data lines.",
        _B(payloads=(_pretty,)),
    ),
    Variation(
        "fields",
        "Events carry `event: message`, `id: <n>` and (first) `retry: 3000`.",
        _B(events=(_fields,)),
    ),
    Variation(
        "byte-split",
        "The body is written 1-7 bytes at a time with CRLF line endings and "
        "a non-ASCII reply, splitting UTF-8 characters and CR LF pairs.",
        _B(greeting="Héllo 👋!", events=(_CRLF,), body=(_byte_split,)),
    ),
    Variation(
        "gzip",
        "The body is gzip-compressed (Content-Encoding: gzip), flushed per event.",
        _B(body=(_gzip,), headers=(("Content-Encoding", "gzip"),)),
    ),
    Variation(
        "extra-fields",
        "Unknown fields on chunks, choices and deltas.",
        _B(chunks=(lambda chunks: [_with_extras(c) for c in chunks],)),
    ),
    Variation(
        "empty-deltas",
        "Some chunks mid-stream carry an empty delta `{}`.",
        _B(chunks=(_empty_deltas,)),
    ),
    Variation(
        "dated-model",
        f"The model is the requested alias plus `-{MODEL_DATE}`.",
        _B(chunks=(rewrite("model", lambda model, _: f"{model}-{MODEL_DATE}"),)),
    ),
    Variation("slow", "0.3 s between events.", _B(delay=0.3)),
    Variation(
        "error-422",
        "Client mistakes are answered 422 with a FastAPI-style `detail` list.",
        _B(render_error=_fastapi_error),
    ),
)

VARIATIONS: dict[str, Variation] = {variation.name: variation for variation in _CATALOGUE}
"""Every variation by name."""
