"""CPU time of SSEParser on a 100,000-event stream of ordinary chunks (run by hand, not a test).

.venv/bin/python benchmarks/bench_sse.py [block_size]
"""

from __future__ import annotations

import json
import sys
import time

from conformance._sse import SSEParser

EVENTS = 100_000


def _body() -> bytes:
    """About 20 MB of `data: {chunk}` events and the `[DONE]` sentinel."""
    parts = []
    for i in range(EVENTS - 1):
        chunk = {
            "id": "chatcmpl-9f2a7c1e",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": {"content": f"tok{i} "}, "finish_reason": None}],
        }
        parts.append(b"data: " + json.dumps(chunk).encode() + b"\n\n")
    parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)


def _parse(body: bytes, block: int) -> float:
    """Seconds to feed `body` in `block`-byte pieces, the events discarded as a checker would."""
    start = time.process_time()
    parser = SSEParser()
    count = 0
    for pos in range(0, len(body), block):
        count += len(parser.feed(body[pos : pos + block]))
    parser.close()
    elapsed = time.process_time() - start
    assert count == EVENTS, count
    return elapsed


def _floor(body: bytes) -> float:
    """Seconds of the naive floor loop the whole checker is compared with."""
    start = time.process_time()
    for part in body.split(b"\n\n"):
        if part and part != b"data: [DONE]":
            json.loads(part[6:])
    return time.process_time() - start


def main() -> None:
    block = int(sys.argv[1]) if len(sys.argv) > 1 else 64 * 1024
    body = _body()
    parse = min(_parse(body, block) for _ in range(5))
    floor = min(_floor(body) for _ in range(3))
    print(f"body {len(body) / 1e6:.1f} MB, {EVENTS} events, {block}-byte feeds")
    print(f"SSEParser: {parse / EVENTS * 1e6:.3f} us/event ({parse:.3f} s)")
    print(f"floor loop (split + json.loads): {floor / EVENTS * 1e6:.3f} us/event")


if __name__ == "__main__":
    main()
