"""What a person reads on the terminal is pinned: the output of `conformance run` for a failing
run, a run with SHOULD warnings and an unreachable target (each under 40 lines), and every
`--help` page. Ports, times, ids and timestamps are replaced by placeholders before the
comparison; `UPDATE_GOLDEN=1` rewrites the files after a deliberate change."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.server import ServerThread
from tests.test_golden import assert_golden

LINES = 40
HELPS = ["", "serve", "faults", "rules", "run", "check", "clients", "verify-report"]
ENV = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"}
_VOLATILE = [
    (re.compile(r"^(platform |plugins: |rootdir: |cachedir: ).*\n", re.M), ""),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r"127\.0\.0\.1-\d+-\d{8}T\d{6}Z"), "127.0.0.1-PORT-TIME"),
    (re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"), "DATE"),
    (re.compile(r"in \d+\.\d+s"), "in Ns"),
    (re.compile(r"chatcmpl-[0-9a-f]+"), "chatcmpl-ID"),
    (re.compile(r"\b1[0-9]{9}\b"), "CREATED"),
    (re.compile(r"=+ (.*?) =+$", re.M), r"== \1 =="),
    (re.compile(r"^(\S+\.(?:py|yaml)) ([.FsE]+) +\[ *\d+%\]$", re.M), r"\1 \2"),
]


def normalised(text: str) -> str:
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def run(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--out", "out", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=ENV,
    )
    return normalised(done.stdout + done.stderr) + f"[exit status {done.returncode}]\n"


FEW = ["--property-examples", "1", "--concurrency", "2"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "fault"), [("failing", "missing-done"), ("warning", "model-drift")]
)
def test_the_output_of_a_run(
    reference_server: ServerThread, tmp_path: Path, name: str, fault: str
) -> None:
    text = run(tmp_path, "--target-url", reference_server.url(fault=fault), *FEW)
    assert len(text.splitlines()) < LINES, text
    assert "Traceback" not in text and "Settings(" not in text and "Finding(" not in text
    assert_golden(f"run_{name}.txt", text)


def test_the_output_for_an_unreachable_target(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    text = run(tmp_path, "--target-url", f"http://127.0.0.1:{port}/v1", *FEW)
    assert len(text.splitlines()) < LINES, text
    assert_golden("run_unreachable.txt", text)


@pytest.mark.parametrize("command", HELPS, ids=lambda c: c or "conformance")
def test_help_pages(command: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "conformance", *([command] if command else []), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=ENV,
    )
    assert_golden(f"help_{command or 'conformance'}.txt", done.stdout)


def test_the_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "--version"], capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    assert re.fullmatch(r"conformance \d+\.\d+\.\d+\n", done.stdout)
