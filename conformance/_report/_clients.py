"""Client replay at the end of a live session: the spooled streams replayed in one batch,
judged by the `client.*` rules, and the certificate's `clients` member."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance._dispatch import Context, Dispatcher
from conformance._model import ClientReading
from conformance._profiles import load_profile
from conformance._report._redact import Redactor

NAME = "client replay"
"""The name the replay's evidence goes by among the session's records."""


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


def replay_spool(folder: str, profile: str) -> ClientReplay:
    """Replay every stream spooled in `folder` and judge the readings under `profile`."""
    from conformance._replay import replay
    from conformance._replay._spool import spooled

    recordings, skipped = spooled(Path(folder))
    readings = replay(recordings)
    dispatch = Dispatcher(load_profile(profile), Context(live=True, replay=True))
    for reading in readings:
        dispatch.client(reading)
    evidence = {
        "findings": [f.as_dict() for f in dispatch.findings],
        "judged": dict(dispatch.judged),
        "unjudged": dispatch.unjudged(),
    }
    return ClientReplay(len(recordings), skipped, readings, evidence)
