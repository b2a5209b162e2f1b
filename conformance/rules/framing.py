"""Rules on the event-stream framing: encoding, payloads, termination and [DONE]."""

from __future__ import annotations

from collections.abc import Iterator

from conformance._model import Level
from conformance._registry import SEED, WHATWG, Problem, declare, rule
from conformance._state import StreamState

declare(
    "sse.utf8",
    level=Level.MUST,
    title="The event stream is valid UTF-8",
    source=WHATWG,
    sentence="Event streams are always decoded as UTF-8.",
    scope="framing",
)

declare(
    "sse.data_json",
    level=Level.MUST,
    title="Every data payload is a JSON object or exactly [DONE]",
    source=SEED,
    sentence=(
        'The object type, which is "chat.completion.chunk" for streaming. '
        "(Each `data:` line carries one chunk object; the stream ends with `data: [DONE]`.)"
    ),
    scope="framing",
)

declare(
    "stream.error_event",
    level=Level.MUST,
    title="The completion does not fail mid-stream",
    source=SEED,
    sentence="Set stream=true to receive responses as they are generated.",
    scope="framing",
)


@rule(
    "sse.event_terminated",
    level=Level.MUST,
    title="The last event is ended by a blank line",
    source=WHATWG,
    sentence=(
        "If the file ends in the middle of an event, before the final empty line, "
        "the incomplete event is not dispatched."
    ),
    scope="end",
)
def event_terminated(state: StreamState) -> Iterator[Problem]:
    if state.pending_data is not None:
        yield Problem(
            "the stream ends inside an event (no blank line after it), so a conforming "
            "client never dispatches it",
            expected="the final event followed by an empty line",
            received=f"unterminated event data {state.pending_data[:80]!r}",
            offset=state.pending_offset,
        )


@rule(
    "sse.done_present",
    level=Level.MUST,
    title="The stream ends with data: [DONE]",
    source=SEED,
    sentence="data: [DONE]  (the documented response ends with this event)",
    scope="end",
)
def done_present(state: StreamState) -> Iterator[Problem]:
    if state.done_event is None and (state.pending_data or "").strip() != "[DONE]":
        yield Problem(
            "the stream ended without a data: [DONE] event",
            expected="data: [DONE]",
            received=f"end of stream after {state.events} events",
        )


@rule(
    "sse.nothing_after_done",
    level=Level.MUST,
    title="[DONE] appears once, as the last event",
    source=SEED,
    sentence="data: [DONE]  (the terminator: nothing follows it)",
    scope="end",
)
def nothing_after_done(state: StreamState) -> Iterator[Problem]:
    if state.after_done:
        first = state.after_done[0]
        yield Problem(
            f"{len(state.after_done)} event(s) arrived after data: [DONE]",
            expected="no event after [DONE]",
            received=f"event #{first} after [DONE] (event #{state.done_event})",
            event_index=first,
        )
