"""Rules on the event-stream framing: encoding, payloads, termination and [DONE]."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conformance._model import Event, Level, Observation, ObservationKind
from conformance._registry import (
    NOT_JSON,
    SEED,
    WHATWG,
    Problem,
    end_rule,
    event_rule,
    framing_rule,
)
from conformance._state import DONE, StreamState


@framing_rule(
    "sse.utf8",
    level=Level.MUST,
    title="The event stream is valid UTF-8",
    source=WHATWG,
    sentence="Event streams are always decoded as UTF-8.",
)
def utf8(observation: Observation) -> Problem | None:
    if observation.kind != ObservationKind.INVALID_UTF8:
        return None
    return Problem(
        observation.detail or "the body is not valid UTF-8",
        expected="valid UTF-8",
        received=observation.detail,
        offset=observation.offset,
        event_index=observation.event_index,
    )


@event_rule(
    "sse.data_json",
    objects=False,
    level=Level.MUST,
    title="Every data payload is a JSON object or exactly [DONE]",
    source=SEED,
    sentence=(
        'The object type, which is "chat.completion.chunk" for streaming. '
        "(Each `data:` line carries one chunk object; the stream ends with `data: [DONE]`.)"
    ),
)
def data_json(event: Event, payload: object) -> Problem | None:
    if type(payload) is dict:
        return None
    received = "invalid JSON" if payload is NOT_JSON else f"JSON {type(payload).__name__}"
    return Problem(
        "a data payload is neither a JSON object nor [DONE]",
        expected="a chat.completion.chunk JSON object or [DONE]",
        received=received,
        event_index=event.index,
        offset=event.offset,
    )


def _no_error(state: object) -> dict[str, Any]:
    return {"properties": {"error": {"type": "null"}}}


@event_rule(
    "stream.error_event",
    aborts=True,
    quiet=_no_error,
    level=Level.MUST,
    title="The completion does not fail mid-stream",
    source=SEED,
    sentence="Set stream=true to receive responses as they are generated.",
)
def error_event(event: Event, payload: object) -> Problem | None:
    is_error = type(payload) is dict and payload.get("error") is not None
    if not is_error and event.type != "error":
        return None
    message = error_message(payload) if type(payload) is dict else event.data[:200]
    named = f" (event: {event.type})" if event.type else ""
    return Problem(
        f"the completion failed mid-stream: {message}",
        expected="chunks until data: [DONE]",
        received=f"an error event{named}",
        event_index=event.index,
        offset=event.offset,
    )


def error_message(payload: dict[str, Any]) -> str:
    """The human message of an error payload, whatever its shape."""
    error = payload.get("error", payload)
    if isinstance(error, dict):
        return str(error.get("message") or error.get("detail") or error)
    return str(error)


@end_rule(
    "sse.event_terminated",
    level=Level.MUST,
    title="The last event is ended by a blank line",
    source=WHATWG,
    sentence=(
        "If the file ends in the middle of an event, before the final empty line, "
        "the incomplete event is not dispatched."
    ),
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


@end_rule(
    "sse.done_present",
    level=Level.MUST,
    title="The stream ends with data: [DONE]",
    source=SEED,
    sentence="data: [DONE]  (the documented response ends with this event)",
)
def done_present(state: StreamState) -> Iterator[Problem]:
    if state.done_event is None and (state.pending_data or "").strip() != DONE:
        yield Problem(
            "the stream ended without a data: [DONE] event",
            expected="data: [DONE]",
            received=f"end of stream after {state.events} events",
        )


@end_rule(
    "sse.nothing_after_done",
    level=Level.MUST,
    title="[DONE] appears once, as the last event",
    source=SEED,
    sentence="data: [DONE]  (the terminator: nothing follows it)",
)
def nothing_after_done(state: StreamState) -> Iterator[Problem]:
    if state.after_done and state.done_event is not None:
        first = state.after_done[0]
        yield Problem(
            f"{len(state.after_done)} event(s) arrived after data: [DONE]",
            expected="no event after [DONE]",
            received=f"event {first + 1} after [DONE] (event {state.done_event + 1})",
            event_index=first,
        )
