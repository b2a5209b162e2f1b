"""A conformant stream is never failed for a legal variation of its framing or content."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.streams import check, chunk, completion, good_body, sse


def _pretty(payloads: list[dict[str, Any]]) -> bytes:
    events = [json.dumps(p, indent=2).replace("\n", "\ndata: ") for p in payloads]
    return "".join(f"data: {e}\n\n" for e in [*events, "[DONE]"]).encode()


VARIATIONS: dict[str, bytes] = {
    "crlf": sse(completion(), eol="\r\n"),
    "bare cr": sse(completion(), eol="\r"),
    "no space after data:": sse(completion(), space=""),
    "comments and keep-alives": b": keep-alive\n\n:\n"
    + good_body().replace(b"\n\n", b"\n\n: ping\n\n", 2),
    "one leading BOM": b"\xef\xbb\xbf" + good_body(),
    "multi-line data": _pretty(completion()),
    "id, retry and event: message fields": good_body().replace(
        b"data: ", b"event: message\nid: 7\nretry: 3000\ndata: "
    ),
    "unknown SSE field": good_body().replace(b"data: ", b"x-trace: 1\ndata: ", 1),
    "unknown extra JSON fields": sse(
        [{**c, "system_fingerprint": "fp_1", "x_vendor": {}} for c in completion()]
    ),
    "empty deltas": sse([completion()[0], chunk(), *completion()[1:]]),
    "role-only first chunk and finish-only last chunk": sse(
        [chunk(role=True), chunk("Hi"), chunk(finish="stop")]
    ),
    "usage chunk with empty choices": sse(
        [
            *[{**c, "usage": None} for c in completion()],
            {
                **chunk(),
                "choices": [],
                "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6},
            },
        ]
    ),
    "dated model name": sse(completion()).replace(
        b"alphaedge-large-3-2512", b"alphaedge-large-3-2512-2026-01-15"
    ),
    "null content": sse([chunk(None, role=True), chunk("Hi"), chunk(finish="stop")]),
    "tool call deltas": sse(
        [
            {
                **chunk(role=True),
                "choices": [
                    {
                        "index": 0,
                        "delta": {
                            "role": "assistant",
                            "content": None,
                            "tool_calls": [
                                {
                                    "index": 0,
                                    "id": "call_1",
                                    "type": "function",
                                    "function": {"name": "f", "arguments": ""},
                                }
                            ],
                        },
                        "finish_reason": None,
                    }
                ],
            },
            chunk(finish="tool_calls"),
        ]
    ),
    "non-ASCII text": sse(completion(("héllo ", "👋🏽", " 世界"))),
    "huge integer in an extra field": sse(completion()).replace(
        b'"created"', b'"x_big":123456789012345678901234567890,"created"'
    ),
}


@pytest.mark.parametrize("name", sorted(VARIATIONS))
def test_legal_variation_passes(name: str) -> None:
    result = check(VARIATIONS[name], live=True, started_at=1_764_000_000)
    assert result.findings == [], name


def test_two_choices_interleaved_pass() -> None:
    a, b = completion(index=0), completion(index=1)
    body = sse([x for pair in zip(a, b, strict=True) for x in pair])
    assert check(body, n=2).findings == []


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_byte_split_gives_the_same_verdict(data: st.DataObject) -> None:
    body = data.draw(st.sampled_from(sorted(VARIATIONS.items())))[1]
    cuts = sorted(set(data.draw(st.lists(st.integers(1, len(body) - 1), max_size=40))))
    whole = check(body)
    split = check(body, pieces=cuts)
    assert split.findings == whole.findings == []
    assert split.texts == whole.texts


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_split_inside_broken_stream_locates_the_same_violations(data: st.DataObject) -> None:
    body = good_body().replace(b"Hel", b"H\xffl") + sse([chunk("late")], done=False)
    cuts = sorted(set(data.draw(st.lists(st.integers(1, len(body) - 1), max_size=20))))
    assert check(body, pieces=cuts).findings == check(body).findings != []
