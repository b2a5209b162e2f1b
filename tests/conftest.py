"""Shared fixtures: the reference server on a real loopback socket, and pytester."""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator

import httpcore  # noqa: F401  (see below)
import pytest

from conformance.plugin import keep_hypothesis_files_out_of_the_working_directory
from conformance.server import ServerThread

keep_hypothesis_files_out_of_the_working_directory()  # the tests' own properties too

# pytester's in-process runs unload every module first imported during the run, while httpx
# keeps the map of the httpcore exceptions it met first: were httpcore first imported inside
# a run, a later run's httpcore.ReadTimeout would escape unmapped. Importing it here keeps
# one httpcore for the whole session.

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def reference_server() -> Iterator[ServerThread]:
    """One reference server for the session; faults and variations are chosen per URL."""
    with ServerThread() as server:
        yield server


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Under `CONFORMANCE_NO_SKIPS=1` (set by `.ci/run`, which has the real corpus and a
    browser) a skipped test fails, naming why it would have skipped: CI skips nothing."""
    report = yield
    if (
        report.skipped
        and os.environ.get("CONFORMANCE_NO_SKIPS") == "1"
        and not hasattr(report, "wasxfail")
    ):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where nothing may skip: {reason}"
    return report
