"""The benchmark script runs in its small CI mode and prints every figure it promises.

The goals themselves are not asserted here (a loaded CI machine would make them flaky):
`benchmarks/bench_checker.py --check` enforces them where timing is trustworthy.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_checker.py"
HOSTILE = SCRIPT.with_name("bench_hostile.py")


def _small_run(script: Path) -> str:
    """What `script --small --rounds 1` prints (it must end with status 0)."""
    done = subprocess.run(
        [sys.executable, str(script), "--small", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_small_benchmark_prints_ratios_and_peak_rss() -> None:
    out = _small_run(SCRIPT)
    assert re.search(r"^machine: .+, \d+ cores, Python 3\.\d+", out, re.MULTILINE)
    assert re.search(r"ratio checker/floor: \d+\.\d\dx \(goal <= 0\.7x\)", out), out
    assert re.search(r"conformance check: +\d\.\d{3} s \(goal <= 0\.12 s\)", out), out
    assert re.search(r"ratio command/floor: \d+\.\d\dx \(goal <= 1\.0x\)", out), out
    assert re.search(r"-j 2: [\d.]+ s  [\d.]+ MB/s  \d+ files/s", out), out
    assert re.search(r"one process per file \(20 files\): [\d.]+ s a file", out), out
    assert re.search(r"speed-up -j 2 / -j 1: \d+\.\d\dx \(goal >= 1\.7x\)", out), out
    assert re.search(r"ratio suite/bare: \d+\.\d\dx \(goal <= 1\.5x\)", out), out
    peak = re.search(r"peak RSS: (\d+\.\d) MiB \(goal <= 100 MiB\)", out)
    assert peak and 10 < float(peak.group(1)) < 1000, out
    judged = re.search(r"^(goals missed: .+|all goals met)$", out, re.MULTILINE)
    assert judged and "whole-command" not in judged.group(0) and "folder" not in judged.group(0)
    assert "not judged at --small sizes (start-up dominates): whole-command ratio, folder" in out


@pytest.mark.slow
def test_hostile_benchmark_prints_a_doubling_ratio_per_case() -> None:
    """Linear time on hostile input is shown by `bench_hostile.py` (ratios, not timings)."""
    out = _small_run(HOSTILE)
    ratios = re.findall(r"^(.+): [\d,]+ -> [\d,]+: .* ratio (\d+\.\d\d)x \(linear: ~[12]x\)$",
                        out, re.MULTILINE)  # fmt: skip
    assert len(ratios) == 10, out
    assert "tool calls in one chunk (calls)" in dict(ratios)
    assert re.search(r"^blank lines: [\d.]+ MB/s, events: [\d.]+ MB/s", out, re.MULTILINE)
