"""Property-based conformance: any valid request streams conformantly; a broken field is
rejected. The number of requests is `--property-examples` (default 10) per property."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from conformance._cases import judge_session
from conformance._client import Client, LiveResult
from conformance._model import Policy
from conformance._outcome import ConformanceFailure, Outcome
from conformance._profiles import load_profile
from conformance.plugin import Settings, judge
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


def _keep_or_fail(outcome: Outcome, live: LiveResult, policy: Policy) -> None:
    """Keep a conformant example (its SHOULD findings become warnings); raise on a failing
    one, which hypothesis then shrinks to a minimal request."""
    failing = [(0, f) for f in live.findings if policy.fails(f)]
    if failing:
        raise ConformanceFailure(Outcome([live]), failing)
    outcome.add(live)


def test_valid_requests_stream_conformantly(
    request: pytest.FixtureRequest, conformance_client: Client, conformance_settings: Settings
) -> None:
    """Every valid request drawn from schemas/request.json gets a conformant stream,
    and no two of the completions share an id."""
    outcome = Outcome()
    policy = conformance_settings.policy

    @_settings(conformance_settings)
    @given(valid_requests(conformance_client.target.model))
    def streams_conformantly(body: dict[str, Any]) -> None:
        _keep_or_fail(outcome, conformance_client.stream(body), policy)

    streams_conformantly()
    ids = [live.result.completion_id for live in outcome.exchanges if live.result]
    judge_session(outcome, [i for i in ids if i], load_profile(conformance_client.target.profile))
    judge(request.node, outcome)


def test_broken_required_field_is_rejected(
    request: pytest.FixtureRequest, conformance_client: Client, conformance_settings: Settings
) -> None:
    """Breaking one documented field gets a 4xx with a JSON body, never a 5xx."""
    outcome = Outcome()
    policy = conformance_settings.policy

    @_settings(conformance_settings)
    @given(broken_requests(conformance_client.target.model))
    def is_rejected(mutation: tuple[str, dict[str, Any]]) -> None:
        name, body = mutation
        _keep_or_fail(outcome, conformance_client.reject(body, MUTATIONS[name][0]), policy)

    is_rejected()
    judge(request.node, outcome)
