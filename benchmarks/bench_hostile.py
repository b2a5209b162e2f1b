"""Linear time on hostile input: double the input, and the work roughly doubles.

    .venv/bin/python benchmarks/bench_hostile.py            # full sizes
    .venv/bin/python benchmarks/bench_hostile.py --small    # CI: small sizes, same ratios
    .venv/bin/python benchmarks/bench_hostile.py --check    # exit 1 when a ratio is > 3x

Each line times one kind of hostile input at a size and at twice that size, in one run, and
prints the ratio: about 2x is linear, about 4x would be quadratic (the bugs these cases once
showed), about 1x is work that does not grow with the input at all. The blank-line floods
also print their speed against ordinary events (the amplification a target can get).

- tool calls in one chunk, without `index` (the state once rescanned every call per call);
- deltas to many tool calls, chunk after chunk (the openai rule once copied every call);
- a choice index (and `n`) as large as the input wants (once `range(index)`);
- blank lines, plain and of mixed endings (once ~1 MB/s, line by line);
- interim `1xx` heads in a curl capture (once a copy of the rest per head);
- a HAR file, in entries and in nesting (once a path string per level);
- chunked framing of one-byte chunks in a curl capture;
- measuring JSON nesting and size before decoding.

Each figure is the best of several repetitions.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from conformance._check import StreamChecker
from conformance._json import excess
from conformance._model import Event
from conformance._offline import UnreadableError, judge, offline_limits, recordings
from conformance._profiles import load_profile
from conformance._state import StreamState
from conformance.rules.openai import tool_call_deltas

UNLIMITED = offline_limits()
CHUNK = {"id": "c", "object": "chat.completion.chunk", "created": 1_764_086_400, "model": "m"}
LINEAR_AT_MOST = 3.0
"""A doubling ratio above this is not linear (quadratic work gives about 4)."""


def best(run: Callable[[], object], rounds: int) -> float:
    """The best time of `rounds` runs of `run`."""
    times = []
    for _ in range(rounds):
        gc.collect()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def event(payload: object) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def choice(delta: dict[str, object], index: int = 0) -> dict[str, object]:
    return {**CHUNK, "choices": [{"index": index, "delta": delta, "finish_reason": None}]}


def checked(body: bytes, profile: str = "alphaedge", **kw: object) -> None:
    checker = StreamChecker(profile=profile, limits=UNLIMITED, **kw)  # type: ignore[arg-type]
    for pos in range(0, len(body), 65536):
        checker.feed(body[pos : pos + 65536])
    checker.finish()


def judged_file(data: bytes, suffix: str) -> Callable[[], None]:
    """A run that judges `data` as a recording file (written once, read at each run)."""
    folder = tempfile.mkdtemp()
    path = Path(folder) / f"recording{suffix}"
    path.write_bytes(data)
    profile = load_profile("alphaedge")

    def run() -> None:
        with contextlib.suppress(UnreadableError):  # a HAR with no stream in it is read all
            for recording in recordings(path):
                judge(recording, profile)

    return run


# -- the cases: each a function of a size, returning a run ----------------------------------


def tool_calls_in_one_chunk(n: int) -> Callable[[], None]:
    """What one chunk of `n` calls without `index` costs the stream state and the openai
    rule (a stream may start 1,024 calls: a chunk of them is judged 50 times over)."""
    chunk = choice({"tool_calls": [{"id": str(i)} for i in range(n)]})
    event = Event(0, "", 0, 0)

    def run() -> None:
        for _ in range(50):
            state = StreamState()
            tool_call_deltas(state, event, chunk)
            state.update(0, chunk)

    return run


def deltas_to_many_calls(n: int) -> Callable[[], None]:
    first = [
        {"index": i, "id": f"c{i}", "type": "function", "function": {"name": "f", "arguments": ""}}
        for i in range(1000)
    ]
    more = [{"index": i, "function": {"arguments": "x"}} for i in range(1000)]
    body = event(choice({"tool_calls": first})) + event(choice({"tool_calls": more})) * n
    return lambda: checked(body, "openai")


def huge_choice_index(n: int) -> Callable[[], None]:
    body = event(choice({"content": "x"}, index=n)) + b"data: [DONE]\n\n"
    return lambda: checked(body, requested_n=n)


def blank_lines(n: int) -> Callable[[], None]:
    body = b"\n" * n + event(choice({"content": "x"}))
    return lambda: checked(body)


def mixed_blank_lines(n: int) -> Callable[[], None]:
    body = b"\r\n\n" * (n // 3) + event(choice({"content": "x"}))
    return lambda: checked(body)


def events(n: int) -> Callable[[], None]:
    unit = event(choice({"content": "tok "}))
    body = unit * (n // len(unit))
    return lambda: checked(body)


def interim_heads(n: int) -> Callable[[], None]:
    interim = b"HTTP/1.1 100 Continue\r\n\r\n"
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n"
    data = interim * (n // len(interim)) + head + event(choice({"content": "x"}))
    return judged_file(data, ".txt")


def har_entries(n: int) -> Callable[[], None]:
    content = {"mimeType": "text/event-stream", "text": event(choice({"content": "x"})).decode()}
    entry = {"request": {"method": "POST"}, "response": {"status": 200, "content": content}}
    return judged_file(orjson.dumps({"log": {"entries": [entry] * n}}), ".har")


def har_nesting(n: int) -> Callable[[], None]:
    nested = b"[" * n + b"]" * n
    entries = b"[" + b",".join([nested] * (20_000 // n)) + b"]"
    return judged_file(b'{"log":{"entries":' + entries + b"}}", ".har")


def one_byte_chunks(n: int) -> Callable[[], None]:
    plain = (event(choice({"content": "x"})) * (n // 100))[:n]
    framed = b"".join(b"1\r\n%s\r\n" % plain[i : i + 1] for i in range(len(plain)))
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    return judged_file(head + framed + b"0\r\n\r\n", ".txt")


def json_bounds(n: int) -> Callable[[], None]:
    text = "[" + ",".join(['{"a":"[[[["}'] * n) + "]"
    return lambda: excess(text, 128, 10**9)


CASES: list[tuple[str, Callable[[int], Callable[[], None]], int, str]] = [
    ("tool calls in one chunk (calls)", tool_calls_in_one_chunk, 512, "2x"),
    ("deltas to 1,000 tool calls (chunks)", deltas_to_many_calls, 200, "2x"),
    ("choice index and n (value)", huge_choice_index, 10**6, "1x"),
    ("blank lines (bytes)", blank_lines, 4 << 20, "2x"),
    ("blank lines, mixed endings (bytes)", mixed_blank_lines, 4 << 20, "2x"),
    ("interim heads in a capture (bytes)", interim_heads, 256 << 10, "2x"),
    ("HAR entries (entries)", har_entries, 2000, "2x"),
    ("HAR nesting (levels, same bytes)", har_nesting, 32, "1x"),
    ("one-byte chunks in a capture (bytes)", one_byte_chunks, 512 << 10, "2x"),
    ("JSON bounds measured (values)", json_bounds, 100_000, "2x"),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a quarter of the sizes (CI)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--check", action="store_true", help="exit 1 when a ratio is > 3x")
    args = parser.parse_args()
    scale = 4 if args.small else 1
    failed = []
    for name, case, full, expected in CASES:
        size = max(1, full // scale) if expected == "2x" else full
        once = best(case(size), args.rounds)
        twice = best(case(2 * size), args.rounds)
        ratio = twice / once
        print(f"{name}: {size:,} -> {2 * size:,}: {once:.4f} s -> {twice:.4f} s, "
              f"ratio {ratio:.2f}x (linear: ~{expected})")  # fmt: skip
        if ratio > LINEAR_AT_MOST:
            failed.append(name)
    size = (4 << 20) // scale
    speed = {name: size / best(case(size), args.rounds) / 1e6 for name, case in (
        ("events", events), ("blank lines", blank_lines), ("mixed blank lines", mixed_blank_lines)
    )}  # fmt: skip
    for name in ("blank lines", "mixed blank lines"):
        print(f"{name}: {speed[name]:.1f} MB/s, events: {speed['events']:.1f} MB/s "
              f"(ratio events/{name}: {speed['events'] / speed[name]:.2f}x)")  # fmt: skip
    if failed:
        print(f"not linear: {', '.join(failed)}")
    return 1 if failed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
