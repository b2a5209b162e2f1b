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
from conformance._registry import Rule, Scope
from conformance._report._evidence import EVIDENCE

MESSAGE_LIMIT = 500
FINDINGS_KEPT = 5
"""Findings of a rule the certificate keeps in full (with their evidence); the rest counted."""

PASSED, FAILED, WARNED = "passed", "failed", "warned"
NOT_EXERCISED, NOT_APPLICABLE, NOT_SELECTED = "not_exercised", "not_applicable", "not_selected"
STATUSES = (FAILED, WARNED, PASSED, NOT_EXERCISED, NOT_SELECTED, NOT_APPLICABLE)
"""Every status a rule can end a run with, the most telling first."""
UNCOVERED = (NOT_EXERCISED, NOT_SELECTED)
"""A MUST rule with one of these statuses keeps a run from being certified: it is incomplete."""
SHOWN = 5
"""Test names listed in a rule's `why` before the rest are counted."""


def short_id(nodeid: str) -> str:
    """`file::name` of a test, whatever directory pytest was started from (evidence of the
    session, not of a test, keeps its name: `client replay`)."""
    path, sep, rest = nodeid.partition("::")
    return f"{path.rsplit('/', 1)[-1]}::{rest}" if sep else nodeid


@dataclass(slots=True)
class TestRecord:
    """One test: pytest's outcome, its evidence, and why it errored if it did."""

    nodeid: str
    outcome: str = "passed"  # passed | failed | skipped | error
    evidence: dict[str, Any] | None = None
    error: str = ""  # "" | "unreachable" | "error"
    message: str = ""
    traceback: str = ""  # an internal error's text (redacted), for the crash file

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

    def __init__(self, *, policy: Policy, reach: dict[str, set[str]] | None = None) -> None:
        self.policy = policy
        self.reach = reach or {}  # short test id -> the rules that test can exercise
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
            elif report.skipped:
                test.message = _skip_reason(report)
        elif report.failed:
            test.outcome, test.error = "error", "error"
            test.message = _first_lines(report.longreprtext)
            test.traceback = report.longreprtext
        elif report.skipped and report.when == "setup":
            test.outcome = "skipped"
            test.message = _skip_reason(report)

    def _classify(self, test: TestRecord, report: pytest.TestReport) -> None:
        evidence = test.evidence or {}
        if evidence.get("unreachable"):
            test.outcome, test.error = "error", "unreachable"
        elif not any(self.fails(f) for f in test.findings()):
            test.outcome, test.error = "error", "error"
        if test.error:
            test.message = evidence.get("exception") or _first_lines(report.longreprtext)
        if test.error == "error":
            test.traceback = report.longreprtext

    def fails(self, finding: dict[str, Any]) -> bool:
        """Whether a finding (as evidence data) fails its test under the run's policy."""
        return self.policy.fails_level(Level(finding["level"]), finding["rule"])

    def ran(self) -> list[str]:
        """The node ids of the tests that ran to a verdict (passed or failed)."""
        return [t.nodeid for t in self.tests.values() if t.outcome in ("passed", "failed")]

    def not_run(self) -> list[str]:
        """The suite's tests (short ids) that did not run at all: not selected, or stopped."""
        seen = {short_id(nodeid) for nodeid in self.tests}
        return sorted(set(self.reach) - seen)

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
        status, why = self.status(rule, tally)
        return {
            "id": rule.id,
            "level": str(rule.level),
            "title": rule.title,
            "status": status,
            "why": why,
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

    def status(self, rule: Rule[Any], tally: RuleTally) -> tuple[str, str | None]:
        """The rule's status and, when it judged nothing, why: failed (a finding that fails
        under the policy), warned (findings that do not), passed (judged something, found
        nothing), not exercised (its tests ran but gave it nothing to judge, or ended in an
        error), not applicable (its tests were skipped: the target lacks an optional
        feature), not selected (its tests did not run)."""
        if tally.findings:
            return (FAILED if self.policy.fails_level(rule.level, rule.id) else WARNED), None
        if tally.judged:
            return PASSED, None
        if rule.scope is Scope.CLIENT:
            return self._unread(rule.id)
        return self._uncovered(rule.id)

    def _unread(self, rule_id: str) -> tuple[str, str]:
        """Why a client rule read nothing: its library is not available, or no replay was
        asked for."""
        for record in self.session:
            why = (record.evidence or {}).get("unjudged", {}).get(rule_id)
            if why:
                return NOT_EXERCISED, why
        return NOT_SELECTED, "no stream was replayed through client libraries (--clients)"

    def _uncovered(self, rule_id: str) -> tuple[str, str]:
        reaching = {sid for sid, ids in self.reach.items() if rule_id in ids}
        tests = [t for t in self.tests.values() if short_id(t.nodeid) in reaching]
        ran = [t for t in tests if t.outcome in ("passed", "failed")]
        if ran:
            reasons = [(t.evidence or {}).get("unjudged", {}).get(rule_id) for t in ran]
            why = next((r for r in reasons if r), "its tests gave it nothing to judge")
            return NOT_EXERCISED, why
        skipped = [t for t in tests if t.outcome == "skipped"]
        if skipped:
            return NOT_APPLICABLE, skipped[0].message or "its tests were skipped"
        errored = [t for t in tests if t.outcome == "error"]
        if errored:
            return NOT_EXERCISED, f"its tests ended in an error: {_names(errored)}"
        if reaching:
            names = sorted(reaching)
            more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
            return NOT_SELECTED, f"its tests did not run: {', '.join(names[:SHOWN])}{more}"
        return NOT_EXERCISED, "no test of the suite exercises it under this profile"


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


def _names(tests: list[TestRecord]) -> str:
    names = sorted(short_id(t.nodeid) for t in tests)
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr or "")
    return text.removeprefix("Skipped: ")[:MESSAGE_LIMIT]


def _first_lines(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    message = " | ".join(lines[-3:]) if lines else "the test failed without a message"
    return message[:MESSAGE_LIMIT]
