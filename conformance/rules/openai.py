"""Rules of the `openai` profile: OpenAI's published CreateChatCompletionStreamResponse.

The shape rules are enforced through `schemas/openai/` (each error attributed by `x-rule`);
the other rules judge what one chunk cannot show alone: how tool-call deltas follow each
other, where `usage` may appear, and whether it appears when (and only when) the request
asked for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conformance._model import Event, Level, Need
from conformance._registry import Problem, chunk_rule, end_rule, schema_rule
from conformance._state import StreamState
from conformance.rules.schema import OPENAI, schema_problem
from conformance.rules.stream import quiet_same

FIRST_KEYS = ("id", "type", "name")
"""What the first delta of a tool call carries, and no later delta of it repeats."""

for _rule_id, _title, _sentence in (
    (
        "openai.finish_reason",
        "finish_reason is present on every choice: null, or stop/length/tool_calls/"
        "content_filter/function_call",
        "finish_reason (required, nullable): `stop` if the model hit a natural stop point or a "
        "provided stop sequence, `length` if the maximum number of tokens specified in the "
        "request was reached, `content_filter` if content was omitted due to a flag from our "
        "content filters, `tool_calls` if the model called a tool, or `function_call` "
        "(deprecated) if the model called a function.",
    ),
    (
        "openai.logprobs",
        "logprobs is null or {content, refusal} lists of token log probabilities",
        "logprobs: Log probability information for the choice. content: A list of message "
        "content tokens with log probability information. refusal: A list of message refusal "
        "tokens with log probability information.",
    ),
    (
        "openai.fields",
        "system_fingerprint, service_tier, refusal and function_call have their documented types",
        "system_fingerprint: string; service_tier: string; delta.refusal: string (nullable); "
        "delta.function_call: {name: string, arguments: string}.",
    ),
):
    schema_rule(_rule_id, level=Level.MUST, title=_title, source=OPENAI, sentence=_sentence)(
        schema_problem
    )


@chunk_rule(
    "openai.created_consistent",
    quiet=quiet_same("created"),
    level=Level.MUST,
    title="Every chunk carries the same created timestamp",
    source=OPENAI,
    sentence="created: The Unix timestamp (in seconds) of when the chat completion was "
    "created. Each chunk has the same timestamp.",
)
def created_consistent(state: StreamState, event: Event, chunk: dict[str, Any]) -> Problem | None:
    value = chunk.get("created")
    if state.chunks == 0 or value == state.first_created:
        return None
    return Problem(
        "`created` changed within one completion",
        expected=repr(state.first_created),
        received=repr(value),
        json_path="$.created",
        event_index=event.index,
        offset=event.offset,
    )


def _no_tool_calls(state: StreamState) -> dict[str, Any]:
    delta = {"properties": {"tool_calls": {"type": "null"}}}
    return {"properties": {"choices": {"items": {"properties": {"delta": delta}}}}}


@chunk_rule(
    "openai.tool_call_deltas",
    quiet=_no_tool_calls,
    level=Level.MUST,
    title="Tool-call deltas: index on each, id/type/name on the first delta of a call only, "
    "calls numbered 0, 1, 2, ...",
    source=f"{OPENAI} (ChatCompletionMessageToolCallChunk)",
    sentence=(
        "index (required); id: The ID of the tool call; type: The type of the tool; "
        "function.name: The name of the function to call. (The first delta of a call "
        "carries id, type and name, later deltas only index and argument fragments; "
        "`index` is the call's position in the message's tool_calls.)"
    ),
)
def tool_call_deltas(state: StreamState, event: Event, chunk: dict[str, Any]) -> Problem | None:
    choices = chunk.get("choices")
    if type(choices) is not list:
        return None
    for choice in choices:
        problem = _choice_tool_problem(state, event, choice)
        if problem is not None:
            return problem
    return None


def _choice_tool_problem(state: StreamState, event: Event, choice: Any) -> Problem | None:
    delta = choice.get("delta") if type(choice) is dict else None
    calls = delta.get("tool_calls") if type(delta) is dict else None
    if type(calls) is not list or not calls or type(choice.get("index")) is not int:
        return None
    known = state.choices.get(choice["index"])
    before = known.tools if known is not None else {}
    started: set[int] = set()  # calls this chunk starts (no copy of those before it)
    for position, call in enumerate(calls):
        index = call.get("index") if type(call) is dict else None
        if type(index) is not int:
            continue  # the schema reports a call without an index
        where = f"$.choices[{choice['index']}].delta.tool_calls[{position}]"
        seen = index in before or index in started
        problem = _call_problem(call, index, seen, len(before) + len(started))
        if not seen:
            started.add(index)
        if problem is not None:
            return Problem(problem[0], problem[1], problem[2], where, event.index, event.offset)
    return None


def _call_problem(
    call: dict[str, Any], index: int, seen: bool, count: int
) -> tuple[str, str, str] | None:
    """What is wrong with one tool-call delta, given whether its call was seen before and
    how many calls were started before it."""
    carried = _first_keys(call)
    if seen:
        if carried:
            return (
                f"a later delta of tool call {index} repeats {', '.join(carried)}",
                "only index and function.arguments after the first delta of a call",
                ", ".join(f"{k}={_value(call, k)!r}" for k in carried),
            )
        return None
    if index != count:
        return (
            f"tool call {index} starts, but calls are numbered from 0 in order",
            f"index {count}",
            f"index {index}",
        )
    missing = [k for k in FIRST_KEYS if not _value(call, k)]
    if missing:
        return (
            f"the first delta of tool call {index} lacks {', '.join(missing)}",
            "id, type and function.name on the first delta of a call",
            f"{sorted(k for k in call if k != 'function')} and function "
            f"{_shape(call.get('function'))}",
        )
    return None


def _shape(function: Any) -> str:
    """The keys of a `function` object, or what JSON value stands in its place."""
    if type(function) is dict:
        return str(sorted(function))
    if function is None:
        return "absent"
    return f"{_JSON_TYPES.get(type(function), type(function).__name__)}, not an object"


_JSON_TYPES = {
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "an array",
}


def _first_keys(call: dict[str, Any]) -> list[str]:
    function = call.get("function")
    names = set(call) | ({"name"} if type(function) is dict and "name" in function else set())
    return [key for key in FIRST_KEYS if key in names]


def _value(call: dict[str, Any], key: str) -> Any:
    if key == "name":
        function = call.get("function")
        return function.get("name") if type(function) is dict else None
    return call.get(key)


def _no_usage_and_choices_allowed(state: StreamState) -> dict[str, Any]:
    """No usage; and once a usage chunk has come, no choice either."""
    quiet: dict[str, Any] = {"properties": {"usage": {"type": "null"}}}
    if state.usage_event is not None:
        quiet["properties"]["choices"] = {"maxItems": 0}
    return quiet


@chunk_rule(
    "openai.usage_chunk",
    quiet=_no_usage_and_choices_allowed,
    level=Level.MUST,
    title="A non-null usage rides only on one final chunk with choices: []",
    source=OPENAI,
    sentence=(
        "usage: When present, it contains a null value except for the last chunk which "
        "contains the token usage statistics for the entire request. choices: Can also be "
        'empty for the last chunk if you set stream_options: {"include_usage": true}.'
    ),
)
def usage_chunk(state: StreamState, event: Event, chunk: dict[str, Any]) -> Problem | None:
    choices = chunk.get("choices")
    count = len(choices) if type(choices) is list else 0
    with_choices = count > 0
    if chunk.get("usage") is not None:
        if with_choices:
            return _usage_problem(
                event, "usage rides on a chunk that carries choices", f"{count} choice(s) and usage"
            )
        if state.usage_chunks:
            return _usage_problem(
                event,
                "a second chunk carries usage",
                f"usage again after event {(state.usage_event or 0) + 1}",
            )
    elif with_choices and state.usage_event is not None:
        return _usage_problem(
            event,
            "a choice arrives after the usage chunk",
            f"choices after the usage chunk (event {(state.usage_event or 0) + 1})",
        )
    return None


def _usage_problem(event: Event, message: str, received: str) -> Problem:
    return Problem(
        message,
        expected="usage on one last chunk whose choices is []",
        received=received,
        json_path="$.usage",
        event_index=event.index,
        offset=event.offset,
    )


@end_rule(
    "openai.usage_requested",
    level=Level.MUST,
    title="usage is sent when, and only when, stream_options.include_usage asks for it",
    source=OPENAI,
    sentence=(
        "stream_options.include_usage: If set, an additional chunk will be streamed before "
        "the data: [DONE] message. The usage field on this chunk shows the token usage "
        "statistics for the entire request. usage: An optional field that will only be "
        'present when you set stream_options: {"include_usage": true} in your request.'
    ),
    needs=frozenset({Need.REQUEST}),
)
def usage_requested(state: StreamState) -> Iterator[Problem]:
    if state.include_usage and not state.usage_chunks:
        yield Problem(
            "the request asked for usage but no chunk carried it",
            expected="a last chunk with choices: [] and the usage object",
            received=f"no usage in {state.chunks} chunks",
            json_path="$.usage",
        )
    elif state.include_usage is False and state.usage_chunks:
        yield Problem(
            "usage was sent although the request did not ask for it",
            expected="no usage without stream_options.include_usage",
            received=f"usage in {state.usage_chunks} chunk(s)",
            json_path="$.usage",
            event_index=state.usage_event,
        )
