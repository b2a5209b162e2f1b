"""Rules on reading the response at all: completeness and the client's limits."""

from __future__ import annotations

from conformance._model import Ending, EndingKind, Level, Need
from conformance._registry import RFC9110, SUITE, Problem, transport_rule


@transport_rule(
    "transport.complete",
    needs=frozenset({Need.TRANSPORT}),
    level=Level.MUST,
    title="The response is delivered completely",
    source=f"{RFC9110} 6.1; RFC 9112 7.1",
    sentence=(
        "A message is complete when all of the octets indicated by its framing are available "
        "(a chunked body ends with a zero-length last chunk)."
    ),
)
def complete(ending: Ending) -> Problem | None:
    if ending.kind.is_limit or ending.kind is EndingKind.DROPPED:
        return None
    return Problem(ending.reason, offset=ending.offset, event_index=ending.event_index)


@transport_rule(
    "transport.within_limits",
    level=Level.MUST,
    title="The stream stays within the client's limits",
    source=SUITE,
    sentence=(
        "A stream that stalls past the idle timeout, outlives the deadline, or exceeds the "
        "event, byte or line limits cannot be certified."
    ),
)
def within_limits(ending: Ending) -> Problem | None:
    if not ending.kind.is_limit:
        return None
    return Problem(ending.reason, offset=ending.offset, event_index=ending.event_index)


@transport_rule(
    "request.connection_dropped",
    needs=frozenset({Need.TRANSPORT}),
    level=Level.MUST,
    title="A request is answered, never met by a closed or reset connection",
    source=f"{RFC9110} 3.3, 15.5",
    sentence=(
        "3.3: A server is a program that accepts connections in order to service HTTP "
        "requests by sending HTTP responses. (A client mistake gets a 4xx answer; a "
        "connection closed or reset without any answer tells the client nothing.)"
    ),
)
def connection_dropped(ending: Ending) -> Problem | None:
    if ending.kind is not EndingKind.DROPPED:
        return None
    return Problem(ending.reason, expected="an HTTP response", received="no response")
