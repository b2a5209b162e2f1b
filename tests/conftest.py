"""Shared fixtures: the reference server on a real loopback socket, and pytester."""

from __future__ import annotations

from collections.abc import Iterator

import httpcore  # noqa: F401  (see below)
import pytest

from conformance.server import ServerThread

# pytester's in-process runs unload every module first imported during the run, while httpx
# keeps the map of the httpcore exceptions it met first: were httpcore first imported inside
# a run, a later run's httpcore.ReadTimeout would escape unmapped. Importing it here keeps
# one httpcore for the whole session.

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def reference_server() -> Iterator[ServerThread]:
    """One reference server for the session; faults and variations are chosen per URL."""
    with ServerThread() as server:
        yield server
