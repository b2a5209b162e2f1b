"""Property-based conformance: any valid request streams conformantly; a broken field is
rejected. The number of requests is `--property-examples` (default 10) per property."""

from __future__ import annotations

from collections.abc import Callable
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


class _Examples:
    """The examples of one property: keeps the conformant ones (their SHOULD findings become
    warnings), raises on a failing one (hypothesis then shrinks it to a minimal request), and
    once the target failed to answer a request, sends it nothing more: every later example
    fails as that one did."""

    def __init__(self, outcome: Outcome, policy: Policy) -> None:
        self.outcome = outcome
        self.policy = policy
        self.unanswered: ConformanceFailure | None = None

    def judge(self, send: Callable[[], LiveResult]) -> None:
        if self.unanswered is not None:
            raise self.unanswered
        live = send()
        failing = [(0, f) for f in live.findings if self.policy.fails(f)]
        if failing:
            failure = ConformanceFailure(Outcome([live]), failing)
            if live.unanswered:
                self.unanswered = failure
            raise failure
        self.outcome.add(live)


def test_valid_requests_stream_conformantly(
    request: pytest.FixtureRequest, conformance_client: Client, conformance_settings: Settings
) -> None:
    """Every valid request drawn from schemas/request.json gets a conformant stream,
    and no two of the completions share an id."""
    outcome = Outcome()
    examples = _Examples(outcome, conformance_settings.policy)

    @_settings(conformance_settings)
    @given(valid_requests(conformance_client.target.model))
    def streams_conformantly(body: dict[str, Any]) -> None:
        examples.judge(lambda: conformance_client.stream(body))

    streams_conformantly()
    ids = [live.result.completion_id for live in outcome.exchanges if live.result]
    judge_session(outcome, [i for i in ids if i], load_profile(conformance_client.target.profile))
    judge(request.node, outcome)


def test_broken_required_field_is_rejected(
    request: pytest.FixtureRequest, conformance_client: Client, conformance_settings: Settings
) -> None:
    """Breaking one documented field gets a 4xx with a JSON body, never a 5xx."""
    outcome = Outcome()
    examples = _Examples(outcome, conformance_settings.policy)

    @_settings(conformance_settings)
    @given(broken_requests(conformance_client.target.model))
    def is_rejected(mutation: tuple[str, dict[str, Any]]) -> None:
        name, body = mutation
        examples.judge(lambda: conformance_client.reject(body, MUTATIONS[name][0]))

    is_rejected()
    judge(request.node, outcome)
