"""Replay: a batch of recorded responses through every available client library, each
library's reading set beside the checker's. Python libraries run in this process, the
JavaScript ones in one node process for the whole batch."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from conformance._model import ClientReading, Reading
from conformance._replay import _node
from conformance._replay._libraries import BY_NAME, LIBRARIES, NODE, Library, python_runtime
from conformance._replay._libraries import python_version as _python_version
from conformance._replay._python import READERS, describe
from conformance._replay._recorded import Recorded


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


def replay(recordings: list[Recorded], names: Iterable[str] | None = None) -> list[ClientReading]:
    """Every recording read by every library (all, or those named): one ClientReading per
    recording and entry point of an available library, and one reading without `got` for a
    library that is not available (saying why)."""
    readings: list[ClientReading] = []
    nodes = []
    for status in availability(names):
        if not status.available:
            readings.append(_unavailable(status, status.missing))
        elif status.library.runtime == NODE:
            nodes.append(status)
        else:
            readings += _python(status, recordings)
    if nodes:
        readings += _javascript(nodes, recordings)
    return readings


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


def _python(status: Availability, recordings: list[Recorded]) -> list[ClientReading]:
    try:
        readers = READERS[status.library.name]()
    except Exception as exc:
        return [_unavailable(status, f"not available: it cannot be imported: {describe(exc)}")]
    return [
        _reading(status, entry, recording, read(recording))
        for recording in recordings
        if _reads(status.library, recording)
        for entry, read in readers.items()
    ]


def _javascript(statuses: list[Availability], recordings: list[Recorded]) -> list[ClientReading]:
    if not recordings:
        return []
    names = [s.library.name for s in statuses]
    try:
        batch = _node.replay_node(recordings, names)
    except _node.NodeError as exc:
        return [_unavailable(s, f"not available: {exc}") for s in statuses]
    return [
        _reading(status, status.library.entries[0], recording, got[status.library.name])
        for recording, got in zip(recordings, batch.readings, strict=True)
        for status in statuses
        if _reads(status.library, recording)
    ]


def _reads(library: Library, recording: Recorded) -> bool:
    """Whether `library` is handed `recording`: a library that reads one choice by design
    cannot have asked for several, so it is not judged on a stream of several."""
    return not library.first_choice_only or len(recording.sent.choices) <= 1
