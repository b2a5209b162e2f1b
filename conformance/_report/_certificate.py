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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conformance import __version__
from conformance._registry import Rule
from conformance._report._baseline import judge_baseline
from conformance._report._collect import FAILED, NOT_APPLICABLE, PASSED, WARNING, Gatherer
from conformance._report._redact import Redactor

FORMAT = 2
SUITE_NAME = "streaming-conformance"
CERTIFIED, NOT_CERTIFIED = "CERTIFIED", "NOT CERTIFIED"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What a certificate says about the run itself."""

    url: str
    model: str
    profile: str
    strict: bool
    insecure: bool
    started: float
    duration: float


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
    reasons = _reasons(results, errors, info)
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
            "strict": info.strict,
            "tests": gatherer.counts(),
        },
        "rules": results,
        "summary": summary(results),
        "errors": errors,
        "baseline": judge_baseline(baseline, results) if baseline is not None else None,
        "verdict": NOT_CERTIFIED if reasons else CERTIFIED,
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
        "should_warned": count(WARNING),
        "passed": count(PASSED),
        "not_applicable": count(NOT_APPLICABLE),
        "findings": sum(r["counts"]["findings"] for r in results),
    }


def _reasons(
    results: list[dict[str, Any]], errors: list[dict[str, str]], info: RunInfo
) -> list[str]:
    """Why the run is not certified (empty when it is)."""
    reasons = []
    for level in ("MUST", "SHOULD"):
        failed = [r["id"] for r in results if r["status"] == FAILED and r["level"] == level]
        if failed:
            how = " (--strict)" if level == "SHOULD" else ""
            plural = "s" if len(failed) != 1 else ""
            reasons.append(f"{len(failed)} {level} rule{plural} failed{how}: {', '.join(failed)}")
    for kind, what in (
        ("unreachable", "could not reach the target"),
        ("error", "ended in an error without a verdict"),
    ):
        count = sum(1 for e in errors if e["kind"] == kind)
        if count:
            reasons.append(f"{count} test{'s' if count != 1 else ''} {what}")
    if info.insecure:
        reasons.append("TLS verification was off (--insecure): the target was not authenticated")
    if all(r["status"] == NOT_APPLICABLE for r in results):
        reasons.append("no rule was checked")
    return reasons


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
    """The certificate as written to disk (indented for people; the digest ignores layout)."""
    return (
        json.dumps(certificate, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
        + "\n"
    )


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
        return EXIT_USAGE, f"not a readable JSON certificate: {exc}"
    from conformance._schemas import checker

    schema = checker("certificate")
    if not schema.is_valid(certificate):
        errors = schema.errors(certificate)
        first = errors[0].message if errors else "invalid"
        return EXIT_FAILED, f"does not match schemas/certificate.json: {first}"
    expected = digest(certificate)
    if certificate["digest"]["value"] != expected:
        return EXIT_FAILED, (
            f"digest mismatch: the content hashes to {expected}, the "
            f"certificate says {certificate['digest']['value']}"
        )
    return EXIT_OK, (
        f"valid: {certificate['verdict']} for {certificate['target']['url']} "
        f"({certificate['run']['date']}), sha256 {expected}"
    )


def verify_file(path: Path) -> tuple[int, str]:
    """`verify` the certificate at `path` (2 if it cannot be read)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return EXIT_USAGE, f"{path}: cannot read it: {exc.strerror or exc}"
    code, message = verify(data)
    return code, f"{path}: {message}"


# -- the exit status of `conformance run` ------------------------------------------------


def exit_code(certificate: dict[str, Any] | None, pytest_code: int) -> int:
    """0 certified (or within the baseline), 1 not certified, 2 usage or connection errors."""
    if certificate is None or pytest_code not in (0, 1):
        return EXIT_USAGE
    failed = any(r["status"] == FAILED for r in certificate["rules"])
    errors = certificate["errors"]
    if errors and not failed and all(e["kind"] == "unreachable" for e in errors):
        return EXIT_USAGE
    return EXIT_OK if passes(certificate) else EXIT_FAILED


def passes(certificate: dict[str, Any]) -> bool:
    """Certified, or not certified only because of failures its baseline lists."""
    if certificate["verdict"] == CERTIFIED:
        return True
    baseline = certificate["baseline"]
    checked = certificate["summary"]["not_applicable"] < certificate["summary"]["rules"]
    return (
        baseline is not None
        and baseline["passed"]
        and not certificate["errors"]
        and not certificate["target"]["insecure"]
        and checked
    )
