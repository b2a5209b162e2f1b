"""Speed and memory of the checker, each against its floor, measured in one run.

    .venv/bin/python benchmarks/bench_checker.py            # full sizes (README figures)
    .venv/bin/python benchmarks/bench_checker.py --small    # CI: small sizes, same ratios
    .venv/bin/python benchmarks/bench_checker.py --check    # exit 1 when a goal is missed
    .venv/bin/python benchmarks/bench_checker.py --runs 3   # and the median and spread

The measurements:

- offline (in-process): the full `StreamChecker` (strict SSE parsing, JSON decoding, schema
  validation, every stream rule) fed 64 KiB blocks of a 100,000-chunk body, against the floor
  of a plain loop that splits the same body on blank lines and `json.loads` every payload
  (goal <= 0.7x);
- start-up: `conformance check` on a one-chunk file (median of 10) beside a bare
  `python -c pass` (goal <= 0.12 s);
- whole command: `conformance check FILE` on the same 100,000-chunk stream as a file against
  a whole process that reads it, splits it on blank lines and `json.loads` every payload
  (median of 3 alternating pairs; goal <= 1.0x);
- folder: `conformance check -j 2` and `-j 1` on a folder of 1,000 recordings, and one
  `conformance check` process per file (on the first 100 of them): MB/s and files/s
  (goal: -j 2 at least 1.7x -j 1);
- live: over loopback, from a server that writes and flushes one event at a time, the
  suite's client (read + check) against a bare `httpx` read of the same stream (goal <= 1.5x);
- memory: peak RSS of `conformance check` on a 1,000,000-chunk file (goal <= 100 MiB).

In-process figures are the best of several repetitions, alternating the two sides so that a
noisy neighbour hurts both alike; whole-process figures are medians. The package is
byte-compiled first, as an installed package is.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import gc
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson

from conformance._check import StreamChecker
from conformance._client import Client, Target
from conformance._model import Limits

BLOCK = 64 * 1024
OFFLINE_GOAL, LIVE_GOAL, MEMORY_GOAL_MIB = 0.7, 1.5, 100
STARTUP_GOAL, COMMAND_GOAL, FOLDER_GOAL = 0.12, 1.0, 1.7
MODEL = "alphaedge-large-3-2512"
CREATED = int(time.time())
UNLIMITED = Limits(max_events=10**9, max_bytes=1 << 40)
SIZES = {  # (offline chunks, live chunks, memory chunks)
    "full": (100_000, 20_000, 1_000_000),
    "small": (10_000, 2_000, 100_000),
}
FOLDER = {"full": (1_000, 100), "small": (100, 20)}  # (recordings, checked one per process)


# -- the stream -----------------------------------------------------------------------------


def chunk_bytes(i: int, count: int) -> bytes:
    """Chunk `i` of a `count`-chunk single-choice completion, as compact JSON."""
    delta: dict[str, object] = {"content": f"tok{i} "}
    if i == 0:
        delta = {"role": "assistant", "content": ""}
    finish = "stop" if i == count - 1 else None
    if finish:
        delta = {}
    return orjson.dumps(
        {
            "id": "chatcmpl-9f2a7c1e5b3d4a60",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
    )


def events(count: int) -> Iterator[bytes]:
    """The SSE events of a `count`-chunk completion, then `data: [DONE]`."""
    for i in range(count):
        yield b"data: " + chunk_bytes(i, count) + b"\n\n"
    yield b"data: [DONE]\n\n"


def body(count: int) -> bytes:
    """A whole `count`-chunk stream body (about 190 bytes a chunk)."""
    return b"".join(events(count))


# -- offline --------------------------------------------------------------------------------


def floor(data: bytes) -> float:
    """Seconds of the floor: split on blank lines, `json.loads` every payload, no checks."""
    start = time.perf_counter()
    for part in data.split(b"\n\n"):
        if part and part != b"data: [DONE]":
            json.loads(part[6:])
    return time.perf_counter() - start


def check(data: bytes, chunks: int, block: int = BLOCK) -> float:
    """Seconds of the full checker fed `block`-byte pieces (asserting a clean verdict)."""
    start = time.perf_counter()
    checker = StreamChecker(limits=UNLIMITED)
    for pos in range(0, len(data), block):
        checker.feed(data[pos : pos + block])
    result = checker.finish()
    elapsed = time.perf_counter() - start
    assert not result.findings, result.findings[:3]
    assert result.chunks == chunks, result.chunks
    return elapsed


def best_pair(
    first: Callable[[], float], second: Callable[[], float], rounds: int
) -> tuple[float, float]:
    """The best time of each side over `rounds` alternating runs."""
    a, b = [], []
    for _ in range(rounds):
        gc.collect()
        a.append(first())
        gc.collect()
        b.append(second())
    return min(a), min(b)


def offline(count: int, rounds: int) -> float:
    """Print and return the checker/floor ratio on a `count`-chunk body."""
    data = body(count)
    base, full = best_pair(lambda: floor(data), lambda: check(data, count), rounds)
    ratio = full / base
    print(f"offline: {count:,} chunks, {len(data) / 1e6:.1f} MB, {BLOCK // 1024} KiB feeds")
    print(f"  floor (split + json.loads): {base:.3f} s  {base / count * 1e6:.2f} us/chunk")
    print(f"  checker (everything):       {full:.3f} s  {full / count * 1e6:.2f} us/chunk")
    print(f"  ratio checker/floor: {ratio:.2f}x (goal <= {OFFLINE_GOAL:.1f}x)")
    return ratio


# -- whole commands -------------------------------------------------------------------------

ONE_CHUNK = (
    b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1764000000,'
    b'"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},'
    b'"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
)

FLOOR_PROCESS = textwrap.dedent("""
    import json, sys
    with open(sys.argv[1], "rb") as handle:
        data = handle.read()
    for part in data.split(b"\\n\\n"):
        if part and part != b"data: [DONE]":
            json.loads(part[6:])
""")
"""The whole-process floor: read the file, split it on blank lines, `json.loads` each payload."""


def conformance() -> list[str]:
    """The `conformance` console script of this interpreter's environment."""
    script = Path(sys.executable).with_name("conformance")
    return [str(script)] if script.exists() else [sys.executable, "-m", "conformance"]


def timed(command: list[str], expect: tuple[int, ...] = (0,)) -> float:
    """Wall seconds of one run of `command` (its output discarded)."""
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    assert done.returncode in expect, (command, done.returncode, done.stderr[-2000:])
    return elapsed


def median_pair(
    first: list[str], second: list[str], rounds: int, expect: tuple[int, ...] = (0,)
) -> tuple[float, float]:
    """The median wall time of each command over `rounds` alternating runs."""
    a, b = [], []
    for _ in range(rounds):
        a.append(timed(first, expect))
        b.append(timed(second, expect))
    return statistics.median(a), statistics.median(b)


def startup(tmp: Path, rounds: int = 10) -> float:
    """Print and return the median wall seconds of `conformance check` on a one-chunk file."""
    path = tmp / "one.sse"
    path.write_bytes(ONE_CHUNK)
    bare, check = median_pair(
        [sys.executable, "-c", "pass"], [*conformance(), "check", str(path)], rounds
    )
    print(f"start-up: `conformance check` on a one-chunk file, median of {rounds}")
    print(f"  bare `python -c pass`: {bare:.3f} s")
    print(f"  conformance check:     {check:.3f} s (goal <= {STARTUP_GOAL:.2f} s)")
    return check


def whole_command(tmp: Path, count: int, rounds: int = 3) -> float:
    """Print and return the ratio of `conformance check FILE` to the whole-process floor."""
    path = tmp / "stream.sse"
    write_file(path, count)
    size = path.stat().st_size
    floor_command = [sys.executable, "-c", FLOOR_PROCESS, str(path)]
    base, check = median_pair(floor_command, [*conformance(), "check", str(path)], rounds)
    ratio = check / base
    print(f"whole command: {count:,} chunks, {size / 1e6:.1f} MB file, median of {rounds}")
    print(f"  floor process (read + split + json.loads): {base:.3f} s")
    print(f"  conformance check FILE:                    {check:.3f} s")
    print(f"  ratio command/floor: {ratio:.2f}x (goal <= {COMMAND_GOAL:.1f}x)")
    return ratio


def folder(tmp: Path, files: int, singles: int) -> float:
    """Print the throughput of `conformance check` on a folder of `files` recordings (-j 2,
    -j 1, one process per file on `singles` of them); return the -j 2 / -j 1 speed-up."""
    root = tmp / "folder"
    root.mkdir()
    for n in range(files):  # 20 to 400 chunks, about 4 to 80 KB: captured completions
        write_file(root / f"{n:05}.sse", 20 + (n * 37) % 381)
    paths = sorted(root.iterdir())
    size = sum(p.stat().st_size for p in paths)
    command = [*conformance(), "check"]
    two, one = median_pair([*command, "-j", "2", str(root)], [*command, "-j", "1", str(root)], 3)
    start = time.perf_counter()
    for path in paths[:singles]:
        timed([*command, str(path)])
    each = (time.perf_counter() - start) / singles
    single_mb = sum(p.stat().st_size for p in paths[:singles]) / singles / each / 1e6
    print(f"folder: {files:,} recordings, {size / 1e6:.1f} MB, median of 3")
    for label, seconds in (("-j 2", two), ("-j 1", one)):
        rate = f"{size / seconds / 1e6:.1f} MB/s  {files / seconds:.0f} files/s"
        print(f"  {label}: {seconds:.2f} s  {rate}")
    print(f"  one process per file ({singles} files): {each:.3f} s a file  "
          f"{single_mb:.1f} MB/s  {1 / each:.1f} files/s")  # fmt: skip
    speedup = one / two
    print(f"  speed-up -j 2 / -j 1: {speedup:.2f}x (goal >= {FOLDER_GOAL:.1f}x)")
    return speedup


# -- live -----------------------------------------------------------------------------------


class FlushingServer:
    """A minimal HTTP/1.1 server on loopback that sends one chunked write per SSE event.

    Written on a plain socket so the server's own cost is small and the same for both
    clients; each event is one `send` (a flush), as a token-by-token server does. It runs
    in its own process (`--serve`), so that it does not share the client's interpreter.
    """

    def __init__(self, count: int) -> None:
        self.frames = [b"%x\r\n%s\r\n" % (len(e), e) for e in events(count)]
        self.sock = socket.create_server(("127.0.0.1", 0))

    def serve_forever(self) -> None:
        print(self.sock.getsockname()[1], flush=True)
        while True:
            conn, _ = self.sock.accept()
            with conn:
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request = b""
        while b"\r\n\r\n" not in request:
            request += conn.recv(65536)
        head, _, rest = request.partition(b"\r\n\r\n")
        length = int(
            next(
                (
                    line.split(b":")[1]
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                b"0",
            )
        )
        while len(rest) < length:
            rest += conn.recv(65536)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        for frame in self.frames:
            conn.sendall(frame)
        conn.sendall(b"0\r\n\r\n")


@contextlib.contextmanager
def flushing_server(count: int) -> Iterator[str]:
    """The base URL of a FlushingServer of `count` chunks, in a child process."""
    command = [sys.executable, __file__, "--serve", str(count)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as server:
        try:
            assert server.stdout is not None
            yield f"http://127.0.0.1:{int(server.stdout.readline())}/v1"
        finally:
            server.kill()


REQUEST = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "stream": True}


def bare_read(url: str) -> float:
    """Seconds of a bare httpx read of the stream (bytes counted, nothing parsed)."""
    start = time.perf_counter()
    with (
        httpx.Client() as http,
        http.stream("POST", f"{url}/chat/completions", json=REQUEST) as response,
    ):
        size = sum(map(len, response.iter_raw()))
    elapsed = time.perf_counter() - start
    assert size > 0
    return elapsed


def suite_read(url: str) -> float:
    """Seconds of the suite's client reading and checking the stream."""
    start = time.perf_counter()
    with Client(Target(url, limits=UNLIMITED)) as client:
        live = client.stream(REQUEST)
    elapsed = time.perf_counter() - start
    assert live.result is not None and not live.result.findings, live.result.findings[:3]
    return elapsed


def live(count: int, rounds: int) -> float:
    """Print and return the suite/bare-read ratio over loopback."""
    with flushing_server(count) as url:
        bare, suite = best_pair(lambda: bare_read(url), lambda: suite_read(url), rounds)
    ratio = suite / bare
    print(f"live: {count:,} chunks over loopback, one flushed write per event")
    print(f"  bare httpx read:      {bare:.3f} s")
    print(f"  suite read + check:   {suite:.3f} s")
    print(f"  ratio suite/bare: {ratio:.2f}x (goal <= {LIVE_GOAL:.1f}x)")
    return ratio


# -- memory ---------------------------------------------------------------------------------


def write_file(path: Path, count: int) -> None:
    """Write a `count`-chunk stream to `path` without holding it in memory."""
    with path.open("wb") as out:
        batch: list[bytes] = []
        for event in events(count):
            batch.append(event)
            if len(batch) == 10_000:
                out.write(b"".join(batch))
                batch.clear()
        out.write(b"".join(batch))


_MEASURED = textwrap.dedent("""
    import re, resource, sys
    from conformance.cli import main
    code = main(sys.argv[1:])
    try:  # this program's own peak: ru_maxrss would include the parent's, from before exec
        with open("/proc/self/status") as status:
            peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1))
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(peak, file=sys.stderr)
    sys.exit(code)
""")
"""`conformance ARGS` (the console script's `main`), then its peak RSS in KiB on stderr."""


def memory(count: int) -> float:
    """Print and return the peak RSS (MiB) of `conformance check` on a `count`-chunk file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stream.sse"
        write_file(path, count)
        size = path.stat().st_size
        command = [sys.executable, "-c", _MEASURED, "check", str(path)]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
        elapsed = time.perf_counter() - start
    assert done.returncode == 0 and "CONFORMANT" in done.stdout, done.stdout + done.stderr
    assert f"{count + 1} events" in done.stdout, done.stdout
    peak = int(done.stderr.split()[-1]) / 1024
    print(
        f"memory: `conformance check` on {count:,} chunks ({size / 1e6:.0f} MB file), "
        f"{elapsed:.1f} s"
    )
    print(f"  peak RSS: {peak:.1f} MiB (goal <= {MEMORY_GOAL_MIB} MiB)")
    return peak


# -- main -----------------------------------------------------------------------------------


def machine() -> str:
    """CPU model, core count and Python version."""
    model = "unknown CPU"
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load {os.getloadavg()[0]:.2f}"
    )


GOALS = {  # name: (goal, True when higher is better)
    "in-process ratio": (OFFLINE_GOAL, False),
    "start-up s": (STARTUP_GOAL, False),
    "whole-command ratio": (COMMAND_GOAL, False),
    "folder speed-up": (FOLDER_GOAL, True),
    "live ratio": (LIVE_GOAL, False),
    "peak RSS MiB": (MEMORY_GOAL_MIB, False),
}


def measure(args: argparse.Namespace) -> dict[str, float]:
    """One run of every measurement asked for: {name: figure}."""
    size = "small" if args.small else "full"
    sizes = SIZES[size]
    figures: dict[str, float] = {}
    only = args.only
    if only is None or "offline" in only:
        figures["in-process ratio"] = offline(sizes[0], args.rounds)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        if only is None or "startup" in only:
            figures["start-up s"] = startup(tmp)
        if only is None or "command" in only:
            figures["whole-command ratio"] = whole_command(tmp, sizes[0])
        if only is None or "folder" in only:
            figures["folder speed-up"] = folder(tmp, *FOLDER[size])
    if only is None or "live" in only:
        figures["live ratio"] = live(sizes[1], args.rounds)
    if only is None or "memory" in only:
        figures["peak RSS MiB"] = memory(sizes[2])
    return figures


FULL_SIZE_ONLY = ("whole-command ratio", "folder speed-up")
"""Goals judged at full size only: on --small's 2 MB stream and 100 files the command's own
start-up (0.1 s) is most of the time, which is the start-up goal's business."""


def keep_profiles() -> None:
    """The profiles' parsed copies, as any run that may write bytecode leaves them (this
    environment may say not to: PYTHONDONTWRITEBYTECODE)."""
    from conformance._profiles import load_profile, profile_names

    sys.dont_write_bytecode = False
    for name in profile_names():
        load_profile(name)


def missed(figures: dict[str, float], small: bool = False) -> list[str]:
    out = []
    for name, value in figures.items():
        if small and name in FULL_SIZE_ONLY:
            continue
        goal, higher = GOALS[name]
        if (value < goal) if higher else (value > goal):
            out.append(name)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="CI sizes (10x smaller)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--runs", type=int, default=1, help="repeat it all; print medians")
    parser.add_argument(
        "--only",
        action="append",
        choices=("offline", "startup", "command", "folder", "live", "memory"),
        help="this measurement only (repeat the option for several)",
    )
    parser.add_argument("--serve", type=int, metavar="CHUNKS", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        FlushingServer(args.serve).serve_forever()
    package = Path(__file__).resolve().parents[1] / "conformance"
    compileall.compile_dir(package, quiet=1)  # as installed: bytecode already there
    keep_profiles()
    runs = []
    for run in range(args.runs):
        print(
            f"machine: {machine()}" + (f" (run {run + 1} of {args.runs})" if args.runs > 1 else "")
        )
        runs.append(measure(args))
        print(f"load after the run: {os.getloadavg()[0]:.2f}")
    if args.runs > 1:
        print(f"over {args.runs} runs: median (min-max)")
        for name in runs[0]:
            values = [r[name] for r in runs]
            print(
                f"  {name}: {statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"
            )
    final = {name: statistics.median(r[name] for r in runs) for name in runs[0]}
    failed = missed(final, args.small)
    print(f"goals missed: {', '.join(failed)}" if failed else "all goals met")
    unjudged = [name for name in FULL_SIZE_ONLY if args.small and name in final]
    if unjudged:
        print(f"not judged at --small sizes (start-up dominates): {', '.join(unjudged)}")
    return 1 if failed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
