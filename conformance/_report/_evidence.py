"""Per-test evidence: what a test judged, what it found, and what each exchange looked like.

The plugin calls `record` on every test report. Evidence is plain JSON-like data (lists,
dicts, strings, numbers), redacted before it is attached, so it crosses pytest-xdist
workers with the report and can be written anywhere. It is a rendering of the test's
`Outcome`: nothing in it is derived again from another rendering.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conformance._check import TRANSCRIPT_LIMIT
from conformance._client import LiveResult
from conformance._outcome import ConformanceFailure, Outcome
from conformance._report._redact import Redactor
from conformance._report._timing import stream_timing

EVIDENCE = "conformance"
"""Name of the test-report attribute holding a test's evidence."""

EXCHANGES_KEPT = 20
"""Exchanges kept per test beyond those a finding points at."""

BODY_LIMIT = 1024
"""Bytes of a non-stream answer's body (or of a stream's end) kept verbatim."""

MESSAGE_LIMIT = 500
"""Characters of an exception's message kept."""


def record(
    report: pytest.TestReport,
    outcome: Outcome | None,
    exc: BaseException | None,
    secrets: list[str],
    *,
    unreachable: bool,
) -> None:
    """Attach the evidence of a test's call phase to `report`; redact every report."""
    redactor = Redactor(secrets)
    if report.when == "call":
        whole = _with_failures(outcome, exc)
        evidence = evidence_of(whole, redactor, unreachable=unreachable)
        if exc is not None and not isinstance(exc, ConformanceFailure):
            evidence["exception"] = redactor.text(_describe(exc))
        setattr(report, EVIDENCE, evidence)
    redact_report(report, redactor)


def _with_failures(outcome: Outcome | None, exc: BaseException | None) -> Outcome:
    """The test's outcome, with the outcome of a failure raised without `judge` (inside a
    property, where hypothesis re-raises the minimal failing example)."""
    whole = Outcome() if outcome is None else outcome
    for failure in _failures(exc):
        if failure.outcome is not outcome:
            whole = Outcome(
                [*whole.exchanges, *failure.outcome.exchanges],
                [*whole.findings, *failure.outcome.findings],
                whole.judged + failure.outcome.judged,
            )
    return whole


def _failures(exc: BaseException | None) -> Iterator[ConformanceFailure]:
    if isinstance(exc, ConformanceFailure):
        yield exc
    elif isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _failures(inner)


def redact_report(report: pytest.TestReport, redactor: Redactor) -> None:
    """Remove every secret from the failure text, captured sections and user properties."""
    if not redactor.secrets:
        return
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):
        path, line, reason = longrepr
        report.longrepr = (path, line, redactor.text(reason))
    elif longrepr is not None and redactor.text(str(longrepr)) != str(longrepr):
        report.longrepr = redactor.text(str(longrepr))
    report.sections = [(redactor.text(h), redactor.text(c)) for h, c in report.sections]
    report.user_properties = [
        (redactor.text(k), redactor.deep(v)) for k, v in report.user_properties
    ]


def evidence_of(
    outcome: Outcome, redactor: Redactor, *, unreachable: bool = False
) -> dict[str, Any]:
    """The evidence of one test: what each rule judged, the findings, the exchanges."""
    located = list(outcome.located())
    exchanges = outcome.exchanges
    kept = sorted(
        set(range(min(len(exchanges), EXCHANGES_KEPT))) | {n for n, _ in located if n is not None}
    )
    position = {index: k for k, index in enumerate(kept)}
    findings = [
        {**finding.as_dict(), "exchange": None if n is None else position[n]}
        for n, finding in located
    ]
    return {
        "judged": dict(outcome.all_judged()),
        "unjudged": redactor.deep(outcome.unjudged()),
        "findings": redactor.deep(findings),
        "exchanges": [exchange_evidence(exchanges[i], redactor) for i in kept],
        "exchanges_total": len(exchanges),
        "unreachable": unreachable,
    }


def exchange_evidence(live: LiveResult, redactor: Redactor) -> dict[str, Any]:
    """One request and its answer: bodies, status, headers, transcript, curl, timing."""
    exchange, result = live.exchange, live.result
    streamed = result is not None and bool(result.transcript)
    raw = result.transcript if result is not None and streamed else live.body
    size = result.body_bytes if result is not None and streamed else len(live.body)
    # what a person fixing the server needs: how a stream ended, how an error answer began
    end = result.tail if result is not None and streamed else live.body[:BODY_LIMIT]
    ending = result.ending if result is not None and result.ending else live.ending
    return {
        "method": exchange.method,
        "url": redactor.url(exchange.url),
        "request_body": redactor.text(_text(exchange.request_body[:TRANSCRIPT_LIMIT])),
        "status": exchange.status,
        "reason": redactor.text(exchange.reason),
        "response_headers": [
            [redactor.text(k), redactor.text(v)] for k, v in exchange.response_headers
        ],
        "transcript": redactor.text(_text(raw[:TRANSCRIPT_LIMIT])),
        "body": redactor.text(_text(end)),
        "body_bytes": size,
        "transcript_truncated": size > TRANSCRIPT_LIMIT,
        "curl": redactor.text(live.curl),
        "stream": result is not None,
        "events": result.events if result is not None else 0,
        "stopped": redactor.text(ending.reason) if ending else None,
        "timing": _timing(live),
    }


def _timing(live: LiveResult) -> dict[str, Any]:
    timing, result = live.timing, live.result
    first = result.first_content_event if result is not None else None
    return stream_timing(timing.first_byte, timing.events, timing.total, first)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:MESSAGE_LIMIT]


def _text(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")
