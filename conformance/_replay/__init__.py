"""Client replay (`--clients`): will real client libraries read this stream as it was sent?

Each judged stream's recorded response (status, headers, body bytes with their content
coding, split where they arrived) is fed, without a network, to each available client
library through its own streaming entry point: openai-python and httpx-sse in this process,
openai-node and the Vercel AI SDK in one node process per batch. Each library's reading is
set beside the checker's own reconstruction (`ClientReading`), judged by the `client.*`
rules, and summarised by `client_matrix`.
"""

from conformance._replay._accumulate import Accumulator, sent_reading
from conformance._replay._engine import Availability, availability, replay
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

__all__ = [
    "LIBRARIES",
    "RECORD_LIMIT",
    "Accumulator",
    "Availability",
    "Library",
    "Recorded",
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
