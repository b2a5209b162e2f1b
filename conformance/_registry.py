"""The one registry of rules: stable id, level, the sentence enforced, and the check.

Every rule is a function, registered by the decorator of its scope. The scope says what the
function is handed, so mypy checks each rule against the data it judges:

- `response_rule`: the `Exchange` (status, headers) of each streamed response;
- `acceptance_rule`: the `Exchange` answering a valid request variation a case names it for;
- `framing_rule`: each `Observation` of the SSE parser (counted once per body);
- `event_rule`: each data `Event` and its decoded payload (`NOT_JSON` when it is none);
- `schema_rule`: each `SchemaError` the chunk schema attributes to it (`x-rule`), per chunk;
- `chunk_rule`: the `StreamState` so far, the `Event` and the chunk, for every chunk;
- `end_rule`: the finished `StreamState`, once per completed stream;
- `transport_rule`: the `Ending` of a read that stopped early (counted once per stream);
- `outcome_rule`: the finished `StreamState` and a case's `Expectation`;
- `rejection_rule`: the `Answer` to a request that makes a client mistake;
- `wire_rule`: the `WireAnswer` to a request the suite wrote byte by byte (`Probe`);
- `session_rule`: the ids of the completions of one test, when it made several;
- `client_rule`: a client library's `ClientReading` of a recorded stream (`--clients`).

A check returns `None` (or nothing) when the thing it judged is fine and a `Problem` (or
several) when it is not; `conformance._dispatch.Dispatcher` turns problems into located
findings and counts what each rule judged. An event rule that returns a problem claims the
payload: it is not judged as a chunk. Profiles are data (`profiles/*.yaml`): a rule never
names the profiles it belongs to.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypedDict, TypeVar, Unpack

from conformance._model import (
    CLIENT_AREA,
    Answer,
    ClientReading,
    Ending,
    Event,
    Exchange,
    Expectation,
    Level,
    Mistake,
    Need,
    Observation,
    Probe,
    WireAnswer,
)

if TYPE_CHECKING:
    from conformance._schemas import SchemaError
    from conformance._state import StreamState

SEED = "AlphaEdge streaming-completion docs"
WHATWG = "WHATWG HTML, 9.2 Server-sent events"
RFC9110 = "RFC 9110, HTTP Semantics"
RFC9112 = "RFC 9112, HTTP/1.1"
SUITE = "Conformance suite policy"


class Scope(enum.StrEnum):
    """What a rule judges (see the module docstring for each check's signature)."""

    RESPONSE = "response"
    ACCEPTANCE = "acceptance"
    FRAMING = "framing"
    EVENT = "event"
    SCHEMA = "schema"
    CHUNK = "chunk"
    END = "end"
    TRANSPORT = "transport"
    OUTCOME = "outcome"
    REJECTION = "rejection"
    WIRE = "wire"
    SESSION = "session"
    CLIENT = "client"


STREAM_SCOPES = frozenset(
    {Scope.RESPONSE, Scope.FRAMING, Scope.EVENT, Scope.SCHEMA, Scope.CHUNK, Scope.END}
    | {Scope.TRANSPORT}
)
"""Scopes judged on every streamed response: a stream alone shows them."""


class _NotJson:
    """The payload an event rule is handed when the event's data is not JSON at all."""

    def __repr__(self) -> str:
        return "NOT_JSON"


NOT_JSON = _NotJson()


@dataclass(frozen=True, slots=True)
class Problem:
    """What a check function reports; the dispatcher turns it into a located Finding."""

    message: str
    expected: str = ""
    received: str = ""
    json_path: str = ""
    event_index: int | None = None
    offset: int | None = None


ResponseCheck = Callable[[Exchange], Iterable[Problem]]
ObservationCheck = Callable[[Observation], Problem | None]
EventCheck = Callable[[Event, object], Problem | None]
SchemaCheck = Callable[["SchemaError"], Problem]
ChunkCheck = Callable[["StreamState", Event, dict[str, Any]], Problem | None]
Quiet = Callable[["StreamState"], dict[str, Any] | None]
EndCheck = Callable[["StreamState"], Iterable[Problem]]
TransportCheck = Callable[[Ending], Problem | None]
OutcomeCheck = Callable[["StreamState", Expectation], Iterable[Problem]]
RejectionCheck = Callable[[Answer], Iterable[Problem]]
WireCheck = Callable[[WireAnswer], Iterable[Problem]]
SessionCheck = Callable[[Sequence[str]], Iterable[Problem]]
ClientCheck = Callable[[ClientReading], Iterable[Problem]]

C = TypeVar("C", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Rule(Generic[C]):
    """A documented requirement the suite enforces, and the function that checks it."""

    id: str
    level: Level
    title: str
    source: str
    sentence: str
    scope: Scope
    check: C
    needs: frozenset[Need] = frozenset()
    mistakes: frozenset[Mistake] | None = None
    """REJECTION rules: the mistakes whose answers the rule judges (None: every mistake)."""
    probes: frozenset[Probe] = frozenset()
    """WIRE rules: the probes whose answers the rule judges."""
    judges: Judges | None = None
    """END rules: whether a finished stream gives the rule something to judge."""
    aborts: bool = False
    """EVENT rules: a payload the rule claims ends the completion (the server gave up), so
    the END rules have nothing to judge."""
    objects: bool = True
    """EVENT rules: whether the rule also judges payloads that are JSON objects."""
    library: str | None = None
    """CLIENT rules: the client library whose readings the rule judges."""
    quiet: Quiet | None = None
    """CHUNK rules, and EVENT rules that judge objects: `quiet(state)`, a JSON Schema that
    every chunk the check lets pass (returns no problem for) in that state satisfies, or None
    when no such schema can be said (an EVENT rule's: for events without an `event:` type).
    When every such rule of a profile has one, a chunk that satisfies all of them (and the
    chunk schema, and the shape `StreamState.plain_schema` takes without a change) skips the
    rules: one compiled validation instead of a call per rule (see `StreamChecker`). It may
    read only the state that `StreamState.epoch` follows."""


@dataclass(frozen=True, slots=True)
class Judges:
    """When an END rule has something to judge: `applies(state)`, else `missing` says why not."""

    applies: Callable[[StreamState], bool]
    missing: str


class Meta(TypedDict, total=False):
    """The keyword arguments every rule decorator takes besides the id."""

    level: Level
    title: str
    source: str
    sentence: str
    needs: frozenset[Need]


class DuplicateRuleError(ValueError):
    """Two rules were registered under one id."""


class Registry:
    """Rules by id, in registration order."""

    def __init__(self) -> None:
        self._rules: dict[str, Rule[Any]] = {}

    def add(self, rule: Rule[Any]) -> Rule[Any]:
        """Register `rule`; an id may be registered only once."""
        if rule.id in self._rules:
            raise DuplicateRuleError(f"rule id {rule.id!r} is already registered")
        if not callable(rule.check):
            raise TypeError(f"rule {rule.id!r}: its check is not a function")
        self._rules[rule.id] = rule
        return rule

    def get(self, rule_id: str) -> Rule[Any] | None:
        """The rule with this id, or None."""
        return self._rules.get(rule_id)

    def __getitem__(self, rule_id: str) -> Rule[Any]:
        return self._rules[rule_id]

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._rules

    def __iter__(self) -> Iterator[Rule[Any]]:
        return iter(self._rules.values())

    def __len__(self) -> int:
        return len(self._rules)

    def of(self, scope: Scope, ids: Iterable[str] | None = None) -> list[Rule[Any]]:
        """The rules of one scope (among `ids` when given), in registration order."""
        chosen = None if ids is None else set(ids)
        return [
            r
            for r in self._rules.values()
            if r.scope is scope and (chosen is None or r.id in chosen)
        ]


REGISTRY = Registry()


def _register(scope: Scope, rule_id: str, meta: Meta, **extra: Any) -> Callable[[C], C]:
    def register(check: C) -> C:
        REGISTRY.add(
            Rule(
                rule_id,
                meta["level"],
                meta["title"],
                meta["source"],
                meta["sentence"],
                scope,
                check,
                meta.get("needs", frozenset()),
                **extra,
            )
        )
        return check

    return register


def response_rule(rule_id: str, **meta: Unpack[Meta]) -> Callable[[ResponseCheck], ResponseCheck]:
    """Register a check of a streamed response's status line and headers."""
    meta["needs"] = meta.get("needs", frozenset()) | {Need.HEAD}
    return _register(Scope.RESPONSE, rule_id, meta)


def acceptance_rule(rule_id: str, **meta: Unpack[Meta]) -> Callable[[ResponseCheck], ResponseCheck]:
    """Register a check that a valid variation of a request is accepted (a case names it)."""
    return _register(Scope.ACCEPTANCE, rule_id, meta)


def framing_rule(
    rule_id: str, **meta: Unpack[Meta]
) -> Callable[[ObservationCheck], ObservationCheck]:
    """Register a check of what the SSE parser observed in the bytes."""
    return _register(Scope.FRAMING, rule_id, meta)


def event_rule(
    rule_id: str,
    *,
    aborts: bool = False,
    objects: bool = True,
    quiet: Quiet | None = None,
    **meta: Unpack[Meta],
) -> Callable[[EventCheck], EventCheck]:
    """Register a check of each data payload before it is read as a chunk; `aborts`: a
    payload it claims means the server gave the completion up; `objects=False`: it judges
    only payloads that are not JSON objects; `quiet`: see `Rule.quiet` (for a rule that
    judges objects: the JSON objects it lets pass in an event without an `event:` type)."""
    return _register(Scope.EVENT, rule_id, meta, aborts=aborts, objects=objects, quiet=quiet)


def schema_rule(rule_id: str, **meta: Unpack[Meta]) -> Callable[[SchemaCheck], SchemaCheck]:
    """Register a rule of a chunk's shape: `schemas/` attributes errors to it by `x-rule`."""
    return _register(Scope.SCHEMA, rule_id, meta)


def chunk_rule(
    rule_id: str, *, quiet: Quiet | None = None, **meta: Unpack[Meta]
) -> Callable[[ChunkCheck], ChunkCheck]:
    """Register a check run on every chunk, before the stream state takes it in; `quiet`:
    see `Rule.quiet`."""
    return _register(Scope.CHUNK, rule_id, meta, quiet=quiet)


def end_rule(
    rule_id: str, *, judges: Judges | None = None, **meta: Unpack[Meta]
) -> Callable[[EndCheck], EndCheck]:
    """Register a check of a completed stream; `judges` says whether it has anything to judge."""
    return _register(Scope.END, rule_id, meta, judges=judges)


def transport_rule(
    rule_id: str, **meta: Unpack[Meta]
) -> Callable[[TransportCheck], TransportCheck]:
    """Register a check of how reading a response ended when it stopped early."""
    return _register(Scope.TRANSPORT, rule_id, meta)


def outcome_rule(rule_id: str, **meta: Unpack[Meta]) -> Callable[[OutcomeCheck], OutcomeCheck]:
    """Register a check of a completion against what a case expects of it."""
    return _register(Scope.OUTCOME, rule_id, meta)


def rejection_rule(
    rule_id: str, *, mistakes: Iterable[Mistake] | None = None, **meta: Unpack[Meta]
) -> Callable[[RejectionCheck], RejectionCheck]:
    """Register a check of the answer to a bad request (to `mistakes`, or to any mistake)."""
    chosen = frozenset(mistakes) if mistakes is not None else None
    return _register(Scope.REJECTION, rule_id, meta, mistakes=chosen)


def wire_rule(
    rule_id: str, *, probes: Iterable[Probe], **meta: Unpack[Meta]
) -> Callable[[WireCheck], WireCheck]:
    """Register a check of the answer to the requests the suite writes byte by byte (`probes`)."""
    return _register(Scope.WIRE, rule_id, meta, probes=frozenset(probes))


def session_rule(rule_id: str, **meta: Unpack[Meta]) -> Callable[[SessionCheck], SessionCheck]:
    """Register a check across the completions of one test."""
    return _register(Scope.SESSION, rule_id, meta)


def client_rule(
    rule_id: str, *, library: str, **meta: Unpack[Meta]
) -> Callable[[ClientCheck], ClientCheck]:
    """Register a check of how the client library `library` read a recorded stream; the id
    is in the `client.` area, which the policy fails only on request."""
    if not rule_id.startswith(CLIENT_AREA):
        raise ValueError(f"client rule {rule_id!r}: its id must start with {CLIENT_AREA!r}")
    meta["needs"] = meta.get("needs", frozenset()) | {Need.REPLAY}
    return _register(Scope.CLIENT, rule_id, meta, library=library)
