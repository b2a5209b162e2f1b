"""Assembling a message from chunk deltas, as the client libraries document it, and the
checker's own reconstruction in the same shape."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from conformance._model import ChoiceRead, Reading, ToolCallRead

if TYPE_CHECKING:
    from conformance._state import StreamState


@dataclass(slots=True)
class _Call:
    index: int
    id: str | None = None
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Choice:
    index: int
    content: list[str] = field(default_factory=list)
    calls: dict[int, _Call] = field(default_factory=dict)
    finish_reason: str | None = None


class Accumulator:
    """Adds up the chunk objects a library delivered (as plain dicts) into a `Reading`."""

    def __init__(self) -> None:
        self.chunks = 0
        self._choices: dict[int, _Choice] = {}

    def add(self, chunk: Mapping[str, Any]) -> None:
        """Take one delivered chunk into account."""
        self.chunks += 1
        if not isinstance(chunk, Mapping):
            return
        for choice in chunk.get("choices") or ():
            if isinstance(choice, Mapping) and type(choice.get("index")) is int:
                self._choice(choice)

    def _choice(self, choice: Mapping[str, Any]) -> None:
        state = self._choices.setdefault(choice["index"], _Choice(choice["index"]))
        delta = choice.get("delta") or {}
        if isinstance(delta.get("content"), str):
            state.content.append(delta["content"])
        for call in delta.get("tool_calls") or ():
            if isinstance(call, Mapping):
                _add_call(state, call)
        if choice.get("finish_reason") and state.finish_reason is None:
            state.finish_reason = str(choice["finish_reason"])

    def reading(self, error: str | None = None) -> Reading:
        """What was read so far (and the error that ended it, if any)."""
        choices = tuple(
            ChoiceRead(
                c.index,
                "".join(c.content),
                tuple(
                    ToolCallRead(t.index, t.id, t.name, "".join(t.arguments))
                    for _, t in sorted(c.calls.items())
                ),
                c.finish_reason,
            )
            for _, c in sorted(self._choices.items())
        )
        return Reading(choices, self.chunks, error)


def _add_call(state: _Choice, call: Mapping[str, Any]) -> None:
    index = call["index"] if type(call.get("index")) is int else len(state.calls)
    tool = state.calls.setdefault(index, _Call(index))
    if call.get("id") and tool.id is None:
        tool.id = str(call["id"])
    function = call.get("function") or {}
    if function.get("name") and not tool.name:
        tool.name = str(function["name"])
    if isinstance(function.get("arguments"), str):
        tool.arguments.append(function["arguments"])


def accumulate(chunks: Iterable[Mapping[str, Any]]) -> Reading:
    """The reading of a whole list of chunks."""
    accumulator = Accumulator()
    for chunk in chunks:
        accumulator.add(chunk)
    return accumulator.reading()


def sent_reading(state: StreamState) -> Reading:
    """The checker's reconstruction (its stream state, kept with `keep_text`) as a Reading."""
    choices = []
    for index, choice in sorted(state.choices.items()):
        calls = tuple(
            ToolCallRead(
                call.index,
                call.id,
                call.name or "",
                "".join(call.arguments)
                if call.whole is None
                else orjson.dumps(call.whole).decode(),
            )
            for _, call in sorted(choice.tools.items())
        )
        choices.append(ChoiceRead(index, "".join(choice.text), calls, choice.finish_reason))
    return Reading(tuple(choices), state.chunks)
