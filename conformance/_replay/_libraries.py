"""The client libraries a stream is replayed through: what they are, how to install them,
and which are available here (with their versions)."""

from __future__ import annotations

import functools
import importlib.metadata
import platform
from dataclasses import dataclass

PYTHON, NODE = "python", "node"
PIP_HINT = "pip install 'streaming-conformance[clients]'"
NPM_HINT = "conformance clients install (needs Node.js and npm)"


@dataclass(frozen=True, slots=True)
class Library:
    """One client library: its name (as rules and readings name it), runtime, the package
    that provides it, the version pinned and tested, its streaming entry points, and how to
    install it."""

    name: str
    runtime: str
    package: str
    pinned: str
    entries: tuple[str, ...]
    hint: str
    first_choice_only: bool = False


LIBRARIES = (
    Library(
        "openai-python",
        PYTHON,
        "openai",
        "3.57.0",
        ("chat.completions.create(stream=True)", "chat.completions.stream()"),
        PIP_HINT,
    ),
    Library("httpx-sse", PYTHON, "httpx-sse", "0.4.3", ("connect_sse().iter_sse()",), PIP_HINT),
    Library(
        "openai-node",
        NODE,
        "openai",
        "6.30.1",
        ("chat.completions.create({stream: true})",),
        NPM_HINT,
    ),
    Library(
        "vercel-ai",
        NODE,
        "ai",
        "6.0.325",
        ("streamText() with @ai-sdk/openai-compatible 2.0.92",),
        NPM_HINT,
        first_choice_only=True,
    ),
)
"""Every library replay knows, Python first."""

BY_NAME = {library.name: library for library in LIBRARIES}


@functools.cache
def python_version(package: str) -> str | None:
    """The installed version of a Python distribution, or None when it is not installed."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def python_runtime() -> str:
    """`Python 3.11.7`."""
    return f"Python {platform.python_version()}"
