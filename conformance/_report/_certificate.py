"""The JSON certificate: per-rule results and the verdict, sealed with a sha256 digest.

The digest is taken over the canonical JSON (keys sorted, no whitespace, UTF-8) of every
member except `digest` itself. It shows that a certificate was not changed after it was
written; it is not a signature and proves nothing about who wrote it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conformance import __version__
from conformance._json import escape_controls
from conformance._model import Exit
from conformance._registry import Rule
from conformance._report._baseline import judge_baseline
from conformance._report._collect import (
    FAILED,
    NOT_APPLICABLE,
    NOT_EXERCISED,
    NOT_SELECTED,
    PASSED,
    UNCOVERED,
    WARNED,
    Gatherer,
)
from conformance._report._redact import Redactor

FORMAT = 2
SUITE_NAME = "streaming-conformance"
CERTIFIED, NOT_CERTIFIED, INCOMPLETE = "CERTIFIED", "NOT CERTIFIED", "INCOMPLETE"
NO_SELECTION = {"paths": [], "keyword": "", "markexpr": "", "maxfail": 0}
"""A run that was asked for everything (the selection a certificate records by default)."""
LISTED = 8
"""Rule ids a reason lists before it counts the rest."""


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What a certificate says about the run itself."""

    url: str
    model: str
    profile: str
    fail_on: str
    insecure: bool
    started: float
    duration: float
    selection: dict[str, Any] = field(default_factory=dict)  # -k, -m, --maxfail, paths


def build(
    info: RunInfo,
    gatherer: Gatherer,
    rules: list[Rule[Any]],
    redactor: Redactor,
    baseline: list[str] | None = None,
    *,
    clients: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The sealed certificate of a finished session (with a `clients` member when the
    session replayed its streams through client libraries)."""
    results = gatherer.rule_results(rules)
    errors = [
        {"test": redactor.text(t.nodeid), "kind": t.error, "message": redactor.text(t.message)}
        for t in gatherer.errors()
    ]
    verdict, reasons = _verdict(results, errors, info)
    certificate = {
        "format": FORMAT,
        "suite": {"name": SUITE_NAME, "version": __version__, "commit": git_commit()},
        "target": {
            "url": redactor.url(info.url),
            "model": redactor.text(info.model),
            "profile": info.profile,
            "insecure": info.insecure,
        },
        "run": {
            "date": _utc(info.started),
            "duration_s": round(info.duration, 3),
            "fail_on": info.fail_on,
            "tests": gatherer.counts(),
            "selection": {
                **NO_SELECTION,
                **redactor.deep(info.selection),
                "ran": [redactor.text(t) for t in sorted(gatherer.ran())],
                "not_run": [redactor.text(t) for t in gatherer.not_run()],
            },
        },
        "rules": results,
        "summary": summary(results),
        "errors": errors,
        "baseline": judge_baseline(baseline, results) if baseline is not None else None,
        "verdict": verdict,
        "reasons": reasons,
    }
    if clients is not None:
        certificate["clients"] = clients
    return seal(certificate)


def summary(results: list[dict[str, Any]]) -> dict[str, int]:
    """Rule counts by status and level."""

    def count(status: str, level: str | None = None) -> int:
        return sum(1 for r in results if r["status"] == status and level in (None, r["level"]))

    return {
        "rules": len(results),
        "must_failed": count(FAILED, "MUST"),
        "should_failed": count(FAILED, "SHOULD"),
        "warned": count(WARNED),
        "passed": count(PASSED),
        "not_exercised": count(NOT_EXERCISED),
        "not_applicable": count(NOT_APPLICABLE),
        "not_selected": count(NOT_SELECTED),
        "findings": sum(r["counts"]["findings"] for r in results),
    }


def _verdict(
    results: list[dict[str, Any]], errors: list[dict[str, str]], info: RunInfo
) -> tuple[str, list[str]]:
    """The verdict and why: NOT CERTIFIED on a failure (or TLS off), INCOMPLETE when what ran
    passed but a MUST rule was not exercised or not selected, or a test ended without a
    verdict; CERTIFIED otherwise."""
    failed = _failures(results)
    if info.insecure:
        failed.append("TLS verification was off (--insecure): the target was not authenticated")
    incomplete = _gaps(results, errors, info)
    if failed:
        return NOT_CERTIFIED, failed + incomplete
    if incomplete:
        return INCOMPLETE, incomplete
    return CERTIFIED, []


def _failures(results: list[dict[str, Any]]) -> list[str]:
    reasons = []
    for level in ("MUST", "SHOULD"):
        ids = [r["id"] for r in results if r["status"] == FAILED and r["level"] == level]
        if ids:
            how = " (--fail-on should)" if level == "SHOULD" else ""
            reasons.append(f"{_rules(len(ids), level)} failed{how}: {_listed(ids)}")
    return reasons


def _gaps(results: list[dict[str, Any]], errors: list[dict[str, str]], info: RunInfo) -> list[str]:
    reasons = []
    for status, what in ((NOT_EXERCISED, "not exercised"), (NOT_SELECTED, "not selected")):
        uncovered = [r for r in results if r["level"] == "MUST" and r["status"] == status]
        if uncovered:
            how = _selection(info) if status == NOT_SELECTED else ""
            named = [
                r["id"] if status == NOT_SELECTED else f"{r['id']} ({r['why']})" for r in uncovered
            ]
            listed = _listed(named)
            reasons.append(f"{_rules(len(uncovered), 'MUST')} {what}{how}: {listed}")
    for kind, what in (
        ("unreachable", "could not reach the target"),
        ("error", "ended in an internal error of the suite, without a verdict"),
    ):
        count = sum(1 for e in errors if e["kind"] == kind)
        if count:
            reasons.append(f"{count} test{'s' if count != 1 else ''} {what}")
    return reasons


def _rules(count: int, level: str) -> str:
    return f"{count} {level} rule{'s' if count != 1 else ''}"


def _listed(items: list[str]) -> str:
    more = f" and {len(items) - LISTED} more" if len(items) > LISTED else ""
    return ", ".join(items[:LISTED]) + more


def _selection(info: RunInfo) -> str:
    """The run's selection in words, when it had one."""
    parts = [
        f"{flag} {info.selection[key]!r}"
        for key, flag in (("keyword", "-k"), ("markexpr", "-m"))
        if info.selection.get(key)
    ]
    if info.selection.get("maxfail"):
        parts.append(f"--maxfail {info.selection['maxfail']}")
    return f" (the run's selection: {', '.join(parts)})" if parts else ""


def _utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.cache
def git_commit() -> str | None:
    """The suite's git commit when it runs from a checkout, else None."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if re.fullmatch(r"[0-9a-f]{40}", commit) else None


# -- digest ------------------------------------------------------------------------------


def canonical(certificate: dict[str, Any]) -> bytes:
    """Canonical JSON of everything but the digest: sorted keys, no whitespace, UTF-8."""
    content = {k: v for k, v in certificate.items() if k != "digest"}
    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def digest(certificate: dict[str, Any]) -> str:
    """The hex sha256 of the canonical content."""
    return hashlib.sha256(canonical(certificate)).hexdigest()


def seal(certificate: dict[str, Any]) -> dict[str, Any]:
    """`certificate` with its digest member set."""
    return {**certificate, "digest": {"algorithm": "sha256", "value": digest(certificate)}}


def dumps(certificate: dict[str, Any]) -> str:
    """The certificate as written to disk (indented for people; the digest ignores layout),
    control characters from the target written as escapes."""
    text = json.dumps(certificate, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    return escape_controls(text) + "\n"


def write(certificate: dict[str, Any], path: Path) -> None:
    """Write the certificate (creating its directory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(certificate), encoding="utf-8")


# -- verification ------------------------------------------------------------------------


def verify(data: bytes) -> tuple[int, str]:
    """(exit status, message): 0 valid, 1 schema or digest mismatch, 2 unreadable."""
    try:
        certificate = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return Exit.USAGE, f"not a readable JSON certificate: {exc}"
    from conformance._schemas import checker

    schema = checker("certificate")
    if not schema.is_valid(certificate):
        errors = schema.errors(certificate)
        first = errors[0].message if errors else "invalid"
        return Exit.FAILED, f"does not match schemas/certificate.json: {first}"
    expected = digest(certificate)
    if certificate["digest"]["value"] != expected:
        return Exit.FAILED, (
            f"digest mismatch: the content hashes to {expected}, the "
            f"certificate says {certificate['digest']['value']}"
        )
    return Exit.OK, (
        f"valid: {certificate['verdict']} for {certificate['target']['url']} "
        f"({certificate['run']['date']}), sha256 {expected}"
    )


def verify_file(path: Path) -> tuple[int, str]:
    """`verify` the certificate at `path` (2 if it cannot be read)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return Exit.USAGE, f"{path}: cannot read it: {exc.strerror or exc}"
    code, message = verify(data)
    return code, f"{path}: {message}"


# -- the exit status of `conformance run` ------------------------------------------------


_PYTEST_EXITS = {
    pytest.ExitCode.INTERRUPTED: Exit.USAGE,
    pytest.ExitCode.INTERNAL_ERROR: Exit.INTERNAL,
    pytest.ExitCode.USAGE_ERROR: Exit.USAGE,
}


def exit_code(certificate: dict[str, Any] | None, pytest_code: int) -> Exit:
    """The exit status of `conformance run` (see `Exit`): pytest's own trouble first, then
    an internal error in a test, then the verdict."""
    if pytest_code in _PYTEST_EXITS or certificate is None:
        return _PYTEST_EXITS.get(pytest.ExitCode(pytest_code), Exit.USAGE)
    kinds = {e["kind"] for e in certificate["errors"]}
    if "error" in kinds:
        return Exit.INTERNAL
    if passes(certificate):
        return Exit.OK
    if certificate["verdict"] == NOT_CERTIFIED:
        return Exit.FAILED
    return Exit.USAGE if kinds == {"unreachable"} else Exit.INCOMPLETE


def passes(certificate: dict[str, Any]) -> bool:
    """Certified, or not certified only because of failures its baseline lists (and
    otherwise complete)."""
    if certificate["verdict"] == CERTIFIED:
        return True
    baseline = certificate["baseline"]
    uncovered = any(r["level"] == "MUST" and r["status"] in UNCOVERED for r in certificate["rules"])
    return (
        baseline is not None
        and baseline["passed"]
        and not certificate["errors"]
        and not certificate["target"]["insecure"]
        and not uncovered
        and certificate["summary"]["passed"] > 0
    )
