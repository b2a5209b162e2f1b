"""The controller's view of a session: each test's record and evidence, then rule results.

`Gatherer.add` receives every test report (under pytest-xdist, the reports the workers
sent back), so the aggregation is the same with or without `-n`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from conformance._model import Level, Policy
from conformance._registry import Rule
from conformance._report._evidence import EVIDENCE

MESSAGE_LIMIT = 500
FINDINGS_KEPT = 5
"""Findings of a rule the certificate keeps in full (with their evidence); the rest counted."""

PASSED, FAILED, WARNING, NOT_APPLICABLE = "passed", "failed", "warning", "not_applicable"


@dataclass(slots=True)
class TestRecord:
    """One test: pytest's outcome, its evidence, and why it errored if it did."""

    nodeid: str
    outcome: str = "passed"  # passed | failed | skipped | error
    evidence: dict[str, Any] | None = None
    error: str = ""  # "" | "unreachable" | "error"
    message: str = ""

    __test__ = False  # not a pytest test class, whatever its name

    def findings(self) -> list[dict[str, Any]]:
        """The findings of the test (as evidence data)."""
        return list((self.evidence or {}).get("findings", []))

    def exchange(self, finding: dict[str, Any]) -> dict[str, Any] | None:
        """The exchange a finding was made in, when it was one exchange."""
        number = finding.get("exchange")
        exchanges = (self.evidence or {}).get("exchanges", [])
        return exchanges[number] if number is not None and number < len(exchanges) else None


@dataclass(slots=True)
class RuleTally:
    """What the session showed about one rule."""

    judged: int = 0
    tests: set[str] = field(default_factory=set)
    failing_tests: set[str] = field(default_factory=set)
    findings: list[tuple[TestRecord, dict[str, Any]]] = field(default_factory=list)
    must: int = 0
    should: int = 0


class Gatherer:
    """Aggregates test reports into test records and per-rule results."""

    def __init__(self, *, policy: Policy) -> None:
        self.policy = policy
        self.tests: dict[str, TestRecord] = {}
        self.session: list[TestRecord] = []  # evidence of the session, not of a test

    def add_session_evidence(self, name: str, evidence: dict[str, Any]) -> None:
        """Evidence gathered outside any test (client replay at the end of the session):
        it counts towards the rule results, not towards the tests."""
        self.session.append(TestRecord(name, evidence=evidence))

    def add(self, report: pytest.TestReport) -> None:
        """Take one phase's report into account."""
        test = self.tests.setdefault(report.nodeid, TestRecord(report.nodeid))
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

    def _classify(self, test: TestRecord, report: pytest.TestReport) -> None:
        evidence = test.evidence or {}
        if evidence.get("unreachable"):
            test.outcome, test.error = "error", "unreachable"
        elif not any(self.fails(f) for f in test.findings()):
            test.outcome, test.error = "error", "error"
        if test.error:
            test.message = evidence.get("exception") or _first_lines(report.longreprtext)

    def fails(self, finding: dict[str, Any]) -> bool:
        """Whether a finding (as evidence data) fails its test under the run's policy."""
        return self.policy.fails_level(Level(finding["level"]), finding["rule"])

    def counts(self) -> dict[str, int]:
        """How many tests passed, failed, errored and were skipped."""
        totals = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
        for test in self.tests.values():
            totals["errors" if test.outcome == "error" else test.outcome] += 1
        return totals

    def errors(self) -> list[TestRecord]:
        """Tests that ended without a conformance verdict."""
        return [t for t in self.tests.values() if t.error]

    def findings(self) -> Iterator[tuple[TestRecord, dict[str, Any]]]:
        """Every recorded finding with its test."""
        for test in [*self.tests.values(), *self.session]:
            for finding in test.findings():
                yield test, finding

    def tallies(self) -> dict[str, RuleTally]:
        """Per rule id: what it judged, in which tests, and what it found."""
        tallies: dict[str, RuleTally] = {}
        for test in [*self.tests.values(), *self.session]:
            for rule_id, count in (test.evidence or {}).get("judged", {}).items():
                tally = tallies.setdefault(rule_id, RuleTally())
                tally.judged += count
                tally.tests.add(test.nodeid)
        for test, finding in self.findings():
            tally = tallies.setdefault(finding["rule"], RuleTally())
            tally.tests.add(test.nodeid)
            tally.failing_tests.add(test.nodeid)
            tally.findings.append((test, finding))
            tally.must += finding["level"] == "MUST"
            tally.should += finding["level"] != "MUST"
        return tallies

    def rule_results(self, rules: Iterable[Rule[Any]]) -> list[dict[str, Any]]:
        """One result per rule, in registry order."""
        tallies = self.tallies()
        return [self._result(rule, tallies.get(rule.id, RuleTally())) for rule in rules]

    def _result(self, rule: Rule[Any], tally: RuleTally) -> dict[str, Any]:
        return {
            "id": rule.id,
            "level": str(rule.level),
            "title": rule.title,
            "status": self.status(rule, tally),
            "judged": tally.judged,
            "counts": {
                "tests": len(tally.tests),
                "failing_tests": len(tally.failing_tests),
                "findings": len(tally.findings),
            },
            "tests": sorted(tally.tests),
            "findings": [
                certificate_finding(test, finding)
                for test, finding in _ordered(tally)[:FINDINGS_KEPT]
            ],
        }

    def status(self, rule: Rule[Any], tally: RuleTally) -> str:
        """failed (fails under the policy), warning (found, does not fail), passed (judged
        something and found nothing), not_applicable (judged nothing)."""
        if tally.findings:
            return FAILED if self.policy.fails_level(rule.level, rule.id) else WARNING
        return PASSED if tally.judged else NOT_APPLICABLE


def _ordered(tally: RuleTally) -> list[tuple[TestRecord, dict[str, Any]]]:
    """A rule's findings in test order (the same with or without xdist), each test's own
    findings as they were found."""
    position = {id(pair): n for n, pair in enumerate(tally.findings)}
    return sorted(tally.findings, key=lambda pair: (pair[0].nodeid, position[id(pair)]))


def certificate_finding(test: TestRecord, finding: dict[str, Any]) -> dict[str, Any]:
    """A finding with the evidence of its exchange, as the certificate keeps it."""
    exchange = test.exchange(finding)
    out = {"test": test.nodeid, **{k: v for k, v in finding.items() if k != "exchange"}}
    if exchange is not None:
        out["request"] = {
            "method": exchange["method"],
            "url": exchange["url"],
            "body": exchange["request_body"],
        }
        out["response"] = {
            "status": exchange["status"],
            "reason": exchange["reason"],
            "headers": exchange["response_headers"],
            "stream": exchange["stream"],
            "body": exchange["body"],
        }
        out["curl"] = exchange["curl"]
    return out


def _first_lines(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    message = " | ".join(lines[-3:]) if lines else "the test failed without a message"
    return message[:MESSAGE_LIMIT]
