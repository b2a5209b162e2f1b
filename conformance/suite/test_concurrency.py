"""Scale: `--concurrency` streams (default 8) opened at once are each conformant and carry
distinct ids. The throughput reached is recorded on the test for the reports."""

from __future__ import annotations

import contextlib
import ctypes
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from conformance._cases import judge_session
from conformance._client import Client, LiveResult, Target
from conformance._outcome import Outcome
from conformance._profiles import load_profile
from conformance.plugin import Settings, judge

START_TIMEOUT = 30.0
"""Seconds the streams wait for each other before starting anyway."""
M_ARENA_MAX = -8
"""glibc's `mallopt` parameter for the number of malloc arenas."""


def _one_heap() -> None:
    """Let the streams' threads share one C heap. glibc gives each new thread a malloc arena
    of its own, and each keeps what its stream once needed: with the streams checked in turn
    (see `conformance._client._CHECKING`), one arena holds what eight would. Elsewhere than
    glibc this does nothing."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, 1)


def _request(model: str, number: int, count: int) -> dict[str, Any]:
    text = f"Hello! This is stream {number + 1} of {count}."
    return {"model": model, "messages": [{"role": "user", "content": text}], "stream": True}


def _stream(target: Target, body: dict[str, Any], start: threading.Barrier) -> LiveResult:
    """One stream on its own client (own connection), started with the others."""
    with Client(target) as client:
        with contextlib.suppress(threading.BrokenBarrierError):  # start anyway
            start.wait(START_TIMEOUT)
        return client.stream(body)


def _run_all(target: Target, count: int) -> tuple[list[LiveResult], float]:
    _one_heap()
    start = threading.Barrier(count)
    bodies = [_request(target.model, number, count) for number in range(count)]
    begun = time.monotonic()
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="conformance-stream") as pool:
        futures = [pool.submit(_stream, target, body, start) for body in bodies]
        lives = [future.result() for future in futures]
    return lives, time.monotonic() - begun


def _throughput(lives: list[LiveResult], seconds: float) -> dict[str, Any]:
    """What the target sustained: streams, events and body bytes per second, all together."""
    results = [live.result for live in lives if live.result is not None]
    events = sum(result.events for result in results)
    size = sum(result.body_bytes for result in results)
    firsts = sorted(live.timing.first_byte for live in lives if live.timing.first_byte)
    return {
        "streams": len(lives),
        "seconds": round(seconds, 4),
        "streams_per_s": round(len(lives) / seconds, 2),
        "events_per_s": round(events / seconds, 1),
        "bytes_per_s": round(size / seconds),
        "first_byte_max_s": round(firsts[-1], 4) if firsts else None,
    }


@pytest.mark.conformance_requests(fixed=lambda settings, _: settings.concurrency, priority=2)
def test_concurrent_streams_are_conformant_with_distinct_ids(
    request: pytest.FixtureRequest, conformance_settings: Settings
) -> None:
    """`--concurrency` streams at once: every one conformant, no two sharing an id."""
    target = conformance_settings.target
    if target is None:
        pytest.skip("no conformance target: pass --target-url")
    lives, seconds = _run_all(target, conformance_settings.concurrency)
    request.node.user_properties.append(("throughput", _throughput(lives, seconds)))
    outcome = Outcome(lives)
    ids = [live.result.completion_id for live in lives if live.result]
    judge_session(outcome, [i for i in ids if i], load_profile(target.profile))
    judge(request.node, outcome)
