"""Property-based conformance: any valid request streams conformantly; a broken field is
rejected. The number of requests is `--property-examples` (default 10) per property."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from conformance._cases import CaseOutcome
from conformance._client import Client, LiveResult
from conformance._model import Level, Violation
from conformance._registry import REGISTRY
from conformance.plugin import ConformanceFailure, Settings, judge
from conformance.suite._strategies import MUTATIONS, broken_requests, valid_requests


def _settings(conformance_settings: Settings) -> settings:
    # A failing example is shrunk to a minimal request; each shrink step is one more
    # (possibly billed) request, which --no-shrink avoids.
    phases = [Phase.explicit, Phase.reuse, Phase.generate]
    if conformance_settings.shrink:
        phases.append(Phase.shrink)
    return settings(
        max_examples=conformance_settings.property_examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        phases=phases,
    )


def _failing(violations: list[Violation], strict: bool) -> list[Violation]:
    return [v for v in violations if strict or v.level is Level.MUST]


def test_valid_requests_stream_conformantly(
    request: pytest.FixtureRequest, conformance_client: Client, conformance_settings: Settings
) -> None:
    """Every valid request drawn from schemas/request.json gets a conformant stream,
    and no two of the completions share an id."""
    warnings: list[tuple[Violation, LiveResult]] = []
    ids: list[str] = []
    model = conformance_client.target.model
    outcome = CaseOutcome([], [], {"stream.id_unique"})

    @_settings(conformance_settings)
    @given(valid_requests(model))
    def streams_conformantly(body: dict[str, Any]) -> None:
        live = conformance_client.stream(body)
        assert live.result is not None
        outcome.exchanges.append(live)
        outcome.applied |= live.result.applied
        failing = _failing(live.result.violations, conformance_settings.strict)
        warnings.extend((v, live) for v in live.result.violations if v not in failing)
        if failing:
            raise ConformanceFailure(failing, live.curl, [live], live.result.applied)
        if live.result.completion_id:
            ids.append(live.result.completion_id)

    streams_conformantly()
    check = REGISTRY["stream.id_unique"].check
    assert check is not None
    outcome.violations += [
        Violation("stream.id_unique", Level.MUST, p.message, p.expected, p.received)
        for p in check(ids)
    ]
    _judge(request.node, warnings, outcome)


def test_broken_required_field_is_rejected(
    request: pytest.FixtureRequest, conformance_client: Client, conformance_settings: Settings
) -> None:
    """Breaking one documented field gets a 4xx with a JSON body, never a 5xx."""
    warnings: list[tuple[Violation, LiveResult]] = []
    outcome = CaseOutcome([], [])

    @_settings(conformance_settings)
    @given(broken_requests(conformance_client.target.model))
    def is_rejected(mutation: tuple[str, dict[str, Any]]) -> None:
        name, body = mutation
        live = conformance_client.send(body)
        outcome.exchanges.append(live)
        rule_ids = (MUTATIONS[name][0], "request.no_5xx", "error.json_body")
        outcome.applied.update(rule_ids)
        violations = []
        for rule_id in rule_ids:
            rule = REGISTRY[rule_id]
            assert rule.check is not None
            violations += [
                Violation(rule_id, rule.level, f"{name}: {p.message}", p.expected, p.received)
                for p in rule.check(live.exchange, live.body)
            ]
        failing = _failing(violations, conformance_settings.strict)
        warnings.extend((v, live) for v in violations if v not in failing)
        if failing:
            raise ConformanceFailure(failing, live.curl, [live], set(rule_ids))

    is_rejected()
    _judge(request.node, _dedupe(warnings), outcome)


def _dedupe(warnings: list[tuple[Violation, LiveResult]]) -> list[tuple[Violation, LiveResult]]:
    seen: dict[tuple[str, str], tuple[Violation, LiveResult]] = {}
    for violation, live in warnings:
        seen.setdefault((violation.rule_id, violation.message.split(":")[0]), (violation, live))
    return list(seen.values())


def _judge(
    node: pytest.Item, warnings: list[tuple[Violation, LiveResult]], outcome: CaseOutcome
) -> None:
    """Judge the warnings request by request (each with its curl line), then the rest."""
    sources = list({id(live): live for _, live in warnings}.values())
    for live in sources:
        judge(
            node,
            [v for v, source in warnings if source is live],
            live.curl,
            outcome.applied,
            [live],
        )
    others = [live for live in outcome.exchanges if all(live is not s for s in sources)]
    judge(node, outcome.violations, "", outcome.applied, others)
