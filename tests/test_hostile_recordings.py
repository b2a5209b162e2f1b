"""Hostile recordings: each crafted file ends in a clean, named outcome of `conformance check`
(a finding of a named rule, a named limit, or UNREADABLE with the reason), run in a fresh
process whose time and peak RSS are measured (`tests/measure.py`): never a traceback, a hang
or a blow-up. Items refer to issue 11's list of attacks."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from conformance._json import TooDeep, loads, nests_deeper
from conformance._model import TEXT_LIMIT, printable
from conformance._offline import judge, recordings
from conformance._profiles import load_profile
from tests.measure import check
from tests.streams import chunk, completion, sse
from tests.test_offline import REQUEST, curl_capture, har, har_entry

PEAK_MIB = 150
QUICK = 10.0
"""Seconds any recording may take to judge (a loaded CI machine included); most take < 1 s."""
MIB = 1 << 20
DEEP = 100_000
"""Levels of nesting of the deep attacks (a RecursionError needed about 1,000)."""

_CHUNK = {"id": "c", "object": "chat.completion.chunk", "created": 1_764_086_400, "model": "m"}


def _sse(*payloads: Any) -> bytes:
    """Events from payloads (dicts, or raw JSON bytes), then [DONE]."""
    raw = [p if isinstance(p, bytes) else orjson.dumps(p) for p in payloads]
    return b"".join(b"data: " + p + b"\n\n" for p in raw) + b"data: [DONE]\n\n"


def _choice(delta: dict[str, Any], index: int = 0, finish: str | None = None) -> dict[str, Any]:
    return {**_CHUNK, "choices": [{"index": index, "delta": delta, "finish_reason": finish}]}


def _nested(levels: int, inner: bytes = b"1") -> bytes:
    return b"[" * levels + inner + b"]" * levels


def _tool_calls(count: int) -> bytes:
    calls = [{"id": str(i)} for i in range(count)]  # 15,000 of them: 214 KB
    return _sse(_choice({"role": "assistant", "tool_calls": calls}), _choice({}, finish="stop"))


def _function(value: Any) -> bytes:
    first = {"index": 0, "id": "call_0", "type": "function", "function": value}
    return _sse(_choice({"tool_calls": [first]}), _choice({}, finish="tool_calls"))


def _gzip_capture(plain_mib: int, unit: bytes) -> bytes:
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = deflate.compress(unit * (MIB // len(unit)))
    body = block + b"".join(deflate.compress(unit * (MIB // len(unit))) for _ in range(plain_mib))
    return curl_capture(body + deflate.flush(), extra_headers="content-encoding: gzip\r\n")


def _interim_capture(size: int) -> bytes:
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n"
    heads = interim * (size // len(interim))
    return curl_capture(sse(completion())).replace(b"HTTP/1.1 200", heads + b"HTTP/1.1 200", 1)


def _raw_chunked(body: bytes, *, last: bool = True) -> bytes:
    framed = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 7]), body[i : i + 7]) for i in range(0, len(body), 7)
    )
    return curl_capture(framed + (b"0\r\n\r\n" if last else b""))


def _deep_har(levels: int) -> bytes:
    return b'{"log":{"version":"1.2","entries":[' + _nested(levels, b"{}") + b"]}}"


def _har_with(entry_change: Callable[[dict[str, Any]], None]) -> bytes:
    entry = har_entry(sse(completion()).decode())
    entry_change(entry)
    return har(entry)


@dataclass(frozen=True)
class Crafted:
    """A crafted recording, how it is checked, and the outcome it must end in."""

    item: int  # in issue 11's list
    name: str
    suffix: str
    data: Callable[[], bytes]
    says: tuple[str, ...]  # each must appear in the output
    code: int | None = 1  # 0 conformant, 1 not, 2 unreadable; None: not the point
    args: tuple[str, ...] = ()
    bound: float = QUICK
    json_out: bool = field(default=True)  # also checked with --format json --show-text

    @property
    def id(self) -> str:
        return f"{self.item}-{self.name}"


WITHIN_LIMITS = "transport.within_limits"
NESTS = "nests JSON arrays and objects deeper than the client's limit of 128 levels"

CRAFTED = [
    # 2: tool-call bookkeeping is linear
    Crafted(
        2,
        "15k-tool-calls",
        ".sse",
        lambda: _tool_calls(15_000),
        (WITHIN_LIMITS, "more than 1,024 tool calls (a limit of the client's)"),
    ),
    Crafted(
        2,
        "15k-tool-calls-openai",
        ".sse",
        lambda: _tool_calls(15_000),
        ("[MUST] openai.tool_call_deltas", "more than 1,024 tool calls"),
        args=("--profile", "openai"),
    ),
    Crafted(
        2,
        "60k-tool-calls-mistral",
        ".sse",
        lambda: _tool_calls(60_000),
        (WITHIN_LIMITS, "holds more JSON values than the client's limit of 100,000"),
        args=("--profile", "mistral"),
    ),
    Crafted(
        2,
        "tool-calls-across-2000-events",
        ".sse",
        lambda: _sse(*(_choice({"tool_calls": [{"id": str(i)}]}) for i in range(2000))),
        (WITHIN_LIMITS, "more than 1,024 tool calls"),
        args=("--profile", "mistral"),
    ),
    Crafted(
        2,
        "a-1.6-mib-event-of-empty-objects",
        ".sse",
        lambda: b"data: [\n" + b"data: {},\n" * 400_000 + b"data: {}]\n\n",
        (WITHIN_LIMITS, "holds more JSON values than the client's limit of 100,000"),
    ),
    Crafted(
        2,
        "an-event-of-data-lines-without-end",
        ".sse",
        lambda: b"data: [\n" + b"data: {},\n" * (3 << 20),
        (WITHIN_LIMITS, "the data of an event exceeds 2097152 bytes"),
    ),
    # 3: nothing allocated in proportion to a number from the input
    Crafted(
        3,
        "choice-index-1e8",
        ".sse",
        lambda: _sse(_choice({"content": "x"}, 10**8, "stop")),
        ("[MUST] stream.choices_complete", "and 99,999,990 more]"),
    ),
    Crafted(
        3,
        "choice-index-2**63",
        ".sse",
        lambda: _sse(_choice({}, 2**63, "stop")),
        ("[MUST] stream.choices_complete",),
    ),
    Crafted(
        3,
        "curl-body-n-1e12",
        ".txt",
        lambda: curl_capture(sse(completion()), request={**REQUEST, "n": 10**12}),
        ("[MUST] stream.choices_complete", "choices 0..999999999999"),
    ),
    Crafted(
        3,
        "har-postdata-n-2**63",
        ".har",
        lambda: har(har_entry(sse(completion()).decode(), request={**REQUEST, "n": 2**63})),
        ("[MUST] stream.choices_complete",),
    ),
    Crafted(
        3,
        "2000-choice-indexes",
        ".sse",
        lambda: _sse(*(_choice({"content": "x"}, i) for i in range(2000))),
        (WITHIN_LIMITS, "more than 1,024 choice indexes"),
    ),
    Crafted(
        3,
        "600k-one-character-argument-fragments",
        ".sse",
        lambda: _sse(
            _choice({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f"}}]}),
            *[_choice({"tool_calls": [{"index": 0, "function": {"arguments": "1"}}]})] * 600_000,
        ),
        (WITHIN_LIMITS, "more than 32 MiB of tool-call arguments and text"),
        args=("--profile", "openai"),
        json_out=False,
    ),
    Crafted(
        3,
        "arguments-of-a-million-json-values",
        ".sse",
        lambda: _sse(
            _choice(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "a",
                            "type": "function",
                            "function": {"name": "f", "arguments": "["},
                        }
                    ]
                }
            ),
            *[_choice({"tool_calls": [{"index": 0, "function": {"arguments": "{}," * 250_000}}]})]
            * 4,
            _choice({"tool_calls": [{"index": 0, "function": {"arguments": "{}]"}}]}),
            _choice({}, finish="tool_calls"),
        ),
        ("[MUST] stream.tool_call_arguments", "are beyond what the client reads"),
        args=("--profile", "openai"),
    ),
    # 4: a HAR nested beyond the reader's bound
    Crafted(
        4,
        "har-30k-deep",
        ".har",
        lambda: _deep_har(30_000),
        ("UNREADABLE", "deeper than the reader's limit of 128 levels"),
        2,
    ),
    Crafted(
        4,
        "har-100k-deep",
        ".har",
        lambda: _deep_har(DEEP),
        ("UNREADABLE", "deeper than the reader's limit of 128 levels"),
        2,
    ),
    # 5: lone surrogates (valid JSON escapes) in every string a stream has
    Crafted(
        5,
        "lone-surrogates",
        ".sse",
        lambda: _sse(
            b'{"id":"c\\ud800","object":"chat.completion.chunk","created":1764086400,'
            b'"model":"m\\udfff","choices":[{"index":0,"delta":{"content":"\\ud800",'
            b'"tool_calls":[{"index":0,"id":"\\udc00","type":"function","function":'
            b'{"name":"\\ud800","arguments":"\\udbff"}}]},"finish_reason":"s\\ud800"}]}'
        ),
        ("\\ud800",),
        args=("--profile", "openai"),
    ),
    # 6: deep JSON wherever JSON is read
    Crafted(6, "deep-payload", ".sse", lambda: _sse(_nested(DEEP)), (WITHIN_LIMITS, NESTS)),
    Crafted(
        6,
        "deep-delta-field",
        ".sse",
        lambda: _sse(orjson.dumps(_choice({"content": "x"})).replace(b'"x"', _nested(DEEP))),
        (WITHIN_LIMITS, NESTS),
    ),
    Crafted(
        6,
        "usage-200-deep-openai",
        ".sse",
        lambda: _sse(
            orjson.dumps({**_CHUNK, "choices": [], "usage": 0}).replace(b"0}", _nested(200) + b"}")
        ),
        (WITHIN_LIMITS, NESTS),
        args=("--profile", "openai"),
    ),
    Crafted(
        6,
        "whole-arguments-300-deep-mistral",
        ".sse",
        lambda: _sse(
            orjson.dumps(
                _choice({"tool_calls": [{"id": "a", "function": {"name": "f", "arguments": 0}}]})
            ).replace(b":0}", b":" + _nested(300) + b"}")
        ),
        (WITHIN_LIMITS, NESTS),
        args=("--profile", "mistral"),
    ),
    Crafted(
        6,
        "deep-error-payload",
        ".sse",
        lambda: _sse(b'{"error":' + _nested(DEEP) + b"}"),
        (WITHIN_LIMITS, NESTS),
    ),
    Crafted(
        6,
        "curl-deep-request-body",
        ".txt",
        lambda: curl_capture(sse(completion())).replace(
            b"### body: {", b'### body: {"x":' + _nested(DEEP) + b",", 1
        ),
        ("recording(s)",),
        0,
    ),
    Crafted(
        6,
        "har-deep-postdata",
        ".har",
        lambda: _har_with(lambda e: e["request"]["postData"].update(text=_nested(DEEP).decode())),
        ("recording(s)",),
        0,
    ),
    # 8: a tool call whose function is not an object
    *(
        Crafted(
            8,
            f"function-{kind}",
            ".sse",
            lambda v=value: _function(v),
            ("[MUST] openai.tool_call_deltas", "not an object"),
            args=("--profile", "openai"),
        )
        for kind, value in (("number", 5), ("boolean", True), ("mixed-list", [1, "a", None]))
    ),
    # 9: time amplification
    Crafted(
        9,
        "32-mib-of-blank-lines",
        ".sse",
        lambda: b"\n" * (32 * MIB) + _sse(*completion()),
        ("recording(s): 1 conformant",),
        0,
    ),
    Crafted(
        9,
        "24-mib-of-mixed-blank-lines",
        ".sse",
        lambda: b"\r\n\n" * (8 * MIB) + _sse(*completion()),
        ("recording(s)",),
        0,
    ),
    Crafted(
        9,
        "gzip-capture-of-blank-lines",
        ".txt",
        lambda: _gzip_capture(100, b"\n" * 64),
        (WITHIN_LIMITS, "byte limit (67,108,864 bytes)"),
    ),
    Crafted(
        9,
        "gzip-capture-of-events",
        ".txt",
        lambda: _gzip_capture(100, sse([chunk("boom ")], done=False)),
        (WITHIN_LIMITS, "byte limit (67,108,864 bytes)"),
    ),
    Crafted(
        9,
        "1.1-mib-of-interim-heads",
        ".txt",
        lambda: _interim_capture(1_100_000),
        ("recording(s): 1 conformant",),
        0,
    ),
    Crafted(
        9,
        "4-mib-of-interim-heads",
        ".txt",
        lambda: _interim_capture(4 * MIB),
        ("UNREADABLE", "no complete HTTP status line and headers"),
        2,
    ),
    # 11: the smaller ones
    Crafted(
        11,
        "unparsable-status-line",
        ".txt",
        lambda: curl_capture(sse(completion()), status="2x0 OK\x00\x1b[2J"),
        ("[MUST] http.status_ok", "status line that is not HTTP", "\\x00\\x1b[2J"),
    ),
    Crafted(
        11,
        "raw-chunked-framing",
        ".txt",
        lambda: _raw_chunked(sse(completion())),
        ("recording(s): 1 conformant",),
        0,
    ),
    Crafted(
        11,
        "raw-chunked-framing-cut",
        ".txt",
        lambda: _raw_chunked(sse(completion()), last=False),
        ("[MUST] transport.complete", "without the zero-length last chunk"),
    ),
    Crafted(
        11,
        "truncated-gzip",
        ".txt",
        lambda: curl_capture(
            gzip.compress(sse(completion()))[:-20], extra_headers="content-encoding: gzip\r\n"
        ),
        ("[MUST] transport.complete", "the compressed body is truncated"),
    ),
]
BY_ID = {crafted.id: crafted for crafted in CRAFTED}


@pytest.mark.slow
@pytest.mark.parametrize("crafted_id", list(BY_ID))
def test_crafted_recording_ends_cleanly_in_time_and_memory(tmp_path: Path, crafted_id: str) -> None:
    crafted = BY_ID[crafted_id]
    path = tmp_path / f"crafted{crafted.suffix}"
    path.write_bytes(crafted.data())
    done = check(str(path), *crafted.args, timeout=crafted.bound + 30)
    assert done.code is not None, f"killed after {done.seconds:.0f} s"
    assert "Traceback" not in done.output, done.stderr[-3000:]
    if crafted.code is not None:
        assert done.code == crafted.code, done.output[-3000:]
    for words in crafted.says:
        assert words in done.stdout, done.stdout[-3000:]
    assert done.seconds <= crafted.bound, done
    assert done.peak_mib < PEAK_MIB, done
    if crafted.json_out:
        out = check(str(path), *crafted.args, "--format", "json", "--show-text", timeout=60)
        assert "Traceback" not in out.output, out.stderr[-3000:]
        document = json.loads(out.stdout)  # valid UTF-8 and valid JSON
        assert document["summary"]
        assert out.peak_mib < PEAK_MIB, out


# -- the defences, in process ----------------------------------------------------------------


def test_nesting_is_measured_outside_strings_and_only_when_it_could_be_deep() -> None:
    assert not nests_deeper(_nested(128).decode(), 128)
    assert nests_deeper(_nested(129).decode(), 128)
    assert not nests_deeper('["' + "[" * 500 + '"]', 128)  # inside a string
    assert not nests_deeper('["\\"' + "[{" * 500 + '"]', 128)  # after an escaped quote
    assert not nests_deeper("[]" * 10_000, 128)  # many brackets, never deep
    with pytest.raises(TooDeep):
        loads(_nested(DEEP), 128)
    assert loads(b'{"a": "\\ud800"}', 128) == {"a": "\ud800"}  # orjson refuses, JSON allows


def test_printable_escapes_controls_and_lone_surrogates_only() -> None:
    assert printable("a\tb\nc é ✓") == "a\tb\nc é ✓"
    assert (
        printable("\x00\x1b[2J\r\x7f\x9b\ud800\udfff")
        == "\\x00\\x1b[2J\\x0d\\x7f\\x9b\\ud800\\udfff"
    )
    printable("\ud800" * 10).encode("utf-8")


def test_a_finding_is_bounded_and_printable_whatever_the_target_sent(tmp_path: Path) -> None:
    error = {"error": {"message": "\x1b[2J\ud800" + "x" * 1_000_000}}
    path = tmp_path / "error.sse"
    path.write_bytes(_sse(_choice({"role": "assistant"}), json.dumps(error).encode()))
    [recording] = recordings(path)
    result = judge(recording, load_profile("alphaedge")).result
    assert result is not None
    (finding,) = [f for f in result.findings if f.rule_id == "stream.error_event"]
    assert finding.message.startswith("the completion failed mid-stream: \\x1b[2J\\ud800xxx")
    assert len(finding.message) < TEXT_LIMIT + 100
    assert finding.message.encode("utf-8")
