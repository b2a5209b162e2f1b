"""The dispatcher: applies a profile's rules to what a run shows, one scope at a time.

It is the one place where a rule's `Problem` becomes a located `Finding`, and it counts, per
rule, how many things the rule judged: a rule that judged nothing did not pass. The stream
checker, the live client, the case runner and the offline reader all go through it; none of
them names a rule.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from conformance._model import (
    TEXT_LIMIT,
    Answer,
    ClientReading,
    Ending,
    Event,
    Exchange,
    Expectation,
    Finding,
    Mistake,
    Need,
    Observation,
    Probe,
    WireAnswer,
    excerpt,
    printable,
)
from conformance._profiles import Profile, load_profile
from conformance._registry import STREAM_SCOPES, Problem, Rule, Scope
from conformance._schemas import SchemaError
from conformance._state import StreamState
from conformance.rules import REGISTRY
from conformance.rules.schema import schema_problem

CREDENTIALS_REFUSED = frozenset({401, 403, 407})
"""Statuses that refuse the request's credentials: the server never looked at the request."""

MAX_PER_RULE = 20
"""Findings kept per rule and dispatcher (one stream, one answer); the rest are counted."""

_NEED_REASONS = {
    Need.LIVE: "needs a live exchange (the client's clock at the time of the request)",
    Need.REQUEST: "the request is not recorded",
    Need.HEAD: "a raw body records no status line or headers",
    Need.TRANSPORT: "the recording does not show whether the connection delivered the "
    "whole response",
    Need.REPLAY: "client replay is off (--clients replays each stream through the client "
    "libraries)",
}
_SCOPE_REASONS = {
    Scope.SESSION: "compares several completions of a live run",
    Scope.REJECTION: "judges the answer to a bad request the suite sends",
    Scope.WIRE: "judges the answer to a request the suite writes byte by byte",
    Scope.ACCEPTANCE: "judges the answer to a request variation the suite sends",
    Scope.OUTCOME: "judges a completion against what the suite's request asked for",
}

_NOTHING = {
    Scope.RESPONSE: "nothing to judge: no response head was read",
    Scope.FRAMING: "nothing to judge: no event-stream body was read",
    Scope.EVENT: "nothing to judge: no data payload was delivered",
    Scope.SCHEMA: "nothing to judge: no chunk was delivered",
    Scope.CHUNK: "nothing to judge: no chunk was delivered",
    Scope.END: "nothing to judge: no stream was read to its end",
}

Evidence = Callable[[Event], bytes]


@dataclass(frozen=True, slots=True)
class Reach:
    """What a test of the suite can give rules to judge: its streams (every stream rule, the
    head by the acceptance rule `accepts` when it has one), several completions together
    (session rules), the answers to requests making `mistakes` (rejection rules, and the
    transport rules: whether an answer came at all), a completion against what a case
    expects of it (the outcome rule `outcome`), and the answers to `probes` (wire rules;
    `transport`: the transport rules judge whether a well-formed probe was answered)."""

    streams: bool = False
    sessions: bool = False
    mistakes: frozenset[Mistake] = frozenset()
    accepts: str | None = None
    outcome: str | None = None
    probes: frozenset[Probe] = frozenset()
    transport: bool = False
    acceptances: frozenset[str] = frozenset()  # a test whose heads several rules judge

    def rules(self, profile: Profile) -> set[str]:
        """The ids of the rules of `profile` this test can exercise."""
        ids = {rule.id for rule in profile.rules() if self._reaches(rule)}
        if self.accepts or self.acceptances:
            ids -= {r.id for r in profile.rules() if r.scope is Scope.RESPONSE}
        return ids

    def _reaches(self, rule: Rule[Any]) -> bool:
        if rule.scope is Scope.REJECTION:
            mistakes = rule.mistakes
            return bool(self.mistakes) and (mistakes is None or bool(mistakes & self.mistakes))
        if rule.scope is Scope.WIRE:
            return bool(rule.probes & self.probes)
        if rule.scope is Scope.TRANSPORT and (self.transport or self.mistakes):
            return True
        return (
            (self.streams and rule.scope in STREAM_SCOPES)
            or (self.sessions and rule.scope is Scope.SESSION)
            or rule.id in (self.accepts, self.outcome)
            or rule.id in self.acceptances
        )


@dataclass(frozen=True, slots=True)
class Context:
    """What the dispatcher's input can show: a rule whose needs are not met judges nothing."""

    live: bool = False
    request: bool = False
    head: bool = True
    transport: bool = True
    replay: bool = False

    def met(self) -> frozenset[Need]:
        """The needs this context satisfies."""
        flags = {Need.LIVE: self.live, Need.REQUEST: self.request, Need.HEAD: self.head}
        flags[Need.TRANSPORT] = self.transport
        flags[Need.REPLAY] = self.replay
        return frozenset(need for need, on in flags.items() if on)


class Dispatcher:
    """Applies the rules of a profile, keeping the findings and the count of things judged."""

    def __init__(
        self,
        profile: Profile | None = None,
        context: Context | None = None,
        *,
        evidence: Evidence | None = None,
    ) -> None:
        self.profile = profile or load_profile()
        self.context = context or Context()
        self.findings: list[Finding] = []
        self.found: Counter[str] = Counter()  # findings per rule, kept or not
        self.judged: Counter[str] = Counter()
        self.reasons: dict[str, str] = {}  # why a rule that could have judged did not
        self._evidence = evidence
        met = self.context.met()
        self._rules = [r for r in self.profile.rules() if r.needs <= met]
        self._by_scope: dict[Scope, list[Rule[Any]]] = {scope: [] for scope in Scope}
        for rule in self._rules:
            self._by_scope[rule.scope].append(rule)

    def rules(self, scope: Scope) -> list[Rule[Any]]:
        """The rules of `scope` this dispatcher applies, in registration order."""
        return self._by_scope[scope]

    def tally(self, scope: Scope, count: int = 1) -> None:
        """Count `count` things judged by every rule of `scope` (bulk counting of hot paths)."""
        if count:
            for rule in self._by_scope[scope]:
                self.judged[rule.id] += count

    # -- one scope each ------------------------------------------------------------------

    def response(self, exchange: Exchange, *, accepts: str | None = None) -> None:
        """Judge a streamed response's head, or (a case's variation) by its acceptance rule."""
        rules = [REGISTRY[accepts]] if accepts else self._by_scope[Scope.RESPONSE]
        for rule in rules:
            self.judged[rule.id] += 1
            for problem in rule.check(exchange):
                self.report(rule, problem)

    def observation(self, observation: Observation) -> None:
        """Judge one thing the parser observed (framing rules are counted per body)."""
        for rule in self._by_scope[Scope.FRAMING]:
            problem = rule.check(observation)
            if problem is not None:
                self.report(rule, problem)

    def event(self, event: Event, payload: object) -> tuple[Rule[Any], Problem] | None:
        """Judge a data payload; the first rule that claimed it (it is then not a chunk) and
        its problem, if any."""
        claimed = None
        for rule in self._by_scope[Scope.EVENT]:
            if type(payload) is dict and not rule.objects:
                continue
            problem = rule.check(event, payload)
            if problem is not None:
                self.report(rule, problem, event)
                claimed = claimed or (rule, problem)
        return claimed

    def schema(self, event: Event, errors: Iterable[SchemaError]) -> None:
        """Hand each schema error to the rule the schema attributes it to (by `x-rule`): a
        shape rule words it; a rule of another scope that a schema also enforces (part of
        what it checks is a shape) reports the schema's wording."""
        for error in errors:
            rule = REGISTRY.get(error.rule_id)
            if rule is not None and rule.id in self.profile.rule_ids:
                check = rule.check if rule.scope is Scope.SCHEMA else schema_problem
                self.report(rule, check(error), event)

    def end(self, state: StreamState) -> None:
        """Judge a completed stream by every END rule that has something to judge in it."""
        for rule in self._by_scope[Scope.END]:
            if rule.judges is not None and not rule.judges.applies(state):
                continue
            self.judged[rule.id] += 1
            for problem in rule.check(state):
                self.report(rule, problem)

    def transport(self, ending: Ending) -> None:
        """Judge how a read that stopped early ended (transport rules count per stream)."""
        for rule in self._by_scope[Scope.TRANSPORT]:
            problem = rule.check(ending)
            if problem is not None:
                self.report(rule, problem)

    def outcome(self, rule_id: str, state: StreamState, expect: Expectation) -> None:
        """Judge a completion by the outcome rule a case names, against its expectation."""
        rule = REGISTRY[rule_id]
        if rule.id not in self.profile.rule_ids:
            return
        self.judged[rule.id] += 1
        for problem in rule.check(state, expect):
            self.report(rule, problem)

    def rejection(self, answer: Answer) -> None:
        """Judge the answer to a bad request by every rule that judges its mistake; an
        answer refusing the request's credentials shows nothing about the request."""
        status = answer.exchange.status
        for rule in self._by_scope[Scope.REJECTION]:
            if rule.mistakes is not None and answer.mistake not in rule.mistakes:
                continue
            if status in CREDENTIALS_REFUSED:
                self.reasons[rule.id] = (
                    f"the target refused the request's credentials (HTTP {status}), so it "
                    "never judged the request"
                )
                continue
            self.judged[rule.id] += 1
            for problem in rule.check(answer):
                self.report(rule, problem)

    def wire(self, answer: WireAnswer) -> None:
        """Judge the answer to a probe by every rule that judges that probe."""
        for rule in self._by_scope[Scope.WIRE]:
            if answer.probe in rule.probes:
                self.judged[rule.id] += 1
                for problem in rule.check(answer):
                    self.report(rule, problem)

    def session(self, ids: Sequence[str]) -> None:
        """Judge the completions of one test together (when there are several)."""
        if len(ids) < 2:
            return
        for rule in self._by_scope[Scope.SESSION]:
            self.judged[rule.id] += 1
            for problem in rule.check(ids):
                self.report(rule, problem)

    def client(self, reading: ClientReading) -> None:
        """Judge a client library's reading of a recorded stream by the rule of that library;
        a library that is not available judges nothing (and `unjudged` says why)."""
        for rule in self._by_scope[Scope.CLIENT]:
            if rule.library != reading.library:
                continue
            if reading.got is None:
                self.reasons.setdefault(rule.id, reading.unavailable or "not available")
                continue
            self.judged[rule.id] += 1
            for problem in rule.check(reading):
                self.report(rule, problem)

    # -- findings ------------------------------------------------------------------------

    def report(self, rule: Rule[Any], problem: Problem, event: Event | None = None) -> None:
        """Record a finding of `rule` (only the first MAX_PER_RULE are kept in full); a
        problem found in `event` without a location of its own is located at the event."""
        self.found[rule.id] += 1
        if self.found[rule.id] > MAX_PER_RULE:
            return
        raw = b""
        if event is not None:
            raw = self._evidence(event) if self._evidence else b""
            if problem.event_index is None and problem.offset is None:
                problem = replace(problem, event_index=event.index, offset=event.offset)
        self.findings.append(
            Finding(
                rule.id,
                rule.level,
                _safe(problem.message),
                _safe(problem.expected),
                _safe(problem.received),
                problem.event_index,
                problem.offset,
                _safe(problem.json_path),
                printable(excerpt(event.data)) if event is not None else "",
                raw,
            )
        )

    def unjudged(self, *, aborted: bool = False, ending: Ending | None = None) -> dict[str, str]:
        """Every rule of the profile that judged nothing here, with why."""
        met = self.context.met()
        return {
            rule.id: self.reasons.get(rule.id)
            or why_not_judged(rule, met, aborted=aborted, ending=ending)
            for rule in self.profile.rules()
            if not self.judged[rule.id] and not self.found[rule.id]
        }


def _safe(text: str) -> str:
    """A finding's text as every output may write it: bounded, and with the control
    characters and lone surrogates a target can send shown as escapes."""
    return printable(excerpt(text, TEXT_LIMIT))


def why_not_judged(
    rule: Rule[Any], met: frozenset[Need], *, aborted: bool = False, ending: Ending | None = None
) -> str:
    """Why `rule` had nothing to judge in a stream with these needs met."""
    unmet = sorted(rule.needs - met)
    reasons = [
        _SCOPE_REASONS.get(rule.scope),
        _NEED_REASONS[unmet[0]] if unmet else None,
        "the response was read to its end" if rule.scope is Scope.TRANSPORT else None,
        "not judged: the completion failed" if aborted else None,
        f"not judged: {ending.reason}" if ending is not None else None,
        f"nothing to judge: {rule.judges.missing}" if rule.judges is not None else None,
        _NOTHING.get(rule.scope),
    ]
    return next((why for why in reasons if why), "nothing to judge")
