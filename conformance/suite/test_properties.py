"""Property-based conformance: any valid request streams conformantly; a broken field is
rejected. The number of requests is `--property-examples` (default 10) per property."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from conformance._cases import CaseOutcome
from conformance._client import Client
from conformance._model import Level, Violation
from conformance._registry import REGISTRY
from conformance.plugin import ConformanceFailure, Settings, judge
from conformance.suite._strategies import MUTATIONS, broken_requests, valid_requests


def _settings(conformance_settings: Settings) -> settings:
    return settings(max_examples=conformance_settings.property_examples, deadline=None,
                    database=None, suppress_health_check=list(HealthCheck), print_blob=False)


def _failing(violations: list[Violation], strict: bool) -> list[Violation]:
    return [v for v in violations if strict or v.level is Level.MUST]


def test_valid_requests_stream_conformantly(request: pytest.FixtureRequest,
                                            conformance_client: Client,
                                            conformance_settings: Settings) -> None:
    """Every valid request drawn from schemas/request.json gets a conformant stream,
    and no two of the completions share an id."""
    warnings: list[Violation] = []
    ids: list[str] = []
    model = conformance_client.target.model

    @_settings(conformance_settings)
    @given(valid_requests(model))
    def streams_conformantly(body: dict[str, Any]) -> None:
        live = conformance_client.stream(body)
        assert live.result is not None
        failing = _failing(live.result.violations, conformance_settings.strict)
        warnings.extend(v for v in live.result.violations if v not in failing)
        if failing:
            raise ConformanceFailure(failing, live.curl)
        if live.result.completion_id:
            ids.append(live.result.completion_id)

    streams_conformantly()
    outcome = CaseOutcome([], warnings, {"stream.id_unique"})
    check = REGISTRY["stream.id_unique"].check
    assert check is not None
    outcome.violations += [Violation("stream.id_unique", Level.MUST, p.message, p.expected,
                                     p.received) for p in check(ids)]
    judge(request.node, outcome.violations, "", outcome.applied)


def test_broken_required_field_is_rejected(request: pytest.FixtureRequest,
                                           conformance_client: Client,
                                           conformance_settings: Settings) -> None:
    """Breaking one documented field gets a 4xx with a JSON body, never a 5xx."""
    warnings: list[Violation] = []

    @_settings(conformance_settings)
    @given(broken_requests(conformance_client.target.model))
    def is_rejected(mutation: tuple[str, dict[str, Any]]) -> None:
        name, body = mutation
        live = conformance_client.send(body)
        violations = []
        for rule_id in (MUTATIONS[name][0], "request.no_5xx", "error.json_body"):
            rule = REGISTRY[rule_id]
            assert rule.check is not None
            violations += [Violation(rule_id, rule.level, f"{name}: {p.message}", p.expected,
                                     p.received) for p in rule.check(live.exchange, live.body)]
        failing = _failing(violations, conformance_settings.strict)
        warnings.extend(v for v in violations if v not in failing)
        if failing:
            raise ConformanceFailure(failing, live.curl)

    is_rejected()
    judge(request.node, _dedupe(warnings), "", set())


def _dedupe(violations: list[Violation]) -> list[Violation]:
    seen: dict[tuple[str, str], Violation] = {}
    for violation in violations:
        seen.setdefault((violation.rule_id, violation.message.split(":")[0]), violation)
    return list(seen.values())
