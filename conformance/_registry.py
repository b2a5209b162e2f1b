"""The one registry of rules: stable id, level, the sentence enforced, and the check.

A rule's `scope` says what its check function receives:

- ``response``: ``check(exchange) -> Iterable[Problem]``, once per streamed response;
- ``chunk``: ``check(state, event, chunk) -> Problem | None``, for every chunk object,
  before the stream state is updated with that chunk;
- ``end``: ``check(state) -> Iterable[Problem]``, once when the stream ends;
- ``rejection``: ``check(exchange, body) -> Iterable[Problem]``, for answers to bad requests;
- ``session``: ``check(ids) -> Iterable[Problem]``, across several completions;
- ``schema``: no function; enforced through the ``x-rule`` annotations in ``schemas/``;
- ``case``: no function; a YAML case judges the HTTP answer to a request by this rule;
- ``framing``/``transport``: no function; fired by the checker from parser observations
  or client errors (each such rule names the observation or error that fires it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from conformance._model import Level

SEED = "AlphaEdge streaming-completion docs"
WHATWG = "WHATWG HTML, 9.2 Server-sent events"
RFC9110 = "RFC 9110, HTTP Semantics"
SUITE = "Conformance suite policy"

SCOPES = (
    "response",
    "chunk",
    "end",
    "rejection",
    "session",
    "case",
    "schema",
    "framing",
    "transport",
)


@dataclass(frozen=True, slots=True)
class Problem:
    """What a check function reports; the checker turns it into a located Violation."""

    message: str
    expected: str = ""
    received: str = ""
    json_path: str = ""
    event_index: int | None = None
    offset: int | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """A documented requirement the suite enforces."""

    id: str
    level: Level
    title: str
    source: str
    sentence: str
    scope: str
    check: Callable[..., Any] | None = None
    live_only: bool = False
    profiles: frozenset[str] = field(default_factory=lambda: frozenset({"*"}))
    needs_request: bool = False
    """The rule judges the stream against the request (offline: only when it is recorded)."""

    def applies_to(self, profile: str) -> bool:
        """Whether this rule is part of `profile`."""
        return "*" in self.profiles or profile in self.profiles


class DuplicateRuleError(ValueError):
    """Two rules were registered under one id."""


class Registry:
    """Rules by id, in registration order."""

    def __init__(self) -> None:
        self._rules: dict[str, Rule] = {}

    def add(self, rule: Rule) -> Rule:
        """Register `rule`; an id may be registered only once."""
        if rule.id in self._rules:
            raise DuplicateRuleError(f"rule id {rule.id!r} is already registered")
        if rule.scope not in SCOPES:
            raise ValueError(f"rule {rule.id!r}: unknown scope {rule.scope!r}")
        self._rules[rule.id] = rule
        return rule

    def get(self, rule_id: str) -> Rule | None:
        """The rule with this id, or None."""
        return self._rules.get(rule_id)

    def __getitem__(self, rule_id: str) -> Rule:
        return self._rules[rule_id]

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._rules

    def __iter__(self) -> Iterator[Rule]:
        return iter(self._rules.values())

    def __len__(self) -> int:
        return len(self._rules)

    def by_scope(self, scope: str, profile: str = "alphaedge") -> list[Rule]:
        """The rules of one scope that belong to `profile`."""
        return [r for r in self._rules.values() if r.scope == scope and r.applies_to(profile)]


REGISTRY = Registry()


def rule(
    rule_id: str,
    *,
    level: Level,
    title: str,
    source: str,
    sentence: str,
    scope: str,
    live_only: bool = False,
    profiles: frozenset[str] | None = None,
    needs_request: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register the decorated function as the check of a rule."""

    def register(check: Callable[..., Any]) -> Callable[..., Any]:
        REGISTRY.add(
            _make(
                rule_id,
                level,
                title,
                source,
                sentence,
                scope,
                check,
                live_only,
                profiles,
                needs_request,
            )
        )
        return check

    return register


def declare(
    rule_id: str,
    *,
    level: Level,
    title: str,
    source: str,
    sentence: str,
    scope: str,
    live_only: bool = False,
    profiles: frozenset[str] | None = None,
) -> Rule:
    """Register a rule enforced by the checker itself (schema, framing, transport)."""
    return REGISTRY.add(
        _make(rule_id, level, title, source, sentence, scope, None, live_only, profiles)
    )


def _make(  # noqa: PLR0917  (private: mirrors the Rule fields in order)
    rule_id: str,
    level: Level,
    title: str,
    source: str,
    sentence: str,
    scope: str,
    check: Callable[..., Any] | None,
    live_only: bool,
    profiles: frozenset[str] | None,
    needs_request: bool = False,
) -> Rule:
    return Rule(
        rule_id,
        level,
        title,
        source,
        sentence,
        scope,
        check,
        live_only,
        profiles if profiles is not None else frozenset({"*"}),
        needs_request,
    )
