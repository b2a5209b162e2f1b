"""How a fault or variation changes the server: hooks on each stage of the response.

A response is built in stages, and each stage is a list that hooks may rewrite:
request headers -> request body -> validated request -> chunk dicts -> event payloads ->
event bytes -> body stream. A `Behaviour` names the hooks of one fault or variation; the
clean server is the empty `Behaviour()`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, fields
from itertools import chain
from typing import Any

from starlette.responses import Response

from ._reply import Chunk
from ._request import ChatRequest, RequestError

BodyHook = Callable[[AsyncIterator[bytes]], AsyncIterator[bytes]]


@dataclass(frozen=True, slots=True)
class Behaviour:
    """Hooks applied, in order, to the stages of one response (all optional)."""

    inspect: tuple[Callable[[Mapping[str, str]], None], ...] = ()  # the request's headers
    decode: Callable[[bytes], object] | None = None
    prepare: tuple[Callable[[object], object], ...] = ()
    admit: tuple[Callable[[ChatRequest], None], ...] = ()
    render_error: Callable[[RequestError], Response] | None = None
    greeting: str | None = None
    chunks: tuple[Callable[[list[Chunk]], list[Chunk]], ...] = ()
    payloads: tuple[Callable[[list[bytes]], list[bytes]], ...] = ()
    events: tuple[Callable[[list[bytes]], list[bytes]], ...] = ()
    body: tuple[BodyHook, ...] = ()
    media_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    delay: float | None = None


def combine(*behaviours: Behaviour) -> Behaviour:
    """One behaviour doing all of `behaviours`: hooks chained in order, later settings win."""
    merged: dict[str, Any] = {}
    for spec in fields(Behaviour):
        values = [getattr(behaviour, spec.name) for behaviour in behaviours]
        if isinstance(spec.default, tuple):
            merged[spec.name] = tuple(chain.from_iterable(values))
        else:
            merged[spec.name] = next((v for v in reversed(values) if v is not None), None)
    return Behaviour(**merged)


def apply(hooks: tuple[Callable[[list[Any]], list[Any]], ...], items: list[Any]) -> list[Any]:
    """`items` passed through each of `hooks` in turn."""
    for hook in hooks:
        items = hook(items)
    return items


def rewrite(
    key: str, make: Callable[[Any, int], Any], start: int = 0, stop: int | None = None
) -> Callable[[list[Chunk]], list[Chunk]]:
    """Hook setting `chunk[key] = make(chunk[key], position)` on chunks[start:stop]."""

    def hook(chunks: list[Chunk]) -> list[Chunk]:
        end = len(chunks) if stop is None else stop
        return [
            {**chunk, key: make(chunk[key], i)} if start <= i < end else chunk
            for i, chunk in enumerate(chunks)
        ]

    return hook


def each_choice(
    edit: Callable[[dict[str, Any]], Any], start: int = 0, stop: int | None = None
) -> Callable[[list[Chunk]], list[Chunk]]:
    """Hook applying `edit` to every choice of chunks[start:stop]."""
    return rewrite("choices", lambda choices, _: [edit(c) for c in choices], start, stop)


def each_event(edit: Callable[[bytes], bytes]) -> Callable[[list[bytes]], list[bytes]]:
    """Hook applying `edit` to the bytes of every event."""
    return lambda events: [edit(event) for event in events]
