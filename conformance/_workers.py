"""Worker processes for `conformance check` on many recordings: a module-level function run
on batches of paths, its results handed back in input order whatever order the workers finish
in. Loaded only when several files are checked with `-j` above 1.

A worker that dies (a crash, a kill, memory exhausted) takes no other file with it: the batch
it was judging is judged again one file at a time in a worker of its own, and the file that
kills that worker too is the caller's named outcome for it. The workers ignore Ctrl-C; the
generator's end (an interrupt, or its caller stopping) kills them, so none outlives the call.

Each worker is a process with two pipes: the indexes of its batches in, their results out,
one length-prefixed pickle each. It holds at most two batches, and an index is a few bytes, so
handing one over never waits on a worker busy handing results back. (A `ProcessPoolExecutor`
did this before; its imports alone, `multiprocessing` and `concurrent.futures`, took 13 to 33
ms before the first worker started, on one core whatever `-j` is.)"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import selectors
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, TypeVar

if TYPE_CHECKING:  # imported only to start a worker in a process that runs threads
    import subprocess

BATCH_FILES = 32
BATCH_BYTES = 1 << 20
"""A worker is handed consecutive files up to this many, or this many bytes: small files
share the cost of a hand-over, large ones spread over the workers."""

A = TypeVar("A")
T = TypeVar("T")

Job = tuple[Callable[[list[str], A], list[T]], A]
"""What a worker runs on each batch of paths: a module-level function, and its argument."""


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
    groups = [_names(group) for group in batches(paths)]
    done: dict[int, list[T]] = {}
    with contextlib.closing(_judged(groups, jobs, (work, argument), crashed)) as judged:
        for index in range(len(groups)):
            while index not in done:
                group, results = next(judged)
                done[group] = results
            yield from done.pop(index)


def _judged(
    groups: list[list[str]], jobs: int, job: Job[A, T], crashed: Callable[[str], T]
) -> Generator[tuple[int, list[T]], None, None]:
    """(index, results) of each of `groups` as workers hand them back. A worker holds the
    batch it judges and, while there are enough for every worker, the next: it starts that
    one as it hands the other back, with no round trip through this process between them. A
    batch whose worker dies is judged again file by file, each in a worker of its own; the
    batch it held but had not started goes back to the others."""
    waiting = deque(range(len(groups)))
    live: set[_Worker] = set()
    with selectors.DefaultSelector() as selector:

        def hand(worker: _Worker) -> None:
            if waiting and not worker.given:
                worker.give(waiting.popleft())
            if len(waiting) >= len(live) and len(worker.given) == 1:  # none will go short
                worker.give(waiting.popleft())
            if not worker.given:  # nothing left to judge
                stop(worker)

        def start() -> None:
            with _interrupts_held():
                worker = _Worker(job, groups)
                live.add(worker)
            selector.register(worker.results, selectors.EVENT_READ, worker)
            hand(worker)

        def stop(worker: _Worker) -> None:
            with _interrupts_held():
                live.remove(worker)
                selector.unregister(worker.results)
                worker.stop()

        try:
            for _ in range(min(jobs, len(groups))):
                start()
            while live:
                for key, _ in selector.select():
                    worker = key.data
                    results = worker.receive()
                    group = worker.given.popleft()
                    if results is None:  # it died (a crash, a kill, memory exhausted)
                        waiting.extendleft(reversed(worker.given))
                        stop(worker)
                        results = list(_one_by_one(groups[group], job, crashed))
                        if waiting:
                            start()
                    else:
                        hand(worker)
                    yield group, results
        finally:  # an interrupt, or the caller stopped reading: no worker outlives the call
            with _interrupts_held():
                for worker in live:
                    worker.stop(kill=True)


def _one_by_one(paths: list[str], job: Job[A, T], crashed: Callable[[str], T]) -> Iterator[T]:
    alone = [[path] for path in paths]
    worker: _Worker | None = None
    try:
        for index, path in enumerate(paths):
            with _interrupts_held():
                worker = worker or _Worker(job, alone)
            worker.give(index)
            results = worker.receive()
            if results is None:
                with _interrupts_held():
                    worker.stop()
                    worker = None
                yield crashed(path)
            else:
                yield results[0]
    finally:
        with _interrupts_held():
            if worker is not None:
                worker.stop(kill=True)


def _names(group: Sequence[Path]) -> list[str]:
    return [str(path) for path in group]


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """Ctrl-C held back while a worker starts and is recorded, or is stopped, so that every
    worker started is one this process stops; the interrupt arrives as the block ends."""
    if threading.current_thread() is not threading.main_thread():  # Ctrl-C never comes here
        yield
        return
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


class _Worker:
    """A worker process, and the two pipes to it: the indexes of the batches to judge in, their
    results out, one length-prefixed pickle each (an index is a few bytes: this process never
    waits to hand one over, whatever the worker is doing).

    The worker is forked from this process, which has the checker loaded and the batches in
    memory, when it runs no other thread (a fork copies other threads' locks, not the threads);
    else it is a fresh interpreter, handed `sys.path`, the job and the batches first."""

    LIVE: ClassVar[set[int]] = set()
    """This process's ends of every live worker's pipes, which a forked worker closes (a
    worker holding another's pipe open would keep that one from seeing its end)."""

    def __init__(self, job: Job[A, T], groups: list[list[str]]) -> None:
        tasks, self._tasks = os.pipe()
        self.results, results = os.pipe()  # readable when it hands results back, or dies
        self.LIVE.update((self._tasks, self.results))
        self.given: deque[int] = deque()
        """The batches it holds, in the order it judges them."""
        self.process: int | subprocess.Popen[bytes]
        if threading.active_count() == 1:
            self.process = _fork((job, groups), tasks, results)
        else:
            self.process = _spawn((job, groups), tasks, results, self._tasks)
        os.close(tasks)
        os.close(results)

    def give(self, index: int) -> None:
        self.given.append(index)
        with contextlib.suppress(BrokenPipeError):  # it died: `receive` says so
            _write(self._tasks, index)

    def receive(self) -> Any | None:
        """The results of its first batch; None if it died before handing them back."""
        return _read(self.results)

    def stop(self, kill: bool = False) -> None:
        """Let it end (no more batches) and wait for it; `kill`: end it now."""
        self.LIVE.difference_update((self._tasks, self.results))
        os.close(self._tasks)
        os.close(self.results)
        if isinstance(self.process, int):
            if kill:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.process, signal.SIGKILL)
            os.waitpid(self.process, 0)
        else:
            if kill:
                self.process.kill()
            self.process.wait()


Assigned = tuple[Job[A, T], list[list[str]]]
"""A worker's job and the batches of paths it is handed the indexes of."""


def _fork(assigned: Assigned[A, T], tasks: int, results: int) -> int:
    gc.freeze()  # what is loaded stays out of the worker's collections (and unwritten)
    pid = os.fork()
    if pid == 0:  # the worker: whatever happens, it never returns into its parent's code
        try:
            for fd in _Worker.LIVE:
                os.close(fd)
            serve(tasks, results, assigned)
        finally:
            os._exit(70)
    return pid


def _spawn(
    assigned: Assigned[A, T], tasks: int, results: int, to_worker: int
) -> subprocess.Popen[bytes]:
    import subprocess

    process = subprocess.Popen(
        [sys.executable, "-c", f"from {__name__} import serve; serve({tasks}, {results})"],
        pass_fds=(tasks, results),
        stdin=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # as a forked worker: a worker that fails is a dead one
    )
    with contextlib.suppress(BrokenPipeError):  # it died: its first `receive` says so
        _write(to_worker, sys.path)  # first, for the job's function to be found by its module
        _write(to_worker, assigned)
    return process


def serve(tasks: int, results: int, assigned: Assigned[A, T] | None = None) -> NoReturn:
    """A worker: judge each batch whose index is read from `tasks` and write its results to
    `results`, until `tasks` ends; then end this process, its parent's buffers unflushed and
    nothing printed (a worker that fails is a dead worker to its parent). Ctrl-C is left to
    the parent, which stops its workers."""
    status = 70
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if assigned is None:
            sys.path[:] = _read(tasks)
            assigned = _read(tasks)
        (work, argument), groups = assigned
        while (index := _read(tasks)) is not None:
            _write(results, work(groups[index], argument))
        status = 0
    finally:
        os._exit(status)


def _write(fd: int, value: object) -> None:
    data = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    view = memoryview(len(data).to_bytes(8, "big") + data)
    while view:
        view = view[os.write(fd, view) :]


def _read(fd: int) -> Any:
    """The next value written by `_write`; None at the end of the pipe (a whole value only).
    Read unbuffered: a value read ahead into a buffer would be unseen by `select`."""
    head = _exactly(fd, 8)
    if len(head) < 8:
        return None
    size = int.from_bytes(head, "big")
    data = _exactly(fd, size)
    return pickle.loads(data) if len(data) == size else None


def _exactly(fd: int, size: int) -> bytes:
    """`size` bytes from `fd`, or fewer at its end."""
    parts = []
    while size > 0 and (part := os.read(fd, min(size, 1 << 20))):
        parts.append(part)
        size -= len(part)
    return b"".join(parts)
