"""Replay: recorded responses through every available client library, each library's
reading set beside the checker's. The Python libraries run in one worker process, the
JavaScript ones in one node process; both start with the session and read each stream as
it is judged (`Replayer`), or read a whole batch (`replay`)."""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from conformance._model import ClientReading, Reading
from conformance._replay import _node, _workers
from conformance._replay._libraries import (
    BY_NAME,
    LIBRARIES,
    NODE,
    PYTHON,
    Library,
    python_runtime,
)
from conformance._replay._libraries import python_version as _python_version
from conformance._replay._recorded import Recorded
from conformance._replay._spool import spooled_files, write
from conformance._replay._workers import Worker


@dataclass(frozen=True, slots=True)
class Availability:
    """Whether a library can replay here: its version and runtime, or why not."""

    library: Library
    version: str | None
    runtime: str
    missing: str = ""

    @property
    def available(self) -> bool:
        return not self.missing


def availability(names: Iterable[str] | None = None) -> list[Availability]:
    """Which libraries (all, or those named) are installed here, with versions."""
    chosen = [BY_NAME[n] for n in names] if names is not None else list(LIBRARIES)
    return [_available(library) for library in chosen]


def _available(library: Library) -> Availability:
    if library.runtime == NODE:
        node = _node.node_version()
        if node is None:
            return Availability(
                library, None, "Node.js", f"not available: no node here; {library.hint}"
            )
        version = _node.installed_versions().get(library.name)
        missing = "" if version else f"not available: not installed; run {library.hint}"
        return Availability(library, version, f"Node.js {node}", missing)
    version = _python_version(library.package)
    missing = "" if version else f"not available: not installed; {library.hint}"
    return Availability(library, version, python_runtime(), missing)


class Replayer:
    """The replay of one folder of recordings (a session's spool): a worker process per
    runtime, started before the first recording lands so that its start-up and imports
    overlap the tests, each reading every recording as it lands. `finish` collects the
    readings (within a deadline), `close` stops whatever still runs."""

    def __init__(
        self,
        folder: str | Path,
        names: Iterable[str] | None = None,
        *,
        diagnose: bool = True,
        budget: float | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.statuses = availability(names)
        self.diagnose = diagnose
        self.budget = budget  # seconds `finish` may wait (else by the number of recordings)
        self.workers: dict[str, Worker] = {}
        self.streams = 0  # how many recordings `finish` found

    def start(self) -> Replayer:
        """Start a worker for each runtime that has an available library."""
        for runtime in (PYTHON, NODE):
            names = [s.library.name for s in self.statuses if _runs(s, runtime)]
            if not names:
                continue
            worker = self.workers[runtime] = Worker(runtime, self.folder)
            try:
                worker.start(_command(runtime, self.folder, names))
            except _node.NodeError as exc:
                worker.failure = str(exc)
        return self

    def finish(self) -> list[ClientReading]:
        """Every recording in the folder read by every library: one ClientReading per
        recording and entry point of an available library, and one without `got` for a
        library that is not available or whose worker failed (saying why). Each mis-reading
        has its cause, when `diagnose` and it could be diagnosed (`_diagnose`)."""
        files = spooled_files(self.folder)
        self.streams = len(files)
        budget = self.budget
        if budget is None:
            budget = _workers.FINISH_TIMEOUT + _workers.PER_RECORDING * len(files)
        deadline = time.monotonic() + budget
        for worker in self.workers.values():
            worker.end()
        for worker in self.workers.values():
            worker.wait(deadline, budget)
        pairs: list[tuple[ClientReading, Recorded | None]] = []
        for status in self.statuses:
            pairs += self._library(status, files)
        readings = [reading for reading, _ in pairs]
        if not self.diagnose:
            return readings
        from conformance._replay._diagnose import with_causes

        return with_causes(readings, [recording for _, recording in pairs])

    def _library(
        self, status: Availability, files: list[tuple[str, Recorded]]
    ) -> list[tuple[ClientReading, Recorded | None]]:
        """The library's readings, each beside the recording it read."""
        if not status.available:
            return [(_unavailable(status, status.missing), None)]
        library = status.library
        worker = self.workers[library.runtime]
        if worker.failure is not None:
            return [(_unavailable(status, f"not available: {worker.failure}"), None)]
        readings, unavailable = worker.readings()
        if library.name in unavailable:
            return [(_unavailable(status, f"not available: {unavailable[library.name]}"), None)]
        out: list[tuple[ClientReading, Recorded | None]] = []
        missing = 0
        for name, recording in files:
            if not _reads(library, recording):
                continue
            for entry in library.entries:
                got = readings.get((name, library.name, entry)) or readings.get(
                    (name, library.name, "")
                )
                if got is None:
                    missing += 1
                else:
                    out.append((_reading(status, entry, recording, got), recording))
        if missing:
            why = f"the {library.runtime} replay wrote no reading of {missing} stream(s)"
            return [(_unavailable(status, f"not available: {why}"), None)]
        return out

    def close(self) -> None:
        """Stop every worker that still runs (the end of a session, whatever happened)."""
        for worker in self.workers.values():
            worker.kill()


def replay(
    recordings: list[Recorded],
    names: Iterable[str] | None = None,
    *,
    diagnose: bool = True,
    budget: float | None = None,
) -> list[ClientReading]:
    """Every recording read by every library (all, or those named), in one batch: see
    `Replayer.finish` (and `_diagnose`: each mis-reading with its cause)."""
    with tempfile.TemporaryDirectory(prefix="conformance-replay-") as folder:
        for number, recording in enumerate(recordings):
            write(Path(folder) / f"{number:06d}", recording)
        replayer = Replayer(folder, names, diagnose=diagnose, budget=budget).start()
        try:
            return replayer.finish()
        finally:
            replayer.close()


def _runs(status: Availability, runtime: str) -> bool:
    return status.available and status.library.runtime == runtime


def _command(runtime: str, folder: Path, names: list[str]) -> list[str]:
    if runtime == NODE:
        return _node.command(folder, names)
    return [sys.executable, "-m", "conformance._replay._worker", str(folder), *names]


def _unavailable(status: Availability, why: str) -> ClientReading:
    library = status.library
    return ClientReading(
        library.name,
        ", ".join(library.entries),
        status.version or "",
        status.runtime,
        "",
        Reading(),
        None,
        unavailable=why,
        first_choice_only=library.first_choice_only,
    )


def _reading(status: Availability, entry: str, recording: Recorded, got: Reading) -> ClientReading:
    return ClientReading(
        status.library.name,
        entry,
        status.version or "",
        status.runtime,
        recording.label,
        recording.sent,
        got,
        recording.constructs,
        first_choice_only=status.library.first_choice_only,
    )


def _reads(library: Library, recording: Recorded) -> bool:
    """Whether `library` is handed `recording`: not when the recording is for other
    libraries only; and a library that reads one choice by design cannot have asked for
    several, so it is not judged on a stream of several."""
    if recording.only and library.name not in recording.only:
        return False
    return not library.first_choice_only or len(recording.sent.choices) <= 1
