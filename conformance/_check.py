"""The stream checker: bytes in, located violations out, rule by rule, as the bytes arrive.

No I/O happens here: the live client, the offline checker and the benchmarks all feed
bytes into a `StreamChecker` and read a `StreamResult` at the end.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

import conformance.rules  # noqa: F401  (registers every rule)
from conformance._model import (
    Event,
    Exchange,
    Level,
    Limits,
    Observation,
    ObservationKind,
    Violation,
    excerpt,
)
from conformance._registry import REGISTRY, Problem, Rule
from conformance._schemas import SchemaChecker
from conformance._sse import SSEParser
from conformance._state import DONE, StreamState
from conformance.rules.http import EVENT_STREAM, media_type

MAX_PER_RULE = 20
"""Violations kept per rule and stream; the rest are only counted."""

TRANSCRIPT_LIMIT = 64 * 1024

_OBSERVATION_RULES = {
    ObservationKind.INVALID_UTF8: "sse.utf8",
    ObservationKind.LINE_TOO_LONG: "transport.within_limits",
    ObservationKind.EVENT_TOO_LARGE: "transport.within_limits",
}

_STREAM_SCOPES = ("framing", "schema", "chunk", "end")


@dataclass(slots=True)
class StreamResult:
    """Everything one stream showed: violations, which rules were judged, and counts."""

    violations: list[Violation]
    counts: dict[str, int]
    applied: set[str]
    events: int = 0
    chunks: int = 0
    body_bytes: int = 0
    completion_id: str | None = None
    observations: list[Observation] = field(default_factory=list)
    line_endings: dict[str, int] = field(default_factory=dict)
    texts: dict[int, str] = field(default_factory=dict)
    transcript: bytes = b""
    stopped: str | None = None
    finish_reasons: dict[int, str | None] = field(default_factory=dict)

    def at_level(self, level: Level) -> list[Violation]:
        """The violations of one requirement level."""
        return [v for v in self.violations if v.level is level]

    def failures(self, *, strict: bool = False) -> list[Violation]:
        """The violations that fail a test: MUST, plus SHOULD under --strict."""
        return self.violations if strict else self.at_level(Level.MUST)


class StreamChecker:
    """Judges one streamed response; feed it bytes as they arrive, then call `finish`."""

    def __init__(
        self,
        *,
        profile: str = "alphaedge",
        limits: Limits | None = None,
        live: bool = False,
        requested_n: int | None = None,
        keep_text: bool = False,
        chunk_schema: str = "chunk",
        exclude: frozenset[str] = frozenset(),
        request: Mapping[str, Any] | None = None,
    ) -> None:
        self.limits = limits or Limits()
        self.profile = profile
        self.exclude = exclude  # rule ids the profile leaves out (see conformance._profiles)
        self.parser = SSEParser(max_line=self.limits.max_line, max_event=self.limits.max_event)
        self.state = StreamState(live=live, requested_n=requested_n, keep_text=keep_text)
        if request is not None:
            know_request(self.state, request)
        self.violations: list[Violation] = []
        self.counts: Counter[str] = Counter()
        self.applied: set[str] = set()
        self.stopped: str | None = None
        self._schema = SchemaChecker(chunk_schema)
        self._compiled_is_valid = self._schema.compiled_is_valid
        self._chunk_rules = [(r, r.check) for r in self._rules("chunk")]
        self._seen_observations = 0
        self._transcript = bytearray()
        self._parse_body = True
        self.fed: list[Event] = []  # the events of the latest `feed`

    def _rules(self, scope: str) -> list[Rule]:
        state = self.state
        return [
            r
            for r in REGISTRY.by_scope(scope, self.profile)
            if (state.live or not r.live_only)
            and r.id not in self.exclude
            and (state.request_known or not r.needs_request)
        ]

    # -- HTTP layer ---------------------------------------------------------------------

    def check_response(self, exchange: Exchange, *, http_rule: str | None = None) -> bool:
        """Judge status and headers; returns whether the body is to be read as a stream.

        `http_rule` reports HTTP-layer problems under another rule (a YAML case that
        checks a documented default judges the answer by that default's rule).
        """
        before = len(self.violations)
        for rule in self._rules("response"):
            self.applied.add(rule.id)
            for problem in rule.check(exchange) if rule.check else ():
                self.report(REGISTRY[http_rule] if http_rule else rule, problem)
        if http_rule:
            self.applied.add(http_rule)
        ok = exchange.status == 200 and media_type(exchange.header("content-type")) == EVENT_STREAM
        self._parse_body = ok
        return ok or len(self.violations) == before

    # -- body ---------------------------------------------------------------------------

    def feed(self, data: bytes) -> bool:
        """Check the next bytes of the body; returns False once a limit says stop reading."""
        if self.stopped or not self._parse_body:
            return False
        if len(self._transcript) < TRANSCRIPT_LIMIT:
            self._transcript += data[: TRANSCRIPT_LIMIT - len(self._transcript)]
        self.fed = self.parser.feed(data)  # kept for the live client's arrival times
        for event in self.fed:
            self._on_event(event)
        if len(self.parser.observations) != self._seen_observations:
            self._on_observations()
        return self._within_limits()

    def _within_limits(self) -> bool:
        if self.stopped:
            return False
        limits = self.limits
        if self.parser.bytes_seen > limits.max_bytes:
            self.stop(f"the body exceeded the byte limit ({limits.max_bytes:,} bytes)")
        elif self.state.events >= limits.max_events:
            self.stop(f"the stream exceeded the event limit ({limits.max_events:,} events)")
        return self.stopped is None

    def stop(self, reason: str, rule_id: str = "transport.within_limits") -> None:
        """Stop judging the stream: a limit was reached or the transport failed."""
        if self.stopped:
            return
        self.stopped = reason
        self.report(
            REGISTRY[rule_id],
            Problem(reason, offset=self.parser.bytes_seen, event_index=self.state.events or None),
        )

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
        try:  # orjson inline: the per-event hot path (see benchmarks/bench_checker.py)
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            chunk = _decode(data)
        if type(chunk) is not dict:
            self._not_a_chunk(event, chunk)
        elif event.type == "error" or chunk.get("error") is not None:
            self._error_event(event, chunk)
        else:
            self._on_chunk(event, chunk)

    def _on_chunk(self, event: Event, chunk: dict[str, Any]) -> None:
        try:  # the compiled validator directly: the per-chunk hot path
            valid = self._compiled_is_valid(chunk)
        except (ValueError, TypeError, OverflowError):
            valid = self._schema.is_valid(chunk)
        if not valid:
            self._schema_errors(event, chunk)
        state = self.state
        for rule, check in self._chunk_rules:
            problem = check(state, event, chunk)  # type: ignore[misc]
            if problem is not None:
                self.report(rule, problem, event)
        state.update(event.index, chunk)

    def _schema_errors(self, event: Event, chunk: dict[str, Any]) -> None:
        for error in self._schema.errors(chunk):
            problem = Problem(
                error.message,
                error.expected,
                error.received,
                error.json_path,
                event.index,
                event.offset,
            )
            self.report(REGISTRY[error.rule_id], problem, event)

    def _not_a_chunk(self, event: Event, value: object) -> None:
        received = "invalid JSON" if value is _INVALID else f"JSON {type(value).__name__}"
        self.report(
            REGISTRY["sse.data_json"],
            Problem(
                "a data payload is neither a JSON object nor [DONE]",
                expected="a chat.completion.chunk JSON object or [DONE]",
                received=received,
                event_index=event.index,
                offset=event.offset,
            ),
            event,
        )

    def _error_event(self, event: Event, chunk: dict[str, Any]) -> None:
        message = error_message(chunk)
        self.state.error_payloads.append((event.index, message))
        self.report(
            REGISTRY["stream.error_event"],
            Problem(
                f"the completion failed mid-stream: {message}",
                expected="chunks until data: [DONE]",
                received=f"an error event{f' (event: {event.type})' if event.type else ''}",
                event_index=event.index,
                offset=event.offset,
            ),
            event,
        )

    def _on_observations(self) -> None:
        new = self.parser.observations[self._seen_observations :]
        self._seen_observations = len(self.parser.observations)
        for observation in new:
            rule_id = _OBSERVATION_RULES.get(observation.kind)
            if rule_id == "transport.within_limits":
                self.stop(
                    f"{observation.detail or observation.kind} (line limit "
                    f"{self.limits.max_line:,} bytes, event limit "
                    f"{self.limits.max_event:,} bytes)"
                )
            elif rule_id:
                self.report(
                    REGISTRY[rule_id],
                    Problem(
                        observation.detail or "the body is not valid UTF-8",
                        expected="valid UTF-8",
                        received=observation.detail,
                        offset=observation.offset,
                        event_index=observation.event_index,
                    ),
                )

    # -- results ------------------------------------------------------------------------

    def report(self, rule: Rule, problem: Problem, event: Event | None = None) -> None:
        """Record a violation of `rule` (only the first MAX_PER_RULE are kept in full)."""
        self.counts[rule.id] += 1
        if self.counts[rule.id] > MAX_PER_RULE:
            return
        self.violations.append(
            Violation(
                rule.id,
                rule.level,
                problem.message,
                problem.expected,
                problem.received,
                problem.event_index,
                problem.offset,
                problem.json_path,
                excerpt(event.data) if event is not None else "",
            )
        )

    def finish(self) -> StreamResult:
        """End of body: run the end-of-stream rules and return the result."""
        if self._parse_body:
            for event in self.parser.close():
                self._on_event(event)
            self._on_observations()
            self._record_pending()
            judged = not self.stopped and not self.state.error_payloads
            if judged:
                self._run_end_rules()
            scopes = _STREAM_SCOPES if judged else _STREAM_SCOPES[:-1]  # "end" did not run
            self.applied.update(r.id for s in scopes for r in self._rules(s))
        return self._result()

    def _record_pending(self) -> None:
        pending = self.parser.pending
        if pending is not None:
            self.state.pending_data = pending.data
            self.state.pending_offset = pending.offset

    def _run_end_rules(self) -> None:
        for rule in self._rules("end"):
            for problem in rule.check(self.state) if rule.check else ():
                self.report(rule, problem)

    def _result(self) -> StreamResult:
        state = self.state
        first_id = state.first_id if type(state.first_id) is str else None
        return StreamResult(
            self.violations,
            dict(self.counts),
            self.applied,
            state.events,
            state.chunks,
            self.parser.bytes_seen,
            first_id,
            list(self.parser.observations),
            dict(self.parser.line_endings),
            {i: "".join(c.text) for i, c in sorted(state.choices.items())},
            bytes(self._transcript),
            self.stopped,
            {i: c.finish_reason for i, c in sorted(state.choices.items())},
        )


_INVALID = object()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _decode(data: str) -> Any:
    """JSON-decode a payload; orjson first, the standard library for what orjson refuses
    but JSON allows (integers beyond 64 bits). Returns `_INVALID` for non-JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(data, parse_constant=_reject_constant)
    except ValueError:
        return _INVALID


def know_request(state: StreamState, request: Mapping[str, Any]) -> None:
    """Record what the request asked for, for the rules that judge the stream against it."""
    state.request_known = True
    options = request.get("stream_options")
    state.include_usage = isinstance(options, Mapping) and options.get("include_usage") is True
    if state.requested_n is None:
        n = request.get("n")
        state.requested_n = n if type(n) is int else 1


def error_message(payload: dict[str, Any]) -> str:
    """The human message of an error payload, whatever its shape."""
    error = payload.get("error", payload)
    if isinstance(error, dict):
        return str(error.get("message") or error.get("detail") or error)
    return str(error)
