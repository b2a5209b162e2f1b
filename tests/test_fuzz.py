"""Structured fuzzing of the checker and the renderers: hypothesis draws hostile JSON values
(lone surrogates, control characters, huge and negative numbers, wrong types), deep and wide
nestings, and the SSE framings that carry them (line endings, split data lines, comments,
fields, a BOM, invalid UTF-8, a missing last blank line, any split into feeds). No input may
raise out of the checker or a renderer, and each ends in a named outcome: no finding, or
findings of registered rules, a transport rule's among them whenever reading stopped early.
"""

from __future__ import annotations

import json
import re
from itertools import pairwise
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance._check import StreamChecker, StreamResult
from conformance._cli_check import render_json, render_text
from conformance._client import LiveResult
from conformance._model import DEFAULT_POLICY, Exchange, Finding, Limits
from conformance._offline import RecordingResult
from conformance._outcome import Outcome
from conformance._profiles import load_profile
from conformance._render import render_failure, render_finding
from conformance._report._certificate import RunInfo, build, dumps
from conformance._report._collect import Gatherer, TestRecord
from conformance._report._evidence import evidence_of
from conformance._report._junit import junit
from conformance._report._page import page
from conformance._report._redact import Redactor
from conformance._report._terminal import blocks
from conformance.rules import REGISTRY
from tests.streams import ok_exchange

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
"""What no rendered text may hold: control characters (but tab and line feed), lone surrogates."""
SMALL = Limits(max_line=4096, max_event=8192, max_events=200, max_bytes=64 * 1024, max_depth=16)
TRANSPORT_RULES = {"transport.within_limits", "transport.complete"}

# -- hostile JSON values ----------------------------------------------------------------------

_TEXT = st.lists(
    st.characters(codec=None, categories=None)
    | st.sampled_from(["\ud800", "\udfff", "\x00", "\x1b[2J", "\x9b", "\u2028", "\ufeff"]),
    max_size=8,
).map("".join)
_NUMBERS = (
    st.integers(-(2**70), 2**70)
    | st.sampled_from([0, -1, 2**63, 10**8])
    | st.floats(allow_nan=False, allow_infinity=False)
)
_SCALARS = st.none() | st.booleans() | _NUMBERS | _TEXT
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)


@st.composite
def _nested(draw: st.DrawFn) -> Any:
    """A value wrapped in arrays and objects, now and then deeper than any limit."""
    value = draw(_VALUES)
    for _ in range(draw(st.sampled_from([0, 1, 3, 20, 200]))):
        value = [value] if draw(st.booleans()) else {"a": value}
    return value


_HOSTILE = _VALUES | _nested()


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field that is usually of its documented shape and sometimes any hostile value."""
    return st.one_of(strategy, strategy, _HOSTILE)


_CALL = st.fixed_dictionaries(
    {},
    optional={
        "index": _maybe(st.integers(0, 3)),
        "id": _maybe(st.text(max_size=4)),
        "type": _maybe(st.just("function")),
        "function": _maybe(
            st.fixed_dictionaries(
                {}, optional={"name": _maybe(st.just("f")), "arguments": _maybe(_TEXT)}
            )
        ),
    },
)
_DELTA = st.fixed_dictionaries(
    {},
    optional={
        "role": _maybe(st.just("assistant")),
        "content": _maybe(_TEXT),
        "tool_calls": _maybe(st.lists(_CALL, max_size=3)),
    },
)
_CHOICE = st.fixed_dictionaries(
    {"index": _maybe(st.integers(0, 2)), "delta": _maybe(_DELTA)},
    optional={"finish_reason": _maybe(st.sampled_from([None, "stop", "length", "tool_calls"]))},
)
_CHUNK = st.fixed_dictionaries(
    {
        "id": _maybe(st.just("chatcmpl-1")),
        "object": _maybe(st.just("chat.completion.chunk")),
        "created": _maybe(st.just(1_764_086_400)),
        "model": _maybe(st.just("m")),
        "choices": _maybe(st.lists(_CHOICE, max_size=3)),
    },
    optional={"usage": _HOSTILE, "error": _HOSTILE},
)
_PAYLOAD = _CHUNK | _HOSTILE


# -- SSE framings --------------------------------------------------------------------------------


def _json_bytes(value: Any, ascii_only: bool) -> bytes:
    """JSON text of `value`: lone surrogates as escapes, or raw (then invalid UTF-8)."""
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@st.composite
def _event(draw: st.DrawFn) -> bytes:
    eol = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    kind = draw(st.sampled_from(["json", "json", "json", "done", "raw"]))
    if kind == "done":
        data = b"[DONE]"
    elif kind == "raw":
        data = draw(st.binary(max_size=40))
    else:
        data = _json_bytes(draw(_PAYLOAD), draw(st.booleans()))
    lines = [b"data: " + line for line in re.split(rb"\r\n|\r|\n", data)]
    if draw(st.booleans()) and len(lines) == 1 and len(data) > 2:  # one payload, two lines
        cut = draw(st.integers(1, len(data) - 1))
        lines = [b"data: " + data[:cut], b"data:" + data[cut:]]
    extra = draw(st.lists(st.sampled_from([b": ping", b"event: x", b"id: 1", b"retry: x"])))
    return eol.join([*extra, *lines]) + eol + (eol if draw(st.integers(0, 9)) else b"")


@st.composite
def _body(draw: st.DrawFn) -> tuple[list[bytes], bool]:
    events = draw(st.lists(_event(), max_size=6))
    body = (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + b"".join(events)
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=5)))
    pieces = [body[a:b] for a, b in pairwise([0, *cuts, len(body)])]
    return [p for p in pieces if p], draw(st.booleans())


# -- properties ----------------------------------------------------------------------------


def _check(pieces: list[bytes], profile: str, live: bool, limits: Limits) -> StreamResult:
    checker = StreamChecker(profile=profile, limits=limits, live=live, request={"n": 1})
    if checker.check_response(ok_exchange()):
        for piece in pieces:
            if not checker.feed(piece):
                break
    return checker.finish()


def _named(result: StreamResult) -> None:
    """Every finding is of a registered rule and safe to write anywhere; a read that stopped
    early is named by a transport rule."""
    for finding in result.findings:
        assert finding.rule_id in REGISTRY, finding.rule_id
        for text in (finding.message, finding.expected, finding.received, finding.excerpt):
            assert UNSAFE.search(text) is None, (finding.rule_id, text)
        orjson.dumps(finding.as_dict())
    if result.ending is not None:
        assert TRANSPORT_RULES & set(result.found), result.ending


def _rendered(result: StreamResult, findings: list[Finding]) -> None:
    """Every rendering of the findings and the exchange (the failure text, the certificate,
    the HTML page, the terminal blocks, JUnit, `conformance check`) writes safe text."""
    live = LiveResult(b"{}", ok_exchange(), "curl x", result, findings=findings)
    live.exchange.url = "http://user:pw@h/v1/chat/completions?key=secret"
    outcome = Outcome([live])
    texts = [render_finding(f) for f in findings]
    texts.append(render_failure(outcome, [(0, f) for f in findings]))
    redactor = Redactor(["secret", "user:pw"])
    gatherer = Gatherer(policy=DEFAULT_POLICY)
    gatherer.tests["t.yaml::x"] = TestRecord("t.yaml::x", "failed", evidence_of(outcome, redactor))
    info = RunInfo("http://user:pw@h/v1?key=secret", "m", "openai", "must", False, 0.0, 1.0)
    certificate = build(info, gatherer, load_profile("openai").rules(), redactor)
    texts += [page(certificate, gatherer, "t"), dumps(certificate), *blocks(certificate)]
    texts.append(junit(certificate, gatherer).decode("utf-8"))
    judged = RecordingResult("recording\udcff.sse", "sse", "alphaedge", result)
    texts.append(render_text(judged, DEFAULT_POLICY, show_text=True))
    json.loads(render_json([judged], DEFAULT_POLICY, show_text=True))
    for text in texts:
        text.encode("utf-8")
        assert "secret" not in text
        assert UNSAFE.search(text.replace("\r\n", "\n")) is None, UNSAFE.search(text)


@SETTINGS
@given(
    body=_body(),
    profile=st.sampled_from(["alphaedge", "openai", "mistral"]),
    small=st.booleans(),
)
def test_no_framing_or_value_raises_and_each_ends_in_a_named_outcome(
    body: tuple[list[bytes], bool], profile: str, small: bool
) -> None:
    pieces, live = body
    result = _check(pieces, profile, live, SMALL if small else Limits())
    _named(result)
    _rendered(result, result.findings)


@SETTINGS
@given(
    payload=_PAYLOAD,
    width=st.sampled_from([1, 3, 2000]),
    profile=st.sampled_from(["alphaedge", "openai", "mistral"]),
)
def test_wide_and_deep_payloads_end_in_a_named_outcome(
    payload: Any, width: int, profile: str
) -> None:
    """A payload repeated `width` times in one array, in one event: sizes and depths."""
    data = _json_bytes([payload] * width if width > 1 else payload, True)
    result = _check([b"data: " + data + b"\n\ndata: [DONE]\n\n"], profile, False, Limits())
    _named(result)
    _rendered(result, result.findings)


def test_the_renderers_meet_a_head_of_control_characters() -> None:
    exchange = Exchange(status=None, reason="HTTP/1.1 2x0 \x00\x1b[2J\ud800")
    exchange.response_headers = [("x-\x00", "\x1b]0;title\x07\udcff")]
    checker = StreamChecker()
    checker.check_response(exchange)
    result = checker.finish()
    _named(result)
    assert "http.status_ok" in result.found
    _rendered(result, result.findings)
