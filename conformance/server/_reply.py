"""The deterministic reply: text or tool call, cut into pieces, wrapped into chunks."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ._request import ChatRequest

Chunk = dict[str, Any]
PIECE = 4
"""Characters per content piece; one piece counts as one token."""
GREETING = "Hello!"
QUOTE = 60
"""Characters of the last user message echoed in the reply."""
_SAMPLES: dict[str, object] = {
    "string": "Paris",
    "integer": 1,
    "number": 1.5,
    "boolean": True,
    "array": [],
    "object": {},
}


@dataclass(frozen=True, slots=True)
class Answer:
    """What one choice says: its opening delta, its pieces, and why it stops."""

    first: dict[str, Any]
    parts: list[dict[str, Any]]
    finish_reason: str
    message: dict[str, Any]


def new_completion_id() -> str:
    """A fresh completion id, unique per completion."""
    return f"chatcmpl-{uuid.uuid4().hex}"


def pieces(text: str, size: int = PIECE) -> list[str]:
    """`text` cut into pieces of `size` code points (never inside a character)."""
    return [text[start : start + size] for start in range(0, len(text), size)]


def message_text(message: dict[str, Any]) -> str:
    """The text of a message's content (string, or the text parts of an array)."""
    content = message.get("content")
    if isinstance(content, list):
        parts = (part.get("text") for part in content if isinstance(part, dict))
        return "".join(text for text in parts if isinstance(text, str))
    return content if isinstance(content, str) else ""


def answers(request: ChatRequest, greeting: str = GREETING) -> list[Answer]:
    """One answer per requested choice."""
    tool = _chosen_tool(request)
    if tool is not None:
        return [_tool_answer(request, tool) for _ in range(request.n)]
    return [_text_answer(request, greeting) for _ in range(request.n)]


def reply_text(request: ChatRequest, greeting: str) -> str:
    """The reply before `stop` and `max_tokens` apply."""
    said = next((message_text(m) for m in reversed(request.messages) if m["role"] == "user"), "")
    return f"{greeting} You said: {said[:QUOTE]}."


def _cut_at_stop(text: str, stops: tuple[str, ...]) -> str:
    cuts = [text.find(stop) for stop in stops if stop and stop in text]
    return text[: min(cuts)] if cuts else text


def _limit(parts: list[str], max_tokens: int | None, finish: str) -> tuple[list[str], str]:
    if max_tokens is not None and len(parts) > max_tokens:
        return parts[:max_tokens], "length"
    return parts, finish


def _text_answer(request: ChatRequest, greeting: str) -> Answer:
    text = _cut_at_stop(reply_text(request, greeting), request.stop)
    parts, finish = _limit(pieces(text), request.max_tokens, "stop")
    return Answer(
        first={"role": "assistant", "content": ""},
        parts=[{"content": part} for part in parts],
        finish_reason=finish,
        message={"role": "assistant", "content": "".join(parts)},
    )


def _chosen_tool(request: ChatRequest) -> dict[str, Any] | None:
    """The tool to call, or None when the reply is text."""
    choice = request.tool_choice
    if not request.tools or choice == "none" or request.messages[-1]["role"] != "user":
        return None
    function = choice.get("function") if isinstance(choice, dict) else None
    wanted = function.get("name") if isinstance(function, dict) else None
    named = (tool for tool in request.tools if tool["function"]["name"] == wanted)
    return next(named, request.tools[0])


def _tool_answer(request: ChatRequest, tool: dict[str, Any]) -> Answer:
    name = tool["function"]["name"]
    arguments = tool_arguments(tool["function"].get("parameters"))
    parts, finish = _limit(pieces(arguments), request.max_tokens, "tool_calls")
    call = {"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function"}
    first = {"index": 0, **call, "function": {"name": name, "arguments": ""}}
    whole = {**call, "function": {"name": name, "arguments": "".join(parts)}}
    return Answer(
        first={"role": "assistant", "content": None, "tool_calls": [first]},
        parts=[{"tool_calls": [{"index": 0, "function": {"arguments": p}}]} for p in parts],
        finish_reason=finish,
        message={"role": "assistant", "content": None, "tool_calls": [whole]},
    )


def tool_arguments(parameters: object) -> str:
    """A JSON object giving a sample value to each required property of `parameters`."""
    schema = parameters if isinstance(parameters, dict) else {}
    properties = schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    required = schema.get("required")
    names = [n for n in required if isinstance(n, str)] if isinstance(required, list) else []
    return json.dumps({name: _sample(properties.get(name)) for name in names})


def _sample(schema: object) -> object:
    if not isinstance(schema, dict):
        return "Paris"
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    kind = schema.get("type")
    return _SAMPLES.get(kind, "Paris") if isinstance(kind, str) else "Paris"


def usage(request: ChatRequest, replies: list[Answer]) -> dict[str, int]:
    """Token counts: one token per piece, plus one per prompt message."""
    prompt = sum(1 + len(pieces(message_text(m))) for m in request.messages)
    completion = sum(len(answer.parts) for answer in replies)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def stream_chunks(request: ChatRequest, replies: list[Answer]) -> list[Chunk]:
    """Every chunk of one streamed completion, choices interleaved, usage chunk last."""
    envelope: Chunk = {
        "id": new_completion_id(),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": request.model,
    }
    if request.include_usage:
        envelope["usage"] = None
    chunks = [
        {**envelope, "choices": [{"index": index, "delta": delta, "finish_reason": finish}]}
        for index, delta, finish in _interleave(replies)
    ]
    if request.include_usage:
        chunks.append({**envelope, "choices": [], "usage": usage(request, replies)})
    return chunks


def _interleave(replies: list[Answer]) -> Iterator[tuple[int, dict[str, Any], str | None]]:
    steps = [
        [(a.first, None), *((p, None) for p in a.parts), ({}, a.finish_reason)] for a in replies
    ]
    for row in range(max(len(s) for s in steps)):
        for index, choice_steps in enumerate(steps):
            if row < len(choice_steps):
                yield index, *choice_steps[row]


def completion(request: ChatRequest, replies: list[Answer]) -> dict[str, Any]:
    """The non-streaming `chat.completion` object."""
    choices = [
        {"index": index, "message": answer.message, "finish_reason": answer.finish_reason}
        for index, answer in enumerate(replies)
    ]
    return {
        "id": new_completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model,
        "choices": choices,
        "usage": usage(request, replies),
    }
