"""What client replay (`--clients`) adds to the wall time of `conformance run` against the
reference server, measured in one run (goal: at most 20% more).

    .venv/bin/python benchmarks/bench_clients.py             # 7 rounds
    .venv/bin/python benchmarks/bench_clients.py --check     # exit 1 when the goal is missed

Each round runs the whole `conformance run` (built-in server, default property examples)
once without and once with `--clients`, the order alternating from round to round so that
a noisy neighbour hurts both alike; the figure is the median of the rounds' ratios, shown
with their spread (lowest to highest), beside the CPU seconds of each side (the run and
the replay workers): the replay costs CPU, and it only overlaps the tests where a core is
free, so on a loaded machine the wall-time ratio follows the CPU one. Replay runs every
available library (`conformance clients` lists them), each runtime in a worker process
started with the session, reading the streams as the tests judge them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL = 1.2


def cpu() -> float:
    """CPU seconds (user and system) of every finished child process so far, theirs included."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def run_once(clients: bool) -> tuple[float, float, dict[str, object]]:
    """Seconds of one `conformance run`, the CPU seconds of it and its worker processes,
    and its certificate's `clients` member."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "conformance", "run", "--out", out]
        if clients:
            command += ["--", "--clients"]
        start, used = time.perf_counter(), cpu()
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        elapsed, used = time.perf_counter() - start, cpu() - used
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        [path] = Path(out).glob("*.json")
        certificate = json.loads(path.read_text(encoding="utf-8"))
    return elapsed, used, certificate.get("clients") or {}


def spread(values: list[float], unit: str = " s") -> str:
    """`median (lowest-highest)`."""
    digits = 2
    low, high = min(values), max(values)
    median = statistics.median(values)
    return f"{median:.{digits}f}{unit} ({low:.{digits}f}-{high:.{digits}f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--check", action="store_true", help="exit 1 when the goal is missed")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    plain: list[float] = []
    replayed: list[float] = []
    cpu_plain: list[float] = []
    cpu_replayed: list[float] = []
    clients: dict[str, object] = {}
    for round_ in range(args.rounds):
        for side in (False, True) if round_ % 2 == 0 else (True, False):
            seconds, used, member = run_once(side)
            if side:
                replayed.append(seconds)
                cpu_replayed.append(used)
                clients = member
            else:
                plain.append(seconds)
                cpu_plain.append(used)
    ratios = [r / p for r, p in zip(replayed, plain, strict=True)]
    matrix = clients.get("matrix") or []
    available = [
        f"{row['library']} {row['entry']}"  # type: ignore[index]
        for row in matrix  # type: ignore[attr-defined]
        if row["available"]  # type: ignore[index]
    ]
    ratio = statistics.median(ratios)
    cores = os.cpu_count() or 0
    print(
        f"machine: {platform.machine()}, {cores} cores, Python {platform.python_version()}, "
        f"load average {load:.2f} before and {os.getloadavg()[0]:.2f} after"
    )
    print(f"conformance run against the reference server, median of {args.rounds} rounds:")
    print(f"  without --clients: {spread(plain)}")
    print(f"  with --clients:    {spread(replayed)} ({clients.get('streams', 0)} streams)")
    print(f"  replayed through: {', '.join(available) or 'no library (none installed)'}")
    print(f"  ratio clients/plain: {spread(ratios, 'x')} (goal <= {GOAL:.1f}x)")
    print(
        f"  CPU of all processes: {spread(cpu_plain)} without, {spread(cpu_replayed)} with "
        "(the replay overlaps the tests only where a core is free)"
    )
    return 1 if args.check and ratio > GOAL else 0


if __name__ == "__main__":
    sys.exit(main())
