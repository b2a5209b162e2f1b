"""Shared fixtures: the reference server on a real loopback socket, and pytester."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.server import ServerThread

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def reference_server() -> Iterator[ServerThread]:
    """One reference server for the session; faults and variations are chosen per URL."""
    with ServerThread() as server:
        yield server
