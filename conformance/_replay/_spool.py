"""The spool of a live run: each replayable stream is written to a folder as it is judged
(by whichever pytest process judged it, the pytest-xdist workers included); the replay
workers the controller started with the session read each one as it lands (see
`_engine.Replayer`), so the streams cost no memory meanwhile."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

from conformance._check import StreamResult
from conformance._model import Exchange
from conformance._replay._recorded import Recorded, Tap, recorded, replayable

SPOOL_ENV = "CONFORMANCE_REPLAY_SPOOL"
"""The spool folder, handed by the controller of a run to its pytest-xdist workers."""
_COUNTER = itertools.count()


def current_label() -> str:
    """The test that is running (pytest's PYTEST_CURRENT_TEST without its phase)."""
    running = os.environ.get("PYTEST_CURRENT_TEST", "")
    return running.rsplit(" (", 1)[0] if running else "stream"


def spool(folder: str, exchange: Exchange, result: StreamResult | None, tap: Tap) -> bool:
    """Write a judged stream to the spool when it can be replayed (else a note of why not,
    so the session can count it); whether it was."""
    name = Path(folder) / f"{os.getpid()}-{next(_COUNTER):06d}"
    why = replayable(result, exchange, tap)
    if why is not None or result is None:
        name.with_suffix(".skip").write_text(f"{current_label()}: {why}\n", encoding="utf-8")
        return False
    write(name, recorded(current_label(), exchange, tap, result))
    return True


def write(name: Path, recording: Recorded) -> None:
    """Write `recording` as `name`.json, whole: a reader never sees half of it."""
    temporary = name.with_suffix(".tmp")
    temporary.write_text(json.dumps(recording.as_dict()), encoding="utf-8")
    temporary.replace(name.with_suffix(".json"))


def spooled_files(folder: str | Path) -> list[tuple[str, Recorded]]:
    """Every recording in the folder, by file name, in name order (per process, the order
    written)."""
    out = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            out.append((path.name, Recorded.from_dict(json.loads(path.read_text("utf-8")))))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return out


def spooled(folder: str | Path) -> tuple[list[Recorded], int]:
    """Every stream in the spool, in the order written (per process), and how many
    judged streams were not replayable."""
    recordings = [recording for _, recording in spooled_files(folder)]
    return recordings, len(list(Path(folder).glob("*.skip")))
