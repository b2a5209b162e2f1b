"""The Python worker of a replay: a process of its own, started with the session, so that
importing the client libraries and reading the streams take the other core while the tests
run (see `_engine.Replayer`).

    python -m conformance._replay._worker FOLDER LIBRARY...

It reads every recording that lands in FOLDER (`*.json`, written whole by a rename) through
each entry point of each library (those of the recording's `only`, when it names any), in
name order, as they land, and writes a JSON line per reading on its standard output:
`{"file", "library", "entry", "reading"}` (`reading_dict`), or `{"library", "unavailable"}`
for a library that cannot be imported. When its standard input ends, it reads what is left
in FOLDER and exits.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from conformance._replay._python import READERS, Reader, describe
from conformance._replay._recorded import Recorded, reading_dict

POLL = 0.04
"""Seconds between two looks at the folder while nothing is left to read."""


def _input_end() -> threading.Event:
    """Set once standard input ends (the session is over, or its process is gone)."""
    ended = threading.Event()

    def drain() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        ended.set()

    threading.Thread(target=drain, name="replay-input", daemon=True).start()
    return ended


def _write(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def _load(names: list[str]) -> dict[str, dict[str, Reader]]:
    readers = {}
    for name in names:
        try:
            readers[name] = READERS[name]()
        except Exception as exc:
            _write({"library": name, "unavailable": f"it cannot be imported: {describe(exc)}"})
    return readers


def serve(folder: Path, names: list[str]) -> None:
    """Read every recording landing in `folder` until standard input ends."""
    ended = _input_end()
    readers = _load(names)
    seen: set[str] = set()
    while True:
        last = ended.is_set()
        fresh = sorted(p for p in folder.glob("*.json") if p.name not in seen)
        for path in fresh:
            seen.add(path.name)
            try:
                recording = Recorded.from_dict(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError):
                continue  # the session skips it too (`spooled_files`)
            for name, entries in readers.items():
                if recording.only and name not in recording.only:
                    continue
                for entry, read in entries.items():
                    reading = reading_dict(read(recording))
                    _write({"file": path.name, "library": name, "entry": entry, "reading": reading})
        if last:
            return
        if not fresh:
            ended.wait(POLL)


def main(argv: list[str]) -> None:
    """Serve, then exit at once: tearing down an interpreter that imported the client
    libraries would cost the session's end a few tenths of a second. A failure is one line
    on standard error (the session quotes it), never a traceback."""
    folder, *names = argv
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the session's: it ends us
    try:
        serve(Path(folder), names)
    except Exception as exc:  # one line for the session to quote, not a traceback
        sys.stderr.write(describe(exc))
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
