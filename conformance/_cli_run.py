"""`conformance run`: certify a target (by default the built-in server) through pytest and
write its reports: `<host>-<port>-<UTC time>.html` (pytest-html, self-contained), `.json`
(the certificate) and `.xml` (JUnit), into `--out` (default `reports/`)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from conformance._model import Exit

_DEFAULT_PORTS = {"http": 80, "https": 443}


@contextlib.contextmanager
def _target(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from conformance.server import ServerThread

    with _quiet_probed_server(), ServerThread() as server:
        print(
            f"conformance: started the built-in reference server at {server.base_url}",
            file=sys.stderr,
        )
        yield server.base_url


@contextlib.contextmanager
def _quiet_probed_server() -> Iterator[None]:
    """The run's own probes send the built-in server broken requests and drop connections
    on purpose; the warnings uvicorn and asyncio log for them are not the user's concern."""
    loggers = [logging.getLogger(name) for name in ("uvicorn.error", "asyncio")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


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
    """The pytest command line of a run: the conformance options given, the report files,
    then what was passed on to pytest."""
    from conformance._options import OPTIONS

    argv = [
        "--target-url",
        url,
        "-p",
        "no:cacheprovider",
        # this process imported the package before pytest could rewrite its asserts
        "-W",
        "ignore:Module already imported:pytest.PytestAssertRewriteWarning",
        # the conformance section at the end shows each failed rule once, in full
        "--tb=no",
        "-rN",
    ]
    for option in OPTIONS:
        value = getattr(args, option.dest, None)
        if option.flag == "--target-url" or value in (None, False):
            continue
        argv += [option.flag] if option.is_flag else [option.flag, str(value)]
    for header in getattr(args, "header", None) or []:
        argv += ["--header", header]
    if paths is not None:
        argv += ["--report-html", str(paths.html), "--report-junit", str(paths.junit)]
        argv += ["--certificate", str(paths.json)]
    return argv + extra


def run(args: argparse.Namespace, extra: list[str]) -> int:
    """Run the suite; the exit status is one of `Exit` (see `conformance run --help`)."""
    from conformance._report._certificate import exit_code
    from conformance._report._session import VerdictSink

    problem = _writable(Path(args.out))
    if problem:
        print(f"conformance run: --out {args.out}: {problem}", file=sys.stderr)
        return Exit.USAGE
    started = datetime.now(UTC)
    if "--" in extra:  # what follows `--` goes to pytest, as what precedes it
        extra = [*extra[: extra.index("--")], *extra[extra.index("--") + 1 :]]
    sink = VerdictSink()
    with _target(args.target_url) as url:
        paths = report_paths(Path(args.out), url, started)
        code = pytest.main(pytest_arguments(args, url, extra, paths), plugins=[sink])
    certificate = sink.certificate
    status = exit_code(certificate, int(code))
    crash = _crash_file(sink, paths) if status is Exit.INTERNAL else None
    _summary(certificate, paths, status, crash)
    return status


def _writable(folder: Path) -> str:
    """Why the reports cannot be written into `folder` (empty: they can)."""
    probe = folder / ".conformance-write-check"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return f"cannot write there ({exc.strerror or exc})"
    return ""


def _crash_file(sink: Any, paths: ReportPaths) -> Path | None:
    """Write the tracebacks of the tests that ended in an internal error next to the
    reports; the file to send with a bug report."""
    if not sink.crashes:
        return None
    path = paths.json.with_name(paths.json.stem + ".crash.txt")
    text = "\n\n".join(f"== {nodeid}\n{trace}" for nodeid, trace in sink.crashes)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")
    return path


_MEANING = {
    Exit.OK: "certified",
    Exit.FAILED: "not certified",
    Exit.USAGE: "a set-up or usage error: nothing was certified",
    Exit.INCOMPLETE: "incomplete: what ran passed, but the run does not cover every MUST rule",
    Exit.INTERNAL: "this is a bug in the suite",
}


def _summary(
    certificate: dict[str, Any] | None, paths: ReportPaths, status: Exit, crash: Path | None
) -> None:
    """The last lines of a run: the files written and the exit status (the verdict itself is
    in the conformance section pytest printed just before)."""
    written = [(label, path) for label, path in
               (("report", paths.html), ("certificate", paths.json), ("junit", paths.junit))
               if certificate is not None and path.exists()]  # fmt: skip
    for label, path in written:
        print(f"{label + ':':12} {path}")
    if crash is not None:
        print(f"this is a bug in the suite: the tracebacks are in {crash}; please report it")
    print(f"exit status {int(status)} ({_MEANING[status]})")
