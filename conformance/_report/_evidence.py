"""Per-test evidence: what a test checked, what broke, and what each exchange looked like.

The plugin calls `record` on every test report. Evidence is plain JSON-like data (lists,
dicts, strings, numbers), redacted before it is attached, so it crosses pytest-xdist
workers with the report and can be written anywhere.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from conformance._check import TRANSCRIPT_LIMIT
from conformance._client import LiveResult
from conformance._model import Violation
from conformance._registry import REGISTRY
from conformance._report._redact import Redactor
from conformance._report._timing import first_content_index, stream_timing

EVIDENCE = "conformance"
"""Name of the test-report attribute holding a test's evidence."""

EXCHANGES_KEPT = 20
"""Exchanges kept per test beyond those a violation points at."""

EVENT_LIMIT = 4096
"""Bytes of an offending event kept verbatim."""

MESSAGE_LIMIT = 500
"""Characters of an exception's message kept."""

_BODY_SCOPES = ("framing", "chunk", "end")

Record = tuple[list[Violation], str, set[str]]
"""What `judge` recorded: violations, the reproduction line, the rules applied."""


def record(
    report: pytest.TestReport,
    records: Sequence[Record],
    exchanges: Sequence[LiveResult],
    exc: BaseException | None,
    secrets: Sequence[str],
    *,
    unreachable: bool,
) -> None:
    """Attach the evidence of a test's call phase to `report`; redact every report."""
    redactor = Redactor(secrets)
    if report.when == "call":
        records, exchanges = [*records], [*exchanges]
        for failure in unrecorded_failures(exc):
            records.append((failure.violations, failure.curl, set(failure.applied)))
            exchanges.extend(failure.exchanges)
        evidence = evidence_of(records, exchanges, redactor, unreachable=unreachable)
        if exc is not None:
            evidence["exception"] = redactor.text(_describe(exc))
        setattr(report, EVIDENCE, evidence)
    redact_report(report, redactor)


def unrecorded_failures(exc: BaseException | None) -> Iterator[Any]:
    """Conformance failures raised without going through `judge` (inside a property)."""
    for inner in _exceptions(exc):
        if isinstance(getattr(inner, "violations", None), list) and not getattr(
            inner, "recorded", True
        ):
            yield inner


def _exceptions(exc: BaseException | None) -> Iterator[BaseException]:
    if exc is None:
        return
    yield exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _exceptions(inner)


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
    records: Sequence[Record],
    exchanges: Sequence[LiveResult],
    redactor: Redactor,
    *,
    unreachable: bool = False,
) -> dict[str, Any]:
    """The evidence of one test: rules applied, violations, exchanges."""
    owners = [
        (v, _owner(v, curl, exchanges)) for violations, curl, _ in records for v in violations
    ]
    kept = sorted(
        set(range(min(len(exchanges), EXCHANGES_KEPT))) | {i for _, i in owners if i is not None}
    )
    position = {index: n for n, index in enumerate(kept)}
    applied = set().union(*(r[2] for r in records)) if records else set()
    if any(live.result is not None for live in exchanges) and _judged_a_body(applied):
        applied |= {r.id for r in REGISTRY if r.scope == "transport"}
    return {
        "applied": sorted(applied | {v.rule_id for v, _ in owners}),
        "violations": [
            violation_evidence(
                v,
                exchanges[i] if i is not None else None,
                position.get(i) if i is not None else None,
                redactor,
            )
            for v, i in owners
        ],
        "exchanges": [exchange_evidence(exchanges[i], redactor) for i in kept],
        "exchanges_total": len(exchanges),
        "unreachable": unreachable,
    }


def _judged_a_body(applied: set[str]) -> bool:
    """Whether a test judged a stream's body: then it also judged reading it (transport.*),
    whose rules the checker fires only when reading fails."""
    return any(
        rule.scope in _BODY_SCOPES
        for rule_id in applied
        if (rule := REGISTRY.get(rule_id)) is not None
    )


def _owner(violation: Violation, curl: str, exchanges: Sequence[LiveResult]) -> int | None:
    """Index of the exchange a violation was found in (None when it spans several)."""
    for i, live in enumerate(exchanges):
        if live.result is not None and any(v is violation for v in live.result.violations):
            return i
    matching = [i for i, live in enumerate(exchanges) if curl and live.curl == curl]
    if matching:
        return matching[-1]
    return 0 if len(exchanges) == 1 else None


def violation_evidence(
    violation: Violation, live: LiveResult | None, exchange: int | None, redactor: Redactor
) -> dict[str, Any]:
    """One violation as data, with the exact bytes of its event when they were kept."""
    event = _event_at(_raw_body(live), violation.offset) if live is not None else ""
    evidence: dict[str, Any] = redactor.deep(
        {
            "rule_id": violation.rule_id,
            "level": str(violation.level),
            "message": violation.message,
            "expected": violation.expected,
            "received": violation.received,
            "event_index": violation.event_index,
            "offset": violation.offset,
            "json_path": violation.json_path,
            "location": violation.location(),
            "event_excerpt": violation.event_excerpt,
            "event": event,
            "exchange": exchange,
        }
    )
    return evidence


def exchange_evidence(live: LiveResult, redactor: Redactor) -> dict[str, Any]:
    """One request and its answer: bodies, status, headers, transcript, curl, timing."""
    exchange, result, raw = live.exchange, live.result, _raw_body(live)
    body_bytes = result.body_bytes if result is not None and result.transcript else len(raw)
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
        "body_bytes": body_bytes,
        "transcript_truncated": body_bytes > TRANSCRIPT_LIMIT,
        "curl": redactor.text(live.curl),
        "stream": result is not None,
        "events": result.events if result is not None else 0,
        "stopped": redactor.text(result.stopped) if result and result.stopped else None,
        "timing": _timing(live, raw),
    }


def _timing(live: LiveResult, raw: bytes) -> dict[str, Any]:
    timing = live.timing
    first = first_content_index(raw[:TRANSCRIPT_LIMIT]) if live.result is not None else None
    return stream_timing(timing.first_byte, timing.events, timing.total, first)


def _raw_body(live: LiveResult | None) -> bytes:
    if live is None:
        return b""
    if live.result is not None and live.result.transcript:
        return live.result.transcript
    return live.body


def _event_at(raw: bytes, offset: int | None) -> str:
    """The event starting at byte `offset` of the body, up to its blank line."""
    if offset is None or not 0 <= offset < len(raw):
        return ""
    rest = raw[offset : offset + EVENT_LIMIT]
    ends = [i + len(sep) for sep in (b"\r\n\r\n", b"\n\n", b"\r\r") if (i := rest.find(sep)) >= 0]
    return _text(rest[: min(ends)] if ends else rest)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:MESSAGE_LIMIT]


def _text(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")
