"""The stream checker: bytes in, located findings out, rule by rule, as the bytes arrive.

No I/O happens here: the live client, the offline checker and the benchmarks all feed
bytes into a `StreamChecker` and read a `StreamResult` at the end. Which rule judges what is
the dispatcher's business (`conformance._dispatch`); the checker parses, decodes, keeps the
stream's state and the evidence (the bytes of each event as it is parsed, the body's first
and last bytes), and says when a stream stopped early.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from conformance._dispatch import Context, Dispatcher
from conformance._json import excess
from conformance._model import (
    DEFAULT_PROFILE,
    EVENT_BYTES_LIMIT,
    Deadline,
    Ending,
    EndingKind,
    Event,
    Exchange,
    Finding,
    Limits,
    Observation,
    ObservationKind,
)
from conformance._profiles import Profile, load_profile
from conformance._registry import NOT_JSON, Scope
from conformance._schemas import checker as schema_checker
from conformance._sse import SSEParser
from conformance._state import DONE, StreamState
from conformance.rules.http import is_stream

TRANSCRIPT_LIMIT = 64 * 1024
"""Bytes of a body kept from its start (the report's transcript)."""
TAIL_LIMIT = 1024
"""Bytes of a body kept from its end (what a stream ended with)."""

_LIMIT_OBSERVATIONS = {
    ObservationKind.LINE_TOO_LONG: EndingKind.LINE_LIMIT,
    ObservationKind.EVENT_TOO_LARGE: EndingKind.LINE_LIMIT,
}


@dataclass(slots=True)
class StreamResult:
    """Everything one stream showed: findings, what each rule judged, and the evidence."""

    findings: list[Finding]
    found: dict[str, int]  # findings per rule, including those not kept
    judged: dict[str, int]  # things each rule judged
    unjudged: dict[str, str]  # rules of the profile that judged nothing, with why
    events: int = 0
    chunks: int = 0
    body_bytes: int = 0
    completion_id: str | None = None
    observations: list[Observation] = field(default_factory=list)
    line_endings: dict[str, int] = field(default_factory=dict)
    texts: dict[int, str] = field(default_factory=dict)
    transcript: bytes = b""
    tail: bytes = b""
    ending: Ending | None = None
    aborted: list[str] = field(default_factory=list)  # why the server gave the completion up
    finish_reasons: dict[int, str | None] = field(default_factory=dict)
    first_content_event: int | None = None
    state: StreamState | None = field(default=None, repr=False)


class StreamChecker:
    """Judges one streamed response; feed it bytes as they arrive, then call `finish`.

    `head` and `transport` say what the input can show (a raw recorded body shows neither
    the status line nor whether the connection completed): rules that need what is not
    there judge nothing and are reported as not judged, with why.
    """

    def __init__(
        self,
        *,
        profile: Profile | str = DEFAULT_PROFILE,
        limits: Limits | None = None,
        live: bool = False,
        requested_n: int | None = None,
        keep_text: bool = False,
        request: Mapping[str, Any] | None = None,
        head: bool = True,
        transport: bool = True,
    ) -> None:
        self.limits = limits or Limits()
        self.profile = profile if isinstance(profile, Profile) else load_profile(profile)
        self.parser = SSEParser(max_line=self.limits.max_line, max_event=self.limits.max_event)
        self.state = StreamState(live=live, requested_n=requested_n, keep_text=keep_text)
        if request is not None:
            know_request(self.state, request)
        context = Context(live, request is not None, head, transport)
        self.dispatch = Dispatcher(self.profile, context, evidence=self._event_bytes)
        self.ending: Ending | None = None
        self.deadline: Deadline | None = None  # live: when the exchange must be over
        self._depth, self._values = self.limits.max_depth, self.limits.max_values
        self._scan = min(2 * self._depth, self._values)  # payloads this short are in bounds
        self._schema = schema_checker(self.profile.chunk_schema)
        self._compiled_is_valid = self._schema.compiled_is_valid
        self._chunk_rules = [(r, r.check) for r in self.dispatch.rules(Scope.CHUNK)]
        self._plain: Callable[[object], bool] | None = None  # see `_build_plain`
        self._plain_epoch = -1  # the state's epoch `_plain` was built for
        self._plain_builds = 0
        self._event_rules = [(r, r.check) for r in self.dispatch.rules(Scope.EVENT)]
        self._object_rules = [(r, c) for r, c in self._event_rules if r.objects]
        self._quiet = [r.quiet for r, _ in [*self._chunk_rules, *self._object_rules]]
        self._payloads = 0
        self._seen_observations = 0
        self._transcript = bytearray()
        self._tail = b""
        self._block = b""  # the bytes of the latest feed
        self._block_start = 0  # their offset in the body
        self._held: tuple[int, bytes] | None = None  # the start of an event still open
        self._parse_body = True
        self.fed: list[Event] = []  # the events of the latest `feed`

    # -- HTTP layer ---------------------------------------------------------------------

    def check_response(self, exchange: Exchange, *, accepts: str | None = None) -> bool:
        """Judge status and headers; returns whether the body is to be read as a stream.

        `accepts` names the acceptance rule of a case that sends a valid variation of a
        request: its answer is judged by that rule instead of the response rules.
        """
        before = len(self.dispatch.findings)
        self.dispatch.response(exchange, accepts=accepts)
        ok = is_stream(exchange)
        self._parse_body = ok
        return ok or len(self.dispatch.findings) == before

    # -- body ---------------------------------------------------------------------------

    def feed(self, data: bytes) -> bool:
        """Check the next bytes of the body; returns False once a limit says stop reading."""
        if self.ending or not self._parse_body:
            return False
        self._keep(data)
        self.fed = self.parser.feed(data)  # kept for the live client's arrival times
        self._on_events(self.fed)
        if len(self.parser.observations) != self._seen_observations:
            self._on_observations()
        self._hold_open_event()
        return self._within_limits()

    def _keep(self, data: bytes) -> None:
        if len(self._transcript) < TRANSCRIPT_LIMIT:
            self._transcript += data[: TRANSCRIPT_LIMIT - len(self._transcript)]
        tail = data if len(data) >= TAIL_LIMIT else self._tail + data
        self._tail = tail[-TAIL_LIMIT:]
        self._block_start = self.parser.bytes_seen
        self._block = data

    def _hold_open_event(self) -> None:
        """Keep the first bytes of an event still open at the end of this block: if it is
        reported once it ends, its bytes as they arrived are still at hand."""
        start = self.parser.pending_start
        if start is None:
            self._held = None
        elif start >= self._block_start:
            cut = start - self._block_start
            self._held = (start, self._block[cut : cut + EVENT_BYTES_LIMIT])
        elif self._held is not None and self._held[0] == start:
            held = self._held[1]
            if len(held) < EVENT_BYTES_LIMIT:
                self._held = (start, held + self._block[: EVENT_BYTES_LIMIT - len(held)])

    def _event_bytes(self, event: Event) -> bytes:
        """The bytes of `event` as they arrived (at most EVENT_BYTES_LIMIT)."""
        end = min(event.end, event.offset + EVENT_BYTES_LIMIT)
        if event.offset >= self._block_start:
            return self._block[event.offset - self._block_start : end - self._block_start]
        if self._held is not None and self._held[0] == event.offset:
            held = self._held[1]
            return (held + self._block[: max(0, end - event.offset - len(held))])[
                : end - event.offset
            ]
        return b""

    def _within_limits(self) -> bool:
        if self.ending:
            return False
        limits = self.limits
        if self.parser.bytes_seen > limits.max_bytes:
            self.stop(
                Ending(
                    EndingKind.BYTE_LIMIT,
                    f"the body exceeded the byte limit ({limits.max_bytes:,} bytes)",
                )
            )
        elif self.state.events >= limits.max_events:
            self.stop(
                Ending(
                    EndingKind.EVENT_LIMIT,
                    f"the stream exceeded the event limit ({limits.max_events:,} events)",
                )
            )
        return self.ending is None

    def stop(self, ending: Ending) -> None:
        """Stop judging the stream: a limit was reached or the transport failed."""
        if self.ending:
            return
        events = self.state.events
        self.ending = Ending(
            ending.kind,
            ending.reason,
            self.parser.bytes_seen if ending.offset is None else ending.offset,
            events - 1 if ending.event_index is None and events else ending.event_index,
        )
        self.dispatch.transport(self.ending)

    def _on_events(self, events: list[Event]) -> None:
        """Judge events; the deadline is checked before each (the work on one is bounded)."""
        deadline = self.deadline
        for event in events:
            if self.ending:
                return
            if deadline is not None and time.monotonic() > deadline.at:
                self.stop(deadline.ending())
                return
            self._on_event(event)

    def _on_event(self, event: Event) -> None:
        state = self.state
        state.events += 1
        if state.done_event is not None:
            state.after_done.append(event.index)
            return
        data = event.data
        if data == DONE:
            state.done_event = event.index
            state.done_offset = event.offset
            return
        self._payloads += 1
        if len(data) > self._scan:  # measured before it is decoded (see conformance._json)
            why = excess(data, self._depth, self._values)
            if why is not None:
                self._beyond(
                    EndingKind.JSON_LIMIT, f"the data of event {event.index + 1} {why}", event
                )
                return
        try:  # orjson inline: the per-event hot path (see benchmarks/bench_checker.py)
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            payload = _decode(data)
        if type(payload) is dict:
            if not event.type:  # a plain chunk (see `_build_plain`): the hot path
                same = state.epoch == self._plain_epoch
                plain = self._plain if same else self._build_plain()
                try:  # plain: valid for `_plain`, and then taken in by the state
                    if (
                        plain is not None
                        and plain(payload)
                        and state.update_plain(event.index, payload)
                    ):
                        return
                except (ValueError, TypeError, OverflowError):  # what the validator cannot read
                    pass
            rules = self._object_rules
        else:
            rules = self._event_rules
        for _, check in rules:  # the dispatcher's `event`, inline: the hot path
            problem = check(event, payload)
            if problem is not None:
                self._claimed(event, payload)
                return
        self._on_chunk(event, payload)

    def _beyond(self, kind: EndingKind, reason: str, event: Event) -> None:
        """Stop at `event`: it is beyond a limit of the client's."""
        self.stop(Ending(kind, f"{reason} (a limit of the client's)", event.offset, event.index))

    def _claimed(self, event: Event, payload: object) -> None:
        """An event rule claimed the payload: it is not a chunk (maybe the end of it all)."""
        claimed = self.dispatch.event(event, payload)
        if claimed is not None and claimed[0].aborts:
            self.state.aborted.append((event.index, claimed[1].message))

    def _on_chunk(self, event: Event, chunk: dict[str, Any]) -> None:
        """Judge a chunk that is not plain: schema, every chunk rule, then the state."""
        state = self.state
        try:  # the compiled validator directly: the per-chunk hot path
            valid = self._compiled_is_valid(chunk)
        except (ValueError, TypeError, OverflowError):
            valid = self._schema.is_valid(chunk)
        if not valid:
            self.dispatch.schema(event, self._schema.errors(chunk))
        for rule, check in self._chunk_rules:
            problem = check(state, event, chunk)
            if problem is not None:
                self.dispatch.report(rule, problem, event)
        state.update(event.index, chunk)
        if state.over is not None:
            self._beyond(EndingKind.TRACKING_LIMIT, f"the stream has {state.over}", event)

    def _build_plain(self) -> Callable[[object], bool] | None:
        """The plain-chunk validator for the state's epoch: the chunk schema, the shape
        `StreamState.update_plain` takes in, and the `quiet` schema of every chunk rule and
        every event rule that judges objects, together. A chunk it accepts, in an event
        without an `event:` type, would get no problem from any of those rules and no schema
        error, so it skips them: one compiled validation instead of a call per rule. None
        when a rule has no quiet schema, or the state changed shape too often (each build
        is a compile). Kept as `_plain`, and returned."""
        state = self.state
        self._plain = None
        if state.chunks < PLAIN_AFTER:
            return None  # and again on the next chunk
        self._plain_epoch = state.epoch
        if self._plain_builds >= PLAIN_BUILDS:
            return None
        schemas = [state.plain_schema()]
        for quiet in self._quiet:
            schema = quiet(state) if quiet is not None else None
            if schema is None:
                return None
            schemas.append(schema)
        self._plain_builds += 1
        self._plain = self._schema.compiled_with(schemas)
        return self._plain

    def _on_observations(self) -> None:
        new = self.parser.observations[self._seen_observations :]
        self._seen_observations = len(self.parser.observations)
        for observation in new:
            self.dispatch.observation(observation)
            kind = _LIMIT_OBSERVATIONS.get(observation.kind)
            if kind is not None:
                limits = self.limits
                self.stop(
                    Ending(
                        kind,
                        f"{observation.detail or observation.kind} (line limit "
                        f"{limits.max_line:,} bytes, event limit {limits.max_event:,} bytes)",
                        observation.offset,
                        observation.event_index,
                    )
                )

    # -- results ------------------------------------------------------------------------

    def finish(self) -> StreamResult:
        """End of body: run the end-of-stream rules and return the result."""
        dispatch, state = self.dispatch, self.state
        if self._parse_body:
            self._block_start, self._block = self.parser.bytes_seen, b""
            self._on_events(self.parser.close())
            self._on_observations()
            self._record_pending()
            dispatch.tally(Scope.FRAMING)
            dispatch.tally(Scope.TRANSPORT)
            dispatch.tally(Scope.EVENT, self._payloads)
            dispatch.tally(Scope.SCHEMA, state.chunks)
            dispatch.tally(Scope.CHUNK, state.chunks)
            if not self.ending and not state.aborted:
                dispatch.end(state)
        return self._result()

    def _record_pending(self) -> None:
        pending = self.parser.pending
        if pending is not None:
            self.state.pending_data = pending.data
            self.state.pending_offset = pending.offset

    def _result(self) -> StreamResult:
        state, dispatch = self.state, self.dispatch
        first_id = state.first_id if type(state.first_id) is str else None
        choices = sorted(state.choices.items())
        return StreamResult(
            dispatch.findings,
            dict(dispatch.found),
            dict(dispatch.judged),
            dispatch.unjudged(aborted=bool(state.aborted), ending=self.ending),
            state.events,
            state.chunks,
            self.parser.bytes_seen,
            first_id,
            list(self.parser.observations),
            dict(self.parser.line_endings),
            {i: "".join(c.text) for i, c in choices},
            bytes(self._transcript),
            self._tail,
            self.ending,
            [why for _, why in state.aborted],
            {i: c.finish_reason for i, c in choices},
            state.first_content_event,
            state,
        )


PLAIN_AFTER = 16
"""Chunks a stream has had before its plain chunks skip the chunk rules: a build costs about
70 us, what the rules cost on some 50 chunks, and most streams are longer than that."""
PLAIN_BUILDS = 8
"""Builds a stream may cause (each change of its shape is one: a new choice, a finish, a
usage report), so that a stream changing shape on every chunk costs no compile each."""


def _decode(data: str) -> Any:
    """JSON-decode a payload (already within bounds) that orjson refused, with the standard
    library, for what JSON allows and orjson does not (integers beyond 64 bits, lone
    surrogate escapes); `NOT_JSON` for non-JSON."""
    try:
        return json.loads(data, parse_constant=_reject_constant)
    except ValueError:
        return NOT_JSON


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def know_request(state: StreamState, request: Mapping[str, Any]) -> None:
    """Record what the request asked for, for the rules that judge the stream against it."""
    state.request_known = True
    state.epoch += 1
    options = request.get("stream_options")
    state.include_usage = isinstance(options, Mapping) and options.get("include_usage") is True
    if state.requested_n is None:
        n = request.get("n")
        state.requested_n = n if type(n) is int else 1
