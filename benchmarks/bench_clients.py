"""What client replay (`--clients`) adds to the wall time of `conformance run` against the
reference server, measured in one run (goal: at most 20% more).

    .venv/bin/python benchmarks/bench_clients.py             # 5 rounds
    .venv/bin/python benchmarks/bench_clients.py --check     # exit 1 when the goal is missed

Each round runs the whole `conformance run` (built-in server, default property examples)
once without and once with `--clients`, alternating, so that a noisy neighbour hurts both
alike; the figure is the ratio of the best times. Replay runs every available library
(`conformance clients` lists them): the Python ones in the run's process, the JavaScript
ones in one node process at the end of the session.
"""

from __future__ import annotations

import argparse
import json
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--check", action="store_true", help="exit 1 when the goal is missed")
    args = parser.parse_args(argv)
    plain, replayed = [], []
    clients: dict[str, object] = {}
    for _ in range(args.rounds):
        plain.append(run_once(False)[0])
        seconds, clients = run_once(True)
        replayed.append(seconds)
    matrix = clients.get("matrix") or []
    available = [
        f"{row['library']} {row['entry']}"  # type: ignore[index]
        for row in matrix  # type: ignore[attr-defined]
        if row["available"]  # type: ignore[index]
    ]
    ratio = min(replayed) / min(plain)
    print(f"conformance run against the reference server, best of {args.rounds}:")
    print(f"  without --clients: {min(plain):.2f} s")
    print(f"  with --clients:    {min(replayed):.2f} s ({clients.get('streams', 0)} streams)")
    print(f"  replayed through: {', '.join(available) or 'no library (none installed)'}")
    print(f"  ratio clients/plain: {ratio:.2f}x (goal <= {GOAL:.1f}x)")
    return 1 if args.check and ratio > GOAL else 0


if __name__ == "__main__":
    sys.exit(main())
