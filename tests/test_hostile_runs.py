"""Whole runs against hostile targets: `conformance run` in a fresh, measured process
(`tests/measure.py`). A dead, silent or dripping target stops the run early, named as
unresponsive; the run's budget bounds it all; no run takes more than 150 MiB, writes
`.hypothesis/` where it is started, or writes a raw control character or lone surrogate
into a report."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from conformance._report import _certificate as certificates
from conformance.server import ServerThread
from tests.measure import Measured, conformance

PEAK_MIB = 150
STARTUP = 10.0
"""Seconds a run takes beyond its limits: starting Python and pytest, collecting the suite,
writing the reports (on a loaded CI machine)."""
RAW = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]|\xed[\xa0-\xbf]")
"""A C0 or C1 control character, or a UTF-8-encoded surrogate, as bytes in a file."""

pytestmark = pytest.mark.slow


def _run(cwd: Path, url: str, *options: str, timeout: float = 300) -> Measured:
    return conformance(
        "run", "--target-url", url, "--out", "out", "--", *options, timeout=timeout, cwd=cwd
    )


def _certificate(cwd: Path) -> dict[str, Any]:
    (path,) = (cwd / "out").glob("*.json")
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _errors(cwd: Path) -> list[str]:
    return [error["message"] for error in _certificate(cwd)["errors"]]


@pytest.fixture
def silent_target() -> Iterator[str]:
    """A socket that accepts connections (the kernel does) and never answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=64) as sock:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


# -- item 10: a whole-run budget, and an unresponsive target ------------------------------------


def test_a_stalled_target_is_named_unresponsive_and_the_run_stops(
    tmp_path: Path, reference_server: ServerThread
) -> None:
    done = _run(
        tmp_path, reference_server.url(fault="stall-after-headers"), "--target-timeout", "1"
    )
    assert done.code == 1, done.output[-3000:]
    assert "the run stopped early: the target is unresponsive: " in done.stdout
    assert any("is unresponsive" in message for message in _errors(tmp_path))
    assert done.seconds <= 3 * 1 + STARTUP, done.seconds  # 3 failures in a row, 1 s each
    assert done.peak_mib < PEAK_MIB, done.peak_mib


def test_a_dripping_target_is_named_unresponsive_after_three_deadlines(
    tmp_path: Path, reference_server: ServerThread
) -> None:
    done = _run(tmp_path, reference_server.url(fault="slow-drip"), "--deadline", "2")
    assert done.code == 1, done.output[-3000:]
    assert "after the 2 s whole-stream deadline" in done.stdout
    assert any("is unresponsive" in message for message in _errors(tmp_path))
    assert done.seconds <= 3 * 2 + STARTUP, done.seconds
    assert done.peak_mib < PEAK_MIB, done.peak_mib


@pytest.mark.parametrize("fault", ["slow-head", "interim-flood"])
def test_a_head_that_never_ends_stops_the_run_after_three_deadlines(
    tmp_path: Path, reference_server: ServerThread, fault: str
) -> None:
    """Requests and raw probes alike: each ends at the deadline, three make the target
    unresponsive."""
    done = _run(tmp_path, reference_server.url(fault=fault), "--deadline", "3")
    assert done.code == 1, done.output[-3000:]
    assert "no final status line and headers" in done.stdout
    assert "the run stopped early: the target is unresponsive: " in done.stdout
    assert done.seconds <= 3 * 3 + STARTUP, done.seconds
    assert done.peak_mib < PEAK_MIB, done.peak_mib


def test_the_budget_bounds_the_whole_run(tmp_path: Path, reference_server: ServerThread) -> None:
    """The pre-flight request ends at its 4 s deadline, the first test's at the end of the
    6 s budget, and nothing is sent after it."""
    url = reference_server.url(fault="slow-drip")
    done = _run(tmp_path, url, "--deadline", "4", "--budget", "6", "--unresponsive-after", "100")
    assert done.code == 1, done.output[-3000:]
    assert "the run's budget of 6 s (--budget) ran out during this exchange" in done.stdout
    assert "the run stopped early: the run's budget of 6 s (--budget) was spent" in done.stdout
    assert any("budget of 6 s (--budget) is spent" in message for message in _errors(tmp_path))
    assert done.seconds <= 6 + STARTUP, done.seconds
    assert done.peak_mib < PEAK_MIB, done.peak_mib


def test_a_silent_target_under_xdist(tmp_path: Path, silent_target: str) -> None:
    done = _run(tmp_path, silent_target, "--target-timeout", "1", "-n", "2")
    assert done.code == 1, done.output[-3000:]
    assert any("is unresponsive" in message for message in _errors(tmp_path))
    assert done.seconds <= 3 * 1 + 2 * STARTUP, done.seconds  # each worker: 3 failures
    assert done.peak_mib < PEAK_MIB, done.peak_mib  # the controller's


# -- item 11: memory, files, reports -------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "options"),
    [
        (None, ()),
        ("gzip-bomb", ()),
        ("endless-stream", ()),
        ("tool-call-flood", ()),
        ("long-event", ()),
        ("hostile-strings", ("-n", "2")),
    ],
    ids=[
        "clean",
        "gzip-bomb",
        "endless-stream",
        "tool-call-flood",
        "long-event",
        "hostile-strings",
    ],
)
def test_a_run_stays_under_150_mib_and_writes_safe_reports(
    tmp_path: Path, reference_server: ServerThread, fault: str | None, options: tuple[str, ...]
) -> None:
    url = reference_server.url(fault=fault) if fault else reference_server.base_url
    done = _run(tmp_path, url, "--property-examples", "3", *options)
    assert done.code == (1 if fault else 0), done.output[-3000:]
    assert "INTERNALERROR" not in done.output and "Traceback" not in done.stderr
    assert done.peak_mib < PEAK_MIB, done.peak_mib
    assert not (tmp_path / ".hypothesis").exists()
    files = {path.suffix: path for path in (tmp_path / "out").iterdir()}
    assert sorted(files) == [".html", ".json", ".xml"]
    for path in files.values():
        data = path.read_bytes()
        assert data and RAW.search(data) is None, (path, RAW.search(data))
        data.decode("utf-8")
    ElementTree.parse(files[".xml"])
    assert certificates.verify_file(files[".json"])[0] == 0
    assert RAW.search((done.stdout + done.stderr).encode("utf-8", "surrogatepass")) is None
