"""Client replay in a live session: the replay workers started with the session, the
spooled streams' readings collected at its end and judged by the `client.*` rules, and the
certificate's `clients` member."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from conformance._dispatch import Context, Dispatcher
from conformance._model import ClientReading
from conformance._profiles import load_profile
from conformance._report._redact import Redactor

if TYPE_CHECKING:
    from conformance._replay import Replayer

NAME = "client replay"
"""The name the replay's evidence goes by among the session's records."""
REPLAYER = pytest.StashKey["Replayer"]()


@dataclass(slots=True)
class ClientReplay:
    """What replaying a session's streams showed: the readings, the client rules' findings
    and counts (as evidence data), and why a rule judged nothing."""

    streams: int = 0
    not_replayed: int = 0
    readings: list[ClientReading] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)

    def member(self, redactor: Redactor) -> dict[str, Any]:
        """The certificate's `clients` member."""
        from conformance._replay import client_matrix

        rows = client_matrix(self.readings)
        for row in rows:
            for mismatch in row["mismatches"]:
                mismatch["stream"] = redactor.text(mismatch["stream"])
                mismatch["differences"] = [redactor.text(d) for d in mismatch["differences"]]
        return {"streams": self.streams, "not_replayed": self.not_replayed, "matrix": rows}


def start_replay(config: pytest.Config, folder: str) -> None:
    """On the controller of a session with `--clients`, before the first test: the replay
    workers, reading each stream spooled in `folder` as it lands, so that their start-up
    and their work overlap the tests; stopped when the session ends, whatever happened."""
    from conformance._replay import Replayer

    replayer = Replayer(folder).start()
    config.stash[REPLAYER] = replayer
    config.add_cleanup(replayer.close)


def replay_spool(folder: str, profile: str, replayer: Replayer | None = None) -> ClientReplay:
    """The readings of every stream spooled in `folder` (by the workers of `replayer`, else
    by workers started now), judged under `profile`."""
    from conformance._replay import Replayer

    if replayer is None:
        replayer = Replayer(folder).start()
    try:
        readings = replayer.finish()
    finally:
        replayer.close()
    skipped = len(list(Path(folder).glob("*.skip")))
    dispatch = Dispatcher(load_profile(profile), Context(live=True, replay=True))
    for reading in readings:
        dispatch.client(reading)
    evidence = {
        "findings": [f.as_dict() for f in dispatch.findings],
        "judged": dict(dispatch.judged),
        "unjudged": dispatch.unjudged(),
    }
    return ClientReplay(replayer.streams, skipped, readings, evidence)


def summary_lines(member: dict[str, Any] | None) -> list[str]:
    """The client matrix (the certificate's `clients` member) in a few lines for the
    terminal: a line per library (name, version, runtime; how many streams it read exactly,
    per entry point when they differ; its mis-readings counted by what caused them)."""
    if member is None:
        return []
    head = f"client replay: {member['streams']} stream(s) replayed"
    if member["not_replayed"]:
        head += f", {member['not_replayed']} judged stream(s) not replayable"
    lines = [head]
    libraries: dict[str, list[dict[str, Any]]] = {}
    for row in member["matrix"]:
        libraries.setdefault(row["library"], []).append(row)
    for rows in libraries.values():
        first = rows[0]
        name = f"{first['library']} {first['version'] or ''}".strip()
        head = f"  {name} ({first['runtime']}): "
        if not first["available"]:
            lines.append(head + str(first["unavailable"]))
            continue
        lines.append(head + _exact(rows) + _misreads(rows))
    return lines


def _exact(rows: list[dict[str, Any]]) -> str:
    counts = {(row["exact"], row["streams"]) for row in rows}
    if len(counts) == 1:
        exact, streams = counts.pop()
        return f"{exact} of {streams} read exactly"
    return ", ".join(f"{r['exact']} of {r['streams']} read exactly by {r['entry']}" for r in rows)


def _misreads(rows: list[dict[str, Any]]) -> str:
    """The mis-read streams by what caused them (as diagnosed, else the constructs the
    stream has), counted per entry point and the most of any entry point shown."""
    causes: dict[str, int] = {}
    for row in rows:
        counts: dict[str, int] = {}
        for mismatch in row["mismatches"]:
            constructs = ", ".join(mismatch["constructs"]) or "no known construct"
            cause = mismatch.get("cause")
            key = cause.partition(" (")[0] if cause else f"not diagnosed (with {constructs})"
            counts[key] = counts.get(key, 0) + 1
        for key, count in counts.items():
            causes[key] = max(causes.get(key, 0), count)
    if not causes:
        return ""
    return "; mis-read: " + ", ".join(f"{count} {cause}" for cause, count in causes.items())
