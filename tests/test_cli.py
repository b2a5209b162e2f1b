"""The command line follows the conventions of one: --version, unknown options rejected before
anything starts (with the closest known one), ordinary mistakes in one line with the usage
exit status, output any terminal encoding can show, and -v showing each request."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conformance.server import ServerThread

ENV = {**os.environ, "NO_COLOR": "1"}


def conformance(
    *args: str, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**ENV, **env},
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["check", "--fial-on", "should", "x.sse"],
            "unknown option --fial-on; did you mean --fail-on?",
        ),
        (["run", "--targt-url", "http://127.0.0.1:9/v1"], "did you mean --target-url?"),
        (["rules", "--mark"], "unknown option --mark; did you mean --markdown?"),
    ],
)
def test_an_unknown_option_is_refused_before_anything_starts(
    args: list[str], expected: str
) -> None:
    start = time.monotonic()
    done = conformance(*args)
    assert done.returncode == 2
    assert expected in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
    assert "started the built-in reference server" not in done.stderr
    assert time.monotonic() - start < 10


def test_a_busy_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        done = conformance("serve", "--port", str(sock.getsockname()[1]))
    assert done.returncode == 2
    assert done.stderr.startswith("conformance serve: cannot listen on 127.0.0.1:")
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr


def test_an_unwritable_out_folder_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    done = conformance("run", "--out", str(blocker / "reports"))
    assert done.returncode == 2
    assert done.stderr.startswith(f"conformance run: --out {blocker / 'reports'}: cannot write")
    assert len(done.stderr.splitlines()) == 1


def test_a_url_without_a_scheme_is_one_line(tmp_path: Path) -> None:
    done = conformance("run", "--out", "out", "--target-url", "127.0.0.1:8000/v1", cwd=tmp_path)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and "expected the API's base URL with its scheme" in errors[0]


@pytest.mark.slow
def test_output_never_crashes_on_the_terminals_encoding(
    reference_server: ServerThread, tmp_path: Path
) -> None:
    done = conformance(
        "run", "--out", "out", "--target-url", reference_server.url(fault="model-drift"),
        "--property-examples", "2", cwd=tmp_path, PYTHONIOENCODING="ascii",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stdout.isascii()
    assert "exit status 0 (certified)" in done.stdout


@pytest.mark.slow
def test_verbose_shows_each_request(reference_server: ServerThread, tmp_path: Path) -> None:
    done = conformance(
        "run", "--out", "out", "--target-url", reference_server.base_url, "-v", "-k", "minimal",
        cwd=tmp_path,
    )  # fmt: skip
    assert "    request 1: 200 OK, " in done.stdout and " events, " in done.stdout, done.stdout


def test_a_reader_that_stops_reading_ends_the_command_quietly(tmp_path: Path) -> None:
    # `conformance check ... | head -1`: the pipe closes while the command still writes; it
    # stops as a command killed by SIGPIPE would (128 + 13), not as a bug in the suite.
    recording = tmp_path / "s.sse"
    recording.write_bytes(b'data: {"id": "x", "object": "nope"}\n\n' * 100)
    reader, writer = os.pipe()
    os.close(reader)  # nobody will ever read
    with os.fdopen(writer, "wb") as stdout:
        done = subprocess.run(
            [sys.executable, "-m", "conformance", "check", str(recording), "--format", "json"],
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
            env=ENV,
        )
    assert done.returncode == 141, done.stderr
    assert done.stderr == ""
