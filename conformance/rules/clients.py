"""Rules on how real client libraries read a stream (`--clients`): one rule per library.

Each judges a library's `ClientReading` of a recorded stream, replayed without a network
through the library's own streaming entry point, against the checker's reconstruction from
the strict parser: every choice's content, tool calls and finish reason, the number of
chunks delivered, and whether the library raised. A library that is not installed judges
nothing (the dispatcher reports it as not available, with the install hint).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import NamedTuple

from conformance._json import loads
from conformance._model import (
    DEPTH_LIMIT,
    ChoiceRead,
    ClientReading,
    Level,
    Reading,
    ToolCallRead,
    excerpt,
)
from conformance._registry import SUITE, Problem, client_rule

QUOTE = 80
"""Characters of a content or an argument string quoted in a finding."""

SENTENCE = (
    "A conformant stream is read exactly as the server sent it (every choice's content, "
    "tool calls and finish reason) by the client libraries people use."
)


# -- the comparison ---------------------------------------------------------------------------


def mismatches(reading: ClientReading) -> Iterator[Problem]:
    """One problem when the library's reading differs from what the stream sent: every
    difference, the first as expected/received, and what caused it (as replaying variants
    of the stream showed), else the constructs in the stream."""
    if reading.got is None:
        return
    differences = differ(reading.sent, reading.got, first_choice_only=reading.first_choice_only)
    if not differences:
        return
    words = "; ".join(d.words for d in differences)
    cause = reading.cause or constructs_phrase(reading.constructs)
    yield Problem(
        f"{who(reading)} mis-read the stream: {words}; {cause}",
        expected=differences[0].expected,
        received=differences[0].received,
    )


def who(reading: ClientReading) -> str:
    """`library version (entry point, runtime)`."""
    return f"{reading.library} {reading.version} ({reading.entry}, {reading.runtime})"


def constructs_phrase(constructs: tuple[str, ...]) -> str:
    """The constructs of the stream, as the cause a finding names."""
    if not constructs:
        return "the stream has none of the framing constructs known to trip clients"
    return f"the stream has: {', '.join(constructs)}"


class Difference(NamedTuple):
    """One way a library's reading differs from what the stream sent."""

    aspect: str  # error, choice, content, tool_calls, finish_reason or chunks
    words: str
    expected: str
    received: str


def differ(sent: Reading, got: Reading, *, first_choice_only: bool = False) -> list[Difference]:
    """Every way `got` differs from `sent` (an empty list: read exactly)."""
    out: list[Difference] = []
    if got.error is not None:
        out.append(
            Difference("error", f"raised {excerpt(got.error, QUOTE)}", "no error", got.error)
        )
    indexes = sorted({c.index for c in sent.choices} | {c.index for c in got.choices})
    if first_choice_only:
        indexes = indexes[:1]
    for index in indexes:
        out += _choice(index, sent.choice(index), got.choice(index))
    if got.chunks != sent.chunks and not first_choice_only:
        out.append(
            Difference(
                "chunks",
                f"delivered {got.chunks} chunk(s) where the stream sent {sent.chunks}",
                f"{sent.chunks} chunks",
                f"{got.chunks} chunks",
            )
        )
    return out


def _choice(index: int, sent: ChoiceRead | None, got: ChoiceRead | None) -> list[Difference]:
    if got is None:
        return [
            Difference(
                "choice", f"delivered nothing of choice {index}", f"choice {index}", "nothing"
            )
        ]
    if sent is None:
        words = f"delivered a choice {index} the stream never sent"
        return [Difference("choice", words, "nothing", f"choice {index}")]
    out: list[Difference] = []
    if got.content != sent.content:
        out.append(
            Difference(
                "content",
                f"read choice {index}'s content as {_quote(got.content)} where the stream sent "
                f"{_quote(sent.content)}",
                sent.content,
                got.content,
            )
        )
    if _calls(got.tool_calls, sent.tool_calls) != _calls(sent.tool_calls, sent.tool_calls):
        out.append(
            Difference(
                "tool_calls",
                f"read choice {index}'s tool calls as {_show(got.tool_calls)} where the stream "
                f"sent {_show(sent.tool_calls)}",
                _show(sent.tool_calls),
                _show(got.tool_calls),
            )
        )
    if got.finish_reason != sent.finish_reason:
        out.append(
            Difference(
                "finish_reason",
                f"saw choice {index}'s finish reason as {got.finish_reason!r} where the stream "
                f"sent {sent.finish_reason!r}",
                str(sent.finish_reason),
                str(got.finish_reason),
            )
        )
    return out


def _calls(
    calls: tuple[ToolCallRead, ...], sent: tuple[ToolCallRead, ...]
) -> list[tuple[str | None, str, object]]:
    """Tool calls in order as (id, name, arguments); an id is compared only where the stream
    sent one (a library may make one up), arguments as JSON values when they are JSON (a
    library may re-serialise them)."""
    ids = [c.id for c in sent]
    return [
        (
            call.id if position < len(ids) and ids[position] else None,
            call.name,
            _json_value(call.arguments),
        )
        for position, call in enumerate(calls)
    ]


def _json_value(text: str) -> object:
    try:  # arguments from the target: read within the bounds (a TooDeep is a ValueError)
        return ("json", json.dumps(loads(text, DEPTH_LIMIT), sort_keys=True))
    except ValueError:
        return ("text", text)


def _show(calls: tuple[ToolCallRead, ...]) -> str:
    if not calls:
        return "none"
    return ", ".join(f"{c.name or '?'}({excerpt(c.arguments, QUOTE)})" for c in calls)


def _quote(text: str) -> str:
    return f"{excerpt(text, QUOTE)!r} ({len(text)} characters)"


# -- the rules: one per library, each judging its reading with `mismatches` -------------------

for _rule_id, _library, _title in (
    (
        "client.openai_python",
        "openai-python",
        "openai-python reads the stream exactly (create(stream=True), .stream())",
    ),
    ("client.httpx_sse", "httpx-sse", "httpx-sse reads the stream exactly"),
    (
        "client.openai_node",
        "openai-node",
        "openai-node (the openai npm package) reads the stream exactly",
    ),
    (
        "client.vercel_ai",
        "vercel-ai",
        "the Vercel AI SDK (ai, @ai-sdk/openai-compatible) reads the stream exactly",
    ),
):
    client_rule(
        _rule_id,
        library=_library,
        level=Level.SHOULD,
        title=_title,
        source=SUITE,
        sentence=SENTENCE,
    )(mismatches)
