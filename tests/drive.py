"""Stream requests in a fresh process and print, per request, the verdict, time and peak RSS.

Not a test module: `tests/test_hostile.py` runs it in a subprocess so that the memory it
measures is the client's alone (the servers stay in the test process).

    python tests/drive.py JSON

JSON is a list of runs, each {"url": ..., "limits": {Limits field: value}, "profile": name}
(the profile optional). One JSON line
is printed per run: {"rules": [...], "messages": [...], "seconds": s, "peak_mib": m}.
`seconds` covers the request alone; `peak_mib` is the peak RSS while it ran (Linux resets
the peak between runs through /proc/self/clear_refs; elsewhere it is the process peak).
"""

from __future__ import annotations

import contextlib
import json
import re
import resource
import sys
import time
from pathlib import Path
from typing import Any

from conformance._client import Client, Target, TargetUnreachable
from conformance._model import DEFAULT_PROFILE, Limits, Policy

REQUEST = {
    "model": "alphaedge-large-3-2512",
    "messages": [{"role": "user", "content": "Hello!"}],
    "stream": True,
}
_STATUS = Path("/proc/self/status")
_CLEAR = Path("/proc/self/clear_refs")


def peak_mib() -> float:
    """Peak RSS of this process since the last reset, in MiB."""
    if _STATUS.exists():
        found = re.search(r"VmHWM:\s+(\d+) kB", _STATUS.read_text())
        if found:
            return int(found.group(1)) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> None:
    """Start a new peak-RSS measurement where the kernel allows it."""
    with contextlib.suppress(OSError):
        _CLEAR.write_text("5")


def run(url: str, limits: dict[str, Any], profile: str = DEFAULT_PROFILE) -> dict[str, Any]:
    """One streamed request against `url` with `limits`; its verdict, time and peak RSS."""
    reset_peak()
    start = time.monotonic()
    try:
        with Client(Target(url, limits=Limits(**limits), profile=profile)) as client:
            live = client.stream(REQUEST)
        assert live.result is not None
        failures = Policy().failing(live.findings)
        verdict = {
            "rules": [v.rule_id for v in failures],
            "messages": [v.message for v in failures],
        }
    except TargetUnreachable as exc:
        verdict = {"rules": ["unreachable"], "messages": [str(exc)]}
    return {**verdict, "seconds": time.monotonic() - start, "peak_mib": peak_mib()}


def main() -> None:
    for spec in json.loads(sys.argv[1]):
        profile = spec.get("profile", DEFAULT_PROFILE)
        print(json.dumps(run(spec["url"], spec.get("limits", {}), profile)), flush=True)


if __name__ == "__main__":
    main()
