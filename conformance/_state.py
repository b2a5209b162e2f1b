"""What the checker has learnt about one stream so far; rules read it, the checker updates it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DONE = "[DONE]"

MAX_CHOICES = 1024
"""Choice indexes one stream may bring (OpenAI's `n` is at most 128)."""
MAX_TOOL_CALLS = 1024
"""Tool calls one stream may start, all choices together."""
MAX_KEPT = 32 * 1024 * 1024
"""Bytes of memory the text and tool-call arguments of a stream may take, each fragment
counted with FRAGMENT_COST more: a target sending them one character at a time costs what
it costs to keep them, and that is bounded."""
FRAGMENT_COST = 64


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
    tool_ids: set[str] = field(default_factory=set)  # the ids of `tools`, kept as they come
    latest_tool: int | None = None  # the key of the call started last
    top_tool: int = -1  # the highest key of `tools`

    def add_tool(self, key: int, event_index: int) -> ToolCallState:
        """Start the tool call `key` (the bookkeeping stays O(1) per call)."""
        tool = self.tools[key] = ToolCallState(key, event_index)
        self.latest_tool = key
        self.top_tool = max(self.top_tool, key)
        return tool


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
    tool_calls: int = 0  # started, all choices together
    kept: int = 0  # memory taken by text and tool-call arguments (see MAX_KEPT)
    text_cut: bool = False  # text was no longer kept past MAX_KEPT (it is not judged)
    over: str | None = None  # what the stream brought more of than the client keeps track of
    epoch: int = 0  # counts the changes `Rule.quiet` and `plain_schema` may depend on

    def plain_schema(self) -> dict[str, Any]:
        """The chunks that `update` takes in without changing `epoch` or any tracking but
        the counts and the text: one entry, for a choice already seen and not finished, no
        finish reason, no tool call, no usage (`update_plain` takes them in faster)."""
        open_indexes = [i for i, c in self.choices.items() if c.finished_at is None]
        entry = {
            "type": "object",
            "required": ["index"],
            "properties": {
                "index": {"enum": open_indexes},
                "finish_reason": {"type": "null"},
                "delta": {"properties": {"tool_calls": {"type": "null"}}},
            },
        }
        return {
            "type": "object",
            "required": ["choices"],
            "properties": {
                "usage": {"type": "null"},
                "choices": {"type": "array", "minItems": 1, "maxItems": 1, "items": entry},
            },
        }

    def update_plain(self, event_index: int, chunk: dict[str, Any]) -> bool:
        """`update` for a chunk of `plain_schema` (validated by the caller): the same changes,
        fewer steps. False, and nothing changed, when its index is not an open choice's."""
        entry = chunk["choices"][0]
        index = entry["index"]
        state = self.choices.get(index) if type(index) is int else None
        if state is None or state.finished_at is not None or self.chunks == 0:
            return False
        self.chunks += 1
        state.last_event = event_index
        state.deltas += 1
        delta = entry.get("delta")
        if type(delta) is dict:
            if self.first_content_event is None and delta.get("content"):
                self.first_content_event = event_index
            if self.keep_text and not self.text_cut:
                self._keep_text(state, delta)
        return True

    def update(self, event_index: int, chunk: dict[str, Any]) -> None:
        """Record one chunk object (after every chunk rule has seen it)."""
        if self.chunks == 0:
            self.first_id = chunk.get("id")
            self.first_created = chunk.get("created")
            self.first_model = chunk.get("model")
            self.first_chunk_event = event_index
            self.epoch += 1
        self.chunks += 1
        if chunk.get("usage") is not None:
            self.epoch += 1
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
            if len(self.choices) >= MAX_CHOICES:
                self.over = f"more than {MAX_CHOICES:,} choice indexes"
                return
            state = self.choices[index] = ChoiceState(index, event_index, event_index)
            self.epoch += 1
        state.last_event = event_index
        state.deltas += 1
        reason = choice.get("finish_reason")
        if reason is not None and state.finished_at is None:
            state.finish_reason = str(reason)
            state.finished_at = event_index
            self.finished += 1
            self.epoch += 1
        delta = choice.get("delta")
        if type(delta) is not dict:
            return
        if self.first_content_event is None and delta.get("content"):
            self.first_content_event = event_index
        calls = delta.get("tool_calls")
        if type(calls) is list and calls:
            self._update_tools(state, event_index, calls)
        if self.keep_text and not self.text_cut:
            self._keep_text(state, delta)

    def _keep_text(self, state: ChoiceState, delta: dict[str, Any]) -> None:
        content = delta.get("content")
        if type(content) is str:
            parts = [content]
        elif type(content) is list:  # typed content parts (Mistral): keep the text parts
            parts = [
                part["text"]
                for part in content
                if type(part) is dict
                and part.get("type") == "text"
                and type(part.get("text")) is str
            ]
        else:
            return
        self.kept += sum(map(len, parts)) + FRAGMENT_COST * len(parts)
        if self.kept > MAX_KEPT:
            self.text_cut = True
        else:
            state.text += parts

    def _update_tools(self, state: ChoiceState, event_index: int, calls: list[Any]) -> None:
        for call in calls:
            if type(call) is not dict:
                continue
            key = tool_call_key(state, call)
            tool = state.tools.get(key)
            if tool is None:
                if self.tool_calls >= MAX_TOOL_CALLS:
                    self.over = f"more than {MAX_TOOL_CALLS:,} tool calls"
                    return
                self.tool_calls += 1
                tool = state.add_tool(key, event_index)
            tool.deltas += 1
            self._update_call(state, tool, call)

    def _update_call(self, choice: ChoiceState, tool: ToolCallState, call: dict[str, Any]) -> None:
        if tool.id is None and type(call.get("id")) is str and call["id"]:
            tool.id = call["id"]
            choice.tool_ids.add(tool.id)
        function = call.get("function")
        if type(function) is not dict:
            return
        name, arguments = function.get("name"), function.get("arguments")
        if tool.name is None and type(name) is str and name:
            tool.name = name
        if type(arguments) is str:
            self.kept += len(arguments) + FRAGMENT_COST
            if self.kept > MAX_KEPT:
                self.over = f"more than {MAX_KEPT >> 20} MiB of tool-call arguments and text"
            else:
                tool.arguments.append(arguments)
        elif arguments is not None:
            tool.whole = arguments


def tool_call_key(choice: ChoiceState, call: dict[str, Any]) -> int:
    """The call a tool-call delta belongs to: its `index`; without one (Mistral sends whole
    calls without it), a delta bringing a new `id` starts the next call, others continue
    the call started last. Constant time: a chunk may list thousands of calls."""
    index = call.get("index")
    if type(index) is int:
        return index
    if choice.latest_tool is None:
        return 0
    new_id = type(call.get("id")) is str and call["id"] and call["id"] not in choice.tool_ids
    return choice.top_tool + 1 if new_id else choice.latest_tool
