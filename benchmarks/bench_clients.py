"""What client replay (`--clients`) adds to the wall time of `conformance run` against the
reference server, measured in one run (goal: at most 20% more).

    .venv/bin/python benchmarks/bench_clients.py             # 7 rounds
    .venv/bin/python benchmarks/bench_clients.py --check     # exit 1 when the goal is missed

Each round runs the whole `conformance run` (built-in server, default property examples)
once without and once with `--clients`, the order alternating from round to round so that
a noisy neighbour hurts both alike; the figure is the median of the rounds' ratios, shown
with their spread (lowest to highest). Replay runs every available library (`conformance
clients` lists them), each runtime in a worker process started with the session, reading
the streams as the tests judge them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL = 1.2


def run_once(clients: bool) -> tuple[float, dict[str, object]]:
    """Seconds of one `conformance run`, and its certificate's `clients` member."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "conformance", "run", "--out", out]
        if clients:
            command += ["--", "--clients"]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        elapsed = time.perf_counter() - start
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        [path] = Path(out).glob("*.json")
        certificate = json.loads(path.read_text(encoding="utf-8"))
    return elapsed, certificate.get("clients") or {}


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
    clients: dict[str, object] = {}
    for round_ in range(args.rounds):
        for side in (False, True) if round_ % 2 == 0 else (True, False):
            seconds, member = run_once(side)
            if side:
                replayed.append(seconds)
                clients = member
            else:
                plain.append(seconds)
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
    return 1 if args.check and ratio > GOAL else 0


if __name__ == "__main__":
    sys.exit(main())
