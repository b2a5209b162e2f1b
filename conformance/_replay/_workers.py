"""The replay worker processes: one per runtime (Python, Node.js), each reading the
recordings of one folder as they land and writing its readings, a JSON line each, to a file
beside them. Everything here is bounded: a worker that cannot start, stops writing, runs
past its deadline or exits badly ends in a named failure, and is killed."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from pathlib import Path

from conformance._model import Reading
from conformance._replay._recorded import reading_from

FINISH_TIMEOUT = 60.0
PER_RECORDING = 2.0
"""Seconds a replay may take once the session is over: FINISH_TIMEOUT plus this per
recording."""
STALL = 30.0
"""Seconds a worker may go without writing a reading, once the session is over (the node
worker gives up on one library's reading after 10 s)."""
POLL = 0.25
ERROR_TAIL = 500


class Worker:
    """One worker process: started at once, told the session is over by the end of its
    standard input, waited for within a deadline."""

    def __init__(self, runtime: str, folder: Path) -> None:
        self.runtime = runtime
        self.out = folder / f"readings-{runtime}.jsonl"
        self.err = folder / f"readings-{runtime}.err"
        self.failure: str | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, command: list[str]) -> None:
        """Start the worker process (or note why it could not start)."""
        try:
            with self.out.open("wb") as out, self.err.open("wb") as err:
                self.process = subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=out, stderr=err, env=_environment()
                )
        except OSError as exc:
            self.failure = f"the {self.runtime} replay could not be started: {exc}"

    def end(self) -> None:
        """Tell the worker that no more recordings will land."""
        if self.process is not None and self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()

    def wait(self, deadline: float, budget: float) -> None:
        """Wait for the worker to exit, until `deadline` (time.monotonic) or until it has
        written nothing for STALL seconds; either way it then stops (a named failure)."""
        process = self.process
        if process is None or self.failure is not None:
            return
        size, quiet_since = -1, time.monotonic()
        while True:
            try:
                code = process.wait(timeout=POLL)
                break
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            written = _size(self.out)
            if written != size:
                size, quiet_since = written, now
            if now >= deadline:
                self._fail(f"the {self.runtime} replay took longer than {budget:g} s")
                return
            if now - quiet_since >= STALL:
                self._fail(f"the {self.runtime} replay stopped answering for {STALL:g} s")
                return
        if code != 0:
            tail = _tail(self.err)
            self.failure = f"the {self.runtime} replay failed: {tail or f'exit status {code}'}"

    def _fail(self, why: str) -> None:
        self.failure = why
        self.kill()

    def kill(self) -> None:
        """Stop the worker now, if it still runs."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        self.end()
        process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)

    def readings(self) -> tuple[dict[tuple[str, str, str], Reading], dict[str, str]]:
        """What the worker wrote: readings by (file, library, entry; "" for a library's one
        entry), and why a library could not read at all."""
        readings: dict[tuple[str, str, str], Reading] = {}
        unavailable: dict[str, str] = {}
        try:
            lines = self.out.read_bytes().splitlines()
        except OSError:
            return readings, unavailable
        for line in lines:
            try:
                item = json.loads(line)
                if "unavailable" in item:
                    unavailable[str(item["library"])] = str(item["unavailable"])
                    continue
                key = (str(item["file"]), str(item["library"]), str(item.get("entry") or ""))
                readings[key] = reading_from(item["reading"])
            except (ValueError, KeyError, TypeError):
                continue
        return readings, unavailable


def _environment() -> dict[str, str]:
    """This process's environment, with this package importable by a Python worker."""
    root = str(Path(__file__).resolve().parents[2])
    environment = dict(os.environ)
    paths = [root, *filter(None, environment.get("PYTHONPATH", "").split(os.pathsep))]
    environment["PYTHONPATH"] = os.pathsep.join(paths)
    return environment


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as file:
            file.seek(max(0, _size(path) - ERROR_TAIL))
            return file.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""
