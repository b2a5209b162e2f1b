"""Client replay (`--clients`): will real client libraries read this stream as it was sent?

Each judged stream's recorded response (status, headers, body bytes with their content
coding, split where they arrived) is fed, without a network, to each available client
library through its own streaming entry point: openai-python and httpx-sse in a Python
worker process, openai-node and the Vercel AI SDK in a node one, both started with the
session and reading each stream as it is judged (`Replayer`). Each library's reading is set
beside the checker's own reconstruction (`ClientReading`), judged by the `client.*` rules,
and summarised by `client_matrix`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conformance._replay._accumulate import Accumulator, sent_reading
    from conformance._replay._engine import Availability, Replayer, availability, replay
    from conformance._replay._libraries import LIBRARIES, Library
    from conformance._replay._matrix import client_matrix, render_matrix
    from conformance._replay._node import install, install_dir
    from conformance._replay._recorded import (
        RECORD_LIMIT,
        Recorded,
        Tap,
        constructs_of,
        recorded,
        replayable,
    )

_EXPORTS = {
    "Accumulator": "_accumulate",
    "sent_reading": "_accumulate",
    "Availability": "_engine",
    "Replayer": "_engine",
    "availability": "_engine",
    "replay": "_engine",
    "LIBRARIES": "_libraries",
    "Library": "_libraries",
    "client_matrix": "_matrix",
    "render_matrix": "_matrix",
    "install": "_node",
    "install_dir": "_node",
    "RECORD_LIMIT": "_recorded",
    "Recorded": "_recorded",
    "Tap": "_recorded",
    "constructs_of": "_recorded",
    "recorded": "_recorded",
    "replayable": "_recorded",
}
"""Names imported on first use, so that the Python replay worker, which imports only what
it reads with, starts quickly."""

__all__ = [
    "LIBRARIES",
    "RECORD_LIMIT",
    "Accumulator",
    "Availability",
    "Library",
    "Recorded",
    "Replayer",
    "Tap",
    "availability",
    "client_matrix",
    "constructs_of",
    "install",
    "install_dir",
    "recorded",
    "render_matrix",
    "replay",
    "replayable",
    "sent_reading",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'conformance._replay' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"conformance._replay.{module}"), name)
    globals()[name] = value
    return value
