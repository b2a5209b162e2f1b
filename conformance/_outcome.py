"""What one test established, and the failure it raises when a finding fails it.

An `Outcome` holds the test's exchanges (each carrying its own findings and what each rule
judged in it) and the findings that span exchanges (session rules). Every output, from the
pytest failure text to the certificate, is a rendering of it; nothing is derived twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from conformance._client import LiveResult
from conformance._dispatch import Dispatcher
from conformance._model import Finding, Policy


@dataclass(slots=True)
class Outcome:
    """The exchanges of one test and everything the rules found and judged in them."""

    exchanges: list[LiveResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # across exchanges
    judged: Counter[str] = field(default_factory=Counter)  # across exchanges
    unsupported: str | None = None  # the target cleanly refused an optional feature

    def add(self, live: LiveResult) -> None:
        """Take in one exchange."""
        self.exchanges.append(live)

    def take(self, dispatch: Dispatcher) -> None:
        """Take in what a dispatcher judged across the exchanges (a session rule)."""
        self.findings += dispatch.findings
        self.judged.update(dispatch.judged)

    def located(self) -> Iterator[tuple[int | None, Finding]]:
        """Every finding with the number of its exchange (None when it spans several)."""
        for number, live in enumerate(self.exchanges):
            for finding in live.findings:
                yield number, finding
        for finding in self.findings:
            yield None, finding

    def all_judged(self) -> Counter[str]:
        """What each rule judged in the whole test."""
        total = Counter(self.judged)
        for live in self.exchanges:
            total.update(live.judged)
        return total

    def unjudged(self) -> dict[str, str]:
        """Why each rule that judged nothing in the whole test did not (the first reason)."""
        judged = self.all_judged()
        reasons: dict[str, str] = {}
        for live in self.exchanges:
            for rule_id, why in live.unjudged.items():
                if not judged[rule_id]:
                    reasons.setdefault(rule_id, why)
        return reasons

    def failing(self, policy: Policy) -> list[tuple[int | None, Finding]]:
        """The findings that fail the test under `policy`, with their exchange."""
        return [(n, f) for n, f in self.located() if policy.fails(f)]


class ConformanceFailure(AssertionError):
    """A test failed: the findings that fail it under the policy, with their exchanges.

    The suite's one failure type: the pytest front end shows it, the reports read the
    `Outcome` it carries.
    """

    def __init__(self, outcome: Outcome, failing: Sequence[tuple[int | None, Finding]]) -> None:
        from conformance._render import render_failure

        self.outcome = outcome
        self.failing = list(failing)
        super().__init__(render_failure(outcome, failing))
