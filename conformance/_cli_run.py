"""`conformance run`: certify a target (by default the built-in server) through pytest and
write its reports: `<host>-<port>-<UTC time>.html` (pytest-html, self-contained), `.json`
(the certificate) and `.xml` (JUnit), into `--out` (default `reports/`)."""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_DEFAULT_PORTS = {"http": 80, "https": 443}


@contextlib.contextmanager
def _target(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from conformance.server import ServerThread

    with ServerThread() as server:
        print(
            f"conformance: started the built-in reference server at {server.base_url}",
            file=sys.stderr,
        )
        yield server.base_url


@dataclass(frozen=True, slots=True)
class ReportPaths:
    """The three files a run writes."""

    html: Path
    json: Path
    junit: Path


def report_stem(url: str, when: datetime) -> str:
    """`host-port-YYYYmmddTHHMMSSZ` for a target URL and a moment (UTC)."""
    parts = urlsplit(url)
    host = parts.hostname or "target"
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
    except ValueError:
        port = 0
    safe = re.sub(r"[^A-Za-z0-9._]+", "-", host).strip("-") or "target"
    return f"{safe}-{port}-{when.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"


def report_paths(out: Path, url: str, when: datetime) -> ReportPaths:
    """Where the reports of a run against `url` started at `when` go."""
    stem = out / report_stem(url, when)
    return ReportPaths(*(stem.with_name(f"{stem.name}.{ext}") for ext in ("html", "json", "xml")))


def pytest_arguments(
    args: argparse.Namespace, url: str, extra: list[str], paths: ReportPaths | None = None
) -> list[str]:
    """The pytest command line of a run."""
    argv = [
        "--target-url",
        url,
        "--profile",
        args.profile,
        "-p",
        "no:cacheprovider",
        # this process imported the package before pytest could rewrite its asserts
        "-W",
        "ignore:Module already imported:pytest.PytestAssertRewriteWarning",
    ]
    if args.model:
        argv += ["--model", args.model]
    if args.strict:
        argv.append("--strict")
    if getattr(args, "baseline", None):
        argv += ["--baseline", args.baseline]
    if paths is not None:
        argv += [
            f"--html={paths.html}",
            "--self-contained-html",
            f"--junitxml={paths.junit}",
            "--certificate",
            str(paths.json),
        ]
    return argv + extra


def run(args: argparse.Namespace, extra: list[str]) -> int:
    """Run the suite; 0 certified, 1 not certified, 2 usage or connection errors."""
    from conformance._report._certificate import exit_code
    from conformance._report._session import VerdictSink

    started = datetime.now(UTC)
    extra = extra[1:] if extra[:1] == ["--"] else extra
    sink = VerdictSink()
    with _target(args.target_url) as url:
        paths = report_paths(Path(args.out), url, started)
        code = pytest.main(pytest_arguments(args, url, extra, paths), plugins=[sink])
    certificate = sink.certificate
    status = exit_code(certificate, int(code))
    _summary(certificate, paths, status, int(code))
    return status


def _summary(
    certificate: dict[str, Any] | None, paths: ReportPaths, status: int, pytest_code: int
) -> None:
    """The last lines of a run: verdict, MUST/SHOULD counts, the files written."""
    print()
    if certificate is None:
        print(
            f"conformance: no verdict (pytest exited with status {pytest_code}); "
            f"exit status {status}"
        )
        return
    from conformance._report._html import counts_line

    meaning = {
        EXIT_OK: "pass",
        EXIT_FAILED: "not certified",
        EXIT_USAGE: "the target could not be reached"
        if pytest_code in (0, 1)
        else f"usage error: pytest exited with status {pytest_code}",
    }[status]
    print(f"conformance: {certificate['verdict']} - {certificate['target']['url']}")
    print(f"  {counts_line(certificate)}")
    for reason in certificate["reasons"]:
        print(f"  - {reason}")
    for label, path in (("html", paths.html), ("json", paths.json), ("junit", paths.junit)):
        if path.exists():
            print(f"  {label:5} {path}")
    print(f"  exit status {status} ({meaning})")
