"""Many recordings at once, for `conformance check`: the command line's folders and globs
expanded to files, and the files judged in worker processes, their results handed back in
input order whatever order the workers finish in.

A worker that dies (a crash, a kill, memory exhausted) takes no other file with it: the batch
it was judging is judged again one file at a time in a worker of its own, and the file that
kills that worker too is the named outcome `error`. A bug raising in a worker is the same
outcome for that file. The workers ignore Ctrl-C; the parent stops them."""

from __future__ import annotations

import contextlib
import gc
import glob
import os
import signal
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from conformance._offline import RecordingResult

if TYPE_CHECKING:  # imported when worker processes start (a one-file check never needs them)
    from concurrent.futures import ProcessPoolExecutor

SUFFIXES = (".sse", ".har", ".txt", ".http", ".curl", ".log")
"""The files of a folder that are checked: the usual names of a raw SSE body, a HAR file and
a `curl -i` capture (a folder also holds manifests, notes and the like)."""

BATCH_FILES = 32
BATCH_BYTES = 1 << 20
"""A worker is handed consecutive files up to this many, or this many bytes: small files
share the cost of a hand-over, large ones spread over the workers."""

GLOB = frozenset("*?[")

Item = Path | RecordingResult
"""A file to judge, or the outcome of a command-line argument that names none."""

A = TypeVar("A")
T = TypeVar("T")


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


def batches(paths: Sequence[Path]) -> list[list[Path]]:
    """Consecutive runs of `paths` of at most `BATCH_FILES` files or `BATCH_BYTES` bytes."""
    out: list[list[Path]] = []
    size = BATCH_BYTES
    for path in paths:
        if len(out) == 0 or len(out[-1]) >= BATCH_FILES or size >= BATCH_BYTES:
            out.append([])
            size = 0
        out[-1].append(path)
        with contextlib.suppress(OSError):  # unreadable: the worker says why
            size += path.stat().st_size
    return out


CRASHED = "the worker process judging it stopped (it crashed or was killed)"


def in_workers(
    paths: Sequence[Path],
    jobs: int,
    work: Callable[[list[str], A], list[T]],
    argument: A,
    crashed: Callable[[str], T],
) -> Generator[T, None, None]:
    """Per path, in order, what `work(paths, argument)` (a module-level function, run in
    `jobs` worker processes on batches of paths) returned for it; `crashed(path)` for a path
    that kills its worker even when it is alone in it."""
    from concurrent.futures.process import BrokenProcessPool

    groups = batches(paths)
    start = 0
    while start < len(groups):
        pool = _pool(jobs)
        try:
            futures = [pool.submit(work, _names(g), argument) for g in groups[start:]]
            for future in futures:
                try:
                    results = future.result()
                except BrokenProcessPool:  # one of the batches in flight killed its worker
                    break
                start += 1
                yield from results
            else:
                return
        finally:
            _stop(pool)
        # The batch being waited for is judged file by file, each in a worker of its own;
        # the rest go back to a new pool (a batch that kills a worker again comes here next).
        yield from _one_by_one(groups[start], work, argument, crashed)
        start += 1


def _one_by_one(
    group: Sequence[Path],
    work: Callable[[list[str], A], list[T]],
    argument: A,
    crashed: Callable[[str], T],
) -> Iterator[T]:
    from concurrent.futures.process import BrokenProcessPool

    pool = _pool(1)
    try:
        for path in group:
            try:
                yield pool.submit(work, [str(path)], argument).result()[0]
            except BrokenProcessPool:
                _stop(pool)
                pool = _pool(1)
                yield crashed(str(path))
    finally:
        _stop(pool)


def _names(group: Sequence[Path]) -> list[str]:
    return [str(path) for path in group]


def _pool(jobs: int) -> ProcessPoolExecutor:
    """Workers forked from this process, which has the checker loaded, when it runs no other
    thread; else (a fork copies other threads' locks, not the threads) forked from a clean
    server process that loads the checker first."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    if threading.active_count() == 1:
        gc.freeze()  # what is loaded stays out of the workers' collections (and unwritten)
        return ProcessPoolExecutor(
            jobs, mp_context=get_context("fork"), initializer=_ignore_interrupts
        )
    server = get_context("forkserver")
    server.set_forkserver_preload(["conformance._cli_check"])
    return ProcessPoolExecutor(jobs, mp_context=server, initializer=_ignore_interrupts)


def _ignore_interrupts() -> None:
    """A worker leaves Ctrl-C to its parent, which stops it (no traceback per worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop the pool now: queued batches cancelled, running workers terminated (an
    interrupted run, or a broken pool) rather than waited for."""
    workers = list((pool._processes or {}).values())  # the executor has no public handle
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    for worker in workers:
        worker.join(5)


def errored(label: str, profile: str) -> RecordingResult:
    """The outcome of a file whose check raised (a bug in the suite): the traceback is saved
    to a file of its own, never printed."""
    from conformance.cli import saved_traceback

    why = f"the check stopped on a bug in the suite ({saved_traceback()}); please report it"
    return RecordingResult(label, "sse", profile, None, error=why)
