"""`conformance run`: certify a target (by default the built-in server) through pytest."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator

import pytest

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@contextlib.contextmanager
def _target(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from conformance.server import ServerThread

    with ServerThread() as server:
        print(f"conformance: started the built-in reference server at {server.base_url}",
              file=sys.stderr)
        yield server.base_url


def pytest_arguments(args: argparse.Namespace, url: str, extra: list[str]) -> list[str]:
    """The pytest command line of a run."""
    argv = ["--target-url", url, "--profile", args.profile, "-p", "no:cacheprovider"]
    if args.model:
        argv += ["--model", args.model]
    if args.strict:
        argv.append("--strict")
    return argv + extra


def run(args: argparse.Namespace, extra: list[str]) -> int:
    """Run the suite; 0 certified, 1 not certified, 2 usage or connection errors."""
    with _target(args.target_url) as url:
        code = pytest.main(pytest_arguments(args, url, extra))
    if code == pytest.ExitCode.OK:
        return EXIT_OK
    if code == pytest.ExitCode.TESTS_FAILED:
        return EXIT_FAILED
    return EXIT_USAGE
