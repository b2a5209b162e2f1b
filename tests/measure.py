"""Run a command in a fresh process and measure it: exit status, output, seconds, peak RSS.

Not a test module: the hostile-input tests run `conformance check` and `conformance run`
through it, so that the memory measured is that command's alone. The process gets an
address-space cap (a regression fails the test instead of exhausting the machine) and is
killed when it outlives its time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ADDRESS_SPACE = 3 << 30
"""Bytes of address space a measured process may map (RLIMIT_AS)."""


@dataclass(frozen=True)
class Measured:
    """What one command did."""

    code: int | None  # None: killed when it outlived its time
    stdout: str
    stderr: str
    seconds: float
    peak_mib: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


_CAPPED = f"""
import atexit, os, resource, runpy, sys
resource.setrlimit(resource.RLIMIT_AS, ({ADDRESS_SPACE}, {ADDRESS_SPACE}))
def _peak():
    with open("/proc/self/status") as status, open(os.environ["MEASURE_PEAK"], "w") as out:
        out.write(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
if os.path.exists("/proc/self/status"):
    atexit.register(_peak)
sys.argv = sys.argv[1:]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""
"""Runs a module as `python -m` would, under the address-space cap (set in the child itself:
a `preexec_fn` is unsafe in a test process that runs servers in threads), and writes its
peak RSS at exit (VmHWM: the kernel's rusage of a child spawned by vfork would count the
parent's pages)."""


def conformance(
    *args: str, timeout: float, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Measured:
    """`conformance ARGS` in a fresh, capped process, measured."""
    argv = [sys.executable, "-c", _CAPPED, "conformance", *args]
    with tempfile.TemporaryDirectory() as folder:
        peak = Path(folder) / "peak"
        done = measure(
            argv, timeout=timeout, cwd=cwd, env={**(env or {}), "MEASURE_PEAK": str(peak)}
        )
        if peak.exists() and peak.read_text():
            done = dataclasses.replace(done, peak_mib=int(peak.read_text()) / 1024)
    return done


def measure(
    argv: list[str], *, timeout: float, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Measured:
    """Run `argv`; its status, output, wall time and peak RSS (from the kernel's rusage)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        process = subprocess.Popen(
            argv,
            stdout=out,
            stderr=err,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        code, usage = _wait(process, timeout)
        seconds = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "backslashreplace")
        stderr = err.read().decode("utf-8", "backslashreplace")
    return Measured(code, stdout, stderr, seconds, usage.ru_maxrss / 1024)


def _wait(
    process: subprocess.Popen[bytes], timeout: float
) -> tuple[int | None, resource.struct_rusage]:
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, usage
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            _, _, usage = os.wait4(process.pid, 0)
            process.returncode = -9
            return None, usage
        time.sleep(0.01)


def check(*args: str, timeout: float) -> Measured:
    """`conformance check ARGS`, measured."""
    return conformance("check", *args, timeout=timeout)
