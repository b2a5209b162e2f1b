"""What the checker has learnt about one stream so far; rules read it, the checker updates it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DONE = "[DONE]"


@dataclass(slots=True)
class ChoiceState:
    """The life of one choice index across the chunks of a completion."""

    index: int
    first_event: int
    last_event: int
    deltas: int = 0
    finish_reason: str | None = None
    finished_at: int | None = None
    text: list[str] = field(default_factory=list)
    tools: dict[int, ToolCallState] = field(default_factory=dict)


@dataclass(slots=True)
class ToolCallState:
    """One tool call of a choice, assembled from its deltas (keyed by its `index`)."""

    index: int
    first_event: int
    deltas: int = 0
    id: str | None = None
    name: str | None = None
    arguments: list[str] = field(default_factory=list)
    whole: Any = None  # arguments sent as a JSON value rather than a string (Mistral)


@dataclass(slots=True)
class StreamState:
    """Facts gathered while a stream is read; `update` is called after the chunk rules ran."""

    live: bool = False
    requested_n: int | None = None
    started_at: float | None = None
    keep_text: bool = False
    events: int = 0
    chunks: int = 0
    first_id: Any = None
    first_created: Any = None
    first_model: Any = None
    first_chunk_event: int | None = None
    choices: dict[int, ChoiceState] = field(default_factory=dict)
    finished: int = 0  # choices that have received their finish_reason
    done_event: int | None = None
    done_offset: int | None = None
    after_done: list[int] = field(default_factory=list)
    aborted: list[tuple[int, str]] = field(default_factory=list)  # (event, why) it was given up
    first_content_event: int | None = None  # the first event with content characters
    pending_data: str | None = None
    pending_offset: int | None = None
    request_known: bool = False
    include_usage: bool | None = None  # stream_options.include_usage, when the request is known
    usage_chunks: int = 0  # chunks carrying a non-null `usage`
    usage_event: int | None = None  # the first of them

    def update(self, event_index: int, chunk: dict[str, Any]) -> None:
        """Record one chunk object (after every chunk rule has seen it)."""
        if self.chunks == 0:
            self.first_id = chunk.get("id")
            self.first_created = chunk.get("created")
            self.first_model = chunk.get("model")
            self.first_chunk_event = event_index
        self.chunks += 1
        if chunk.get("usage") is not None:
            self.usage_chunks += 1
            if self.usage_event is None:
                self.usage_event = event_index
        choices = chunk.get("choices")
        if type(choices) is list:
            for choice in choices:
                if type(choice) is dict:
                    self._update_choice(event_index, choice)

    def _update_choice(self, event_index: int, choice: dict[str, Any]) -> None:
        index = choice.get("index")
        if type(index) is not int:
            return
        state = self.choices.get(index)
        if state is None:
            state = self.choices[index] = ChoiceState(index, event_index, event_index)
        state.last_event = event_index
        state.deltas += 1
        reason = choice.get("finish_reason")
        if reason is not None and state.finished_at is None:
            state.finish_reason = str(reason)
            state.finished_at = event_index
            self.finished += 1
        delta = choice.get("delta")
        if type(delta) is not dict:
            return
        if self.first_content_event is None and delta.get("content"):
            self.first_content_event = event_index
        calls = delta.get("tool_calls")
        if type(calls) is list and calls:
            _update_tools(state, event_index, calls)
        if self.keep_text:
            _keep_text(state, delta)


def _keep_text(state: ChoiceState, delta: dict[str, Any]) -> None:
    content = delta.get("content")
    if type(content) is str:
        state.text.append(content)
    elif type(content) is list:  # typed content parts (Mistral): keep the text parts
        state.text.extend(
            part["text"]
            for part in content
            if type(part) is dict and part.get("type") == "text" and type(part.get("text")) is str
        )


def tool_call_key(choice: ChoiceState, call: dict[str, Any]) -> int:
    """The call a tool-call delta belongs to: its `index`; without one (Mistral sends whole
    calls without it), a delta bringing a new `id` starts the next call, others continue
    the latest call."""
    index = call.get("index")
    if type(index) is int:
        return index
    known = {c.id for c in choice.tools.values()}
    new_id = type(call.get("id")) is str and call["id"] and call["id"] not in known
    if not choice.tools:
        return 0
    latest = max(choice.tools.values(), key=lambda c: c.first_event).index
    return max(choice.tools) + 1 if new_id else latest


def _update_tools(state: ChoiceState, event_index: int, calls: list[Any]) -> None:
    for call in calls:
        if type(call) is not dict:
            continue
        key = tool_call_key(state, call)
        tool = state.tools.get(key)
        if tool is None:
            tool = state.tools[key] = ToolCallState(key, event_index)
        tool.deltas += 1
        _update_call(tool, call)


def _update_call(tool: ToolCallState, call: dict[str, Any]) -> None:
    if tool.id is None and type(call.get("id")) is str and call["id"]:
        tool.id = call["id"]
    function = call.get("function")
    if type(function) is not dict:
        return
    name, arguments = function.get("name"), function.get("arguments")
    if tool.name is None and type(name) is str and name:
        tool.name = name
    if type(arguments) is str:
        tool.arguments.append(arguments)
    elif arguments is not None:
        tool.whole = arguments
