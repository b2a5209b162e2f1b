"""The controller's view of a session: each test's outcome and evidence, then rule results.

`Collector.add` receives every test report (under pytest-xdist, the reports the workers
sent back), so the aggregation is the same with or without `-n`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from conformance._registry import Rule
from conformance._report._evidence import EVIDENCE

MESSAGE_LIMIT = 500

PASSED, FAILED, WARNING, NOT_APPLICABLE = "passed", "failed", "warning", "not_applicable"


@dataclass(slots=True)
class Outcome:
    """One test: pytest's outcome, its evidence, and why it errored if it did."""

    nodeid: str
    outcome: str = "passed"  # passed | failed | skipped | error
    evidence: dict[str, Any] | None = None
    error: str = ""  # "" | "unreachable" | "error"
    message: str = ""


@dataclass(slots=True)
class RuleTally:
    """What the session showed about one rule."""

    tests: set[str] = field(default_factory=set)
    failing_tests: set[str] = field(default_factory=set)
    violations: int = 0
    must: int = 0
    should: int = 0


class Collector:
    """Aggregates test reports into outcomes and per-rule results."""

    def __init__(self, *, strict: bool) -> None:
        self.strict = strict
        self.tests: dict[str, Outcome] = {}

    def add(self, report: pytest.TestReport) -> None:
        """Take one phase's report into account."""
        test = self.tests.setdefault(report.nodeid, Outcome(report.nodeid))
        if report.when == "call":
            test.outcome = report.outcome
            test.evidence = getattr(report, EVIDENCE, None)
            if report.failed:
                self._classify(test, report)
        elif report.failed:
            test.outcome, test.error = "error", "error"
            test.message = _first_lines(report.longreprtext)
        elif report.skipped and report.when == "setup":
            test.outcome = "skipped"

    def _classify(self, test: Outcome, report: pytest.TestReport) -> None:
        evidence = test.evidence or {}
        if evidence.get("unreachable"):
            test.outcome, test.error = "error", "unreachable"
        elif not any(self.failing(v) for v in evidence.get("violations", [])):
            test.outcome, test.error = "error", "error"
        if test.error:
            test.message = evidence.get("exception") or _first_lines(report.longreprtext)

    def failing(self, violation: dict[str, Any]) -> bool:
        """Whether a violation fails its test: MUST, or SHOULD under --strict."""
        return self.strict or violation["level"] == "MUST"

    def counts(self) -> dict[str, int]:
        """How many tests passed, failed, errored and were skipped."""
        totals = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
        for test in self.tests.values():
            totals["errors" if test.outcome == "error" else test.outcome] += 1
        return totals

    def errors(self) -> list[Outcome]:
        """Tests that ended without a conformance verdict."""
        return [t for t in self.tests.values() if t.error]

    def violations(self) -> Iterator[tuple[Outcome, dict[str, Any]]]:
        """Every recorded violation with its test."""
        for test in self.tests.values():
            for violation in (test.evidence or {}).get("violations", []):
                yield test, violation

    def tallies(self) -> dict[str, RuleTally]:
        """Per rule id: the tests that applied it and the violations found."""
        tallies: dict[str, RuleTally] = {}
        for test in self.tests.values():
            for rule_id in (test.evidence or {}).get("applied", []):
                tallies.setdefault(rule_id, RuleTally()).tests.add(test.nodeid)
        for test, violation in self.violations():
            tally = tallies.setdefault(violation["rule_id"], RuleTally())
            tally.tests.add(test.nodeid)
            tally.failing_tests.add(test.nodeid)
            tally.violations += 1
            tally.must += violation["level"] == "MUST"
            tally.should += violation["level"] != "MUST"
        return tallies

    def rule_results(self, rules: Iterable[Rule]) -> list[dict[str, Any]]:
        """One result per rule, in registry order."""
        tallies = self.tallies()
        return [self._result(rule, tallies.get(rule.id, RuleTally())) for rule in rules]

    def _result(self, rule: Rule, tally: RuleTally) -> dict[str, Any]:
        return {
            "id": rule.id,
            "level": str(rule.level),
            "title": rule.title,
            "status": self.status(tally),
            "counts": {
                "tests": len(tally.tests),
                "failing_tests": len(tally.failing_tests),
                "violations": tally.violations,
            },
            "tests": sorted(tally.tests),
        }

    def status(self, tally: RuleTally) -> str:
        """failed (MUST, or SHOULD under --strict), warning (SHOULD), passed, not_applicable."""
        if tally.must or (tally.should and self.strict):
            return FAILED
        if tally.should:
            return WARNING
        return PASSED if tally.tests else NOT_APPLICABLE


def _first_lines(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    message = " | ".join(lines[-3:]) if lines else "the test failed without a message"
    return message[:MESSAGE_LIMIT]
