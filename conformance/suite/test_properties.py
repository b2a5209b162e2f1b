"""Requests drawn from schemas/request.json: any valid request, in the breadth of the
documented shape, is accepted and streamed conformantly; a request with any part broken is
rejected (4xx, a JSON body), never answered 5xx, dropped, or streamed.

The hypothesis properties draw `--property-examples` requests each (default 10), within the
share of `--max-requests` they are allotted, which also pays for shrinking a failure to a
minimal request; the sweep sends every breakage the schema allows once, on the doc's own
example request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from conformance._budget import Meter
from conformance._cases import judge_session
from conformance._client import Client, LiveResult, TargetUnreachable
from conformance._model import Policy
from conformance._outcome import ConformanceFailure, Outcome
from conformance._profiles import load_profile
from conformance.plugin import Settings, judge
from conformance.suite._strategies import (
    Breakage,
    Request,
    breadth,
    breakages,
    broken_requests,
    minimal,
    sweep_size,
    valid_requests,
)


def _settings(conformance_settings: Settings, meter: Meter) -> settings:
    # A failing example is shrunk to a minimal request; each shrink step is one more
    # (possibly billed) request, paid from the test's share of --max-requests, which
    # --no-shrink keeps for nothing.
    phases = [Phase.explicit, Phase.reuse, Phase.generate]
    if conformance_settings.shrink:
        phases.append(Phase.shrink)
    return settings(
        max_examples=max(1, min(conformance_settings.property_examples, meter.left)),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        phases=phases,
    )


class _Examples:
    """The examples of one property: sends each (within the test's share of the budget,
    never the same request twice), keeps the conformant ones (their SHOULD findings become
    warnings), raises on a failing one (hypothesis then shrinks it to a minimal request), and
    once the target failed to answer a request, sends it nothing more: every later example
    fails as that one did. A request the run no longer sends (the target unreachable or
    unresponsive, the `--budget` spent) ends every later example with the same error, so
    that hypothesis, replaying the example, meets the failure it first met."""

    def __init__(self, outcome: Outcome, policy: Policy, meter: Meter) -> None:
        self.outcome = outcome
        self.policy = policy
        self.meter = meter
        self.unanswered: ConformanceFailure | None = None
        self.unreached: TargetUnreachable | None = None

    def judge(self, request: Request, send: Callable[[], LiveResult]) -> None:
        if self.unanswered is not None:
            raise self.unanswered
        if self.unreached is not None:
            raise self.unreached
        try:
            live = self.meter.send(request.key(), send)
        except TargetUnreachable as exc:
            self.unreached = exc
            raise
        if live is None:  # the budget is spent: not judged
            return
        failing = [(0, f) for f in live.findings if self.policy.fails(f)]
        if failing:
            failure = ConformanceFailure(Outcome([live]), failing)
            if live.unanswered:
                self.unanswered = failure
            raise failure
        self.outcome.add(live)


def _run(prop: Any, outcome: Outcome) -> list[str]:
    """Run a property. The minimal failing example it raises goes first in the test's
    outcome (its curl line is the one printed); hypothesis's notes on it are returned."""
    try:
        prop()
    except ConformanceFailure as failure:
        outcome.exchanges[:0] = failure.outcome.exchanges
        return list(getattr(failure, "__notes__", []))
    return []


def _judge(request: pytest.FixtureRequest, outcome: Outcome, notes: list[str]) -> None:
    """`judge`, with the notes of a shrunk example (hypothesis's "Falsifying example")."""
    try:
        judge(request.node, outcome)
    except ConformanceFailure as failure:
        for note in notes:
            failure.add_note(note)
        raise


def _profile_sweep(settings_: Settings, _: dict[str, Any]) -> int:
    target = settings_.target
    return sweep_size(load_profile(target.profile)) if target else 0


@pytest.mark.conformance_requests(shared=True)
def test_valid_requests_stream_conformantly(
    request: pytest.FixtureRequest,
    conformance_client: Client,
    conformance_settings: Settings,
    conformance_budget: Meter,
) -> None:
    """The documented shape in its breadth (every role, long and Unicode text, content parts
    where the profile documents them, then any drawn request) gets a conformant stream, and
    no two of the completions share an id."""
    client, meter = conformance_client, conformance_budget
    target = client.target
    profile = load_profile(target.profile)
    outcome = Outcome()
    examples = _Examples(outcome, conformance_settings.policy, meter)
    answered = True
    for example in breadth(target.model, profile):
        if not meter.take():
            break
        live = _stream(client, example)
        outcome.add(live)
        answered = not live.unanswered  # else the target failed: nothing more is sent
        if not answered:
            break

    @_settings(conformance_settings, meter)
    @given(valid_requests(target.model, profile))
    def streams_conformantly(drawn: Request) -> None:
        examples.judge(drawn, lambda: _stream(client, drawn))

    notes = _run(streams_conformantly, outcome) if answered else []
    ids = [live.result.completion_id for live in outcome.exchanges if live.result]
    judge_session(outcome, [i for i in ids if i], profile)
    _judge(request, outcome, notes)


def _stream(client: Client, drawn: Request) -> LiveResult:
    return client.stream(drawn.body, accepts=drawn.accepts, headers=drawn.headers)


@pytest.mark.conformance_requests(fixed=_profile_sweep)
def test_every_part_of_a_request_broken_is_rejected(
    request: pytest.FixtureRequest, conformance_client: Client
) -> None:
    """Each breakage the schema allows, once, on the doc's own example request: the body
    (not JSON, cut short, empty, not an object, not UTF-8, another media type, padded to
    1 and 10 MiB) and every member at every depth (left out, null, each JSON type it may not
    have, below its minimum, an unknown value). Every answer is judged; all are reported."""
    client = conformance_client
    base = minimal(client.target.model)
    outcome = Outcome()
    for breakage in breakages(load_profile(client.target.profile)):
        live = _reject(client, breakage, breakage.request(base))
        outcome.add(live)
        if live.unanswered:  # the target failed to answer: nothing more is sent
            break
    judge(request.node, outcome)


def _reject(client: Client, breakage: Breakage, broken: Request) -> LiveResult:
    return client.reject(broken.body, breakage.mistake, headers=broken.headers)


@pytest.mark.conformance_requests(shared=True)
def test_broken_requests_are_rejected(
    request: pytest.FixtureRequest,
    conformance_client: Client,
    conformance_settings: Settings,
    conformance_budget: Meter,
) -> None:
    """Any valid request with one part broken gets a 4xx with a JSON body, never a 5xx or a
    dropped connection; a failure is shrunk to a minimal request."""
    client, meter = conformance_client, conformance_budget
    target = client.target
    outcome = Outcome()
    examples = _Examples(outcome, conformance_settings.policy, meter)

    @_settings(conformance_settings, meter)
    @given(broken_requests(target.model, load_profile(target.profile)))
    def is_rejected(drawn: tuple[Breakage, Request]) -> None:
        breakage, broken = drawn
        examples.judge(broken, lambda: _reject(client, breakage, broken))

    _judge(request, outcome, _run(is_rejected, outcome))
