"""Many recordings at once, for `conformance check`: the command line's folders and globs
expanded to files (the files are judged in worker processes by `_workers`)."""

from __future__ import annotations

import contextlib
import glob
import os
from collections.abc import Sequence
from pathlib import Path

from conformance._offline import RecordingResult

SUFFIXES = (".sse", ".har", ".txt", ".http", ".curl", ".log")
"""The files of a folder that are checked: the usual names of a raw SSE body, a HAR file and
a `curl -i` capture (a folder also holds manifests, notes and the like)."""

GLOB = frozenset("*?[")

Item = Path | RecordingResult
"""A file to judge, or the outcome of a command-line argument that names none."""


def default_jobs() -> int:
    """The number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


def expand(arguments: Sequence[str], profile: str) -> list[Item]:
    """The files the arguments name, in their order: a file as given; a folder's recordings
    (`SUFFIXES`, in its subfolders too, sorted by path); a glob's matches (sorted, `**` for
    any depth). An argument that names no recording is an `unreadable` outcome of its own."""
    items: list[Item] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            found = _folder(path)
            why = f"the folder holds no recording (no {', '.join(SUFFIXES)} file)"
        elif not path.exists() and GLOB & set(argument):
            found = _glob(argument)
            why = "no file matches this pattern"
        else:
            items.append(path)
            continue
        items += found or [RecordingResult(argument, "sse", profile, None, unreadable=why)]
    return items


def _folder(path: Path) -> list[Path]:
    """The recordings in a folder and its subfolders (not those a link points to), sorted by
    path; a folder that cannot be read adds none."""
    found: list[Path] = []
    with contextlib.suppress(OSError), os.scandir(path) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.is_dir(follow_symlinks=False):
                found += _folder(Path(entry.path))
            elif os.path.splitext(entry.name)[1].lower() in SUFFIXES and entry.is_file():
                found.append(Path(entry.path))
    return found


def _glob(pattern: str) -> list[Path]:
    found: list[Path] = []
    for match in sorted(glob.glob(pattern, recursive=True)):
        path = Path(match)
        found += _folder(path) if path.is_dir() else [path]
    return found


CRASHED = "the worker process judging it stopped (it crashed or was killed)"


def errored(label: str, profile: str) -> RecordingResult:
    """The outcome of a file whose check raised (a bug in the suite): the traceback is saved
    to a file of its own, never printed."""
    from conformance.cli import saved_traceback

    why = f"the check stopped on a bug in the suite ({saved_traceback()}); please report it"
    return RecordingResult(label, "sse", profile, None, error=why)
