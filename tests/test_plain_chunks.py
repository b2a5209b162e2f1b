"""The plain-chunk fast path of the checker (a chunk that satisfies the chunk schema, the
shape `StreamState.update_plain` takes, and every chunk rule's `quiet` schema skips the
rules) never changes a verdict: every stream gives the same result with it and without it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance import _check
from conformance._check import StreamChecker, StreamResult
from conformance._model import Limits
from conformance._profiles import profile_names
from conformance._registry import REGISTRY, Scope
from tests.streams import chunk, sse

LONG = 40  # chunks before the change: past PLAIN_AFTER, so the fast path is on
UNLIMITED = Limits(max_events=10**6, max_bytes=1 << 30)


def _body(chunks: list[Any]) -> bytes:
    return sse(chunks)


def _run(
    body: bytes, profile: str, *, plain: bool, n: int | None = 1, request: bool = False
) -> tuple[StreamResult, StreamChecker]:
    request_body = {"model": "m", "stream": True, "messages": [], "n": n} if request else None
    checker = StreamChecker(
        profile=profile,
        requested_n=n,
        keep_text=True,
        limits=UNLIMITED,
        request=request_body,
    )
    if not plain:
        checker._plain_builds = _check.PLAIN_BUILDS  # as if every build were spent
    for start in range(0, len(body), 997):  # pieces that cut events anywhere
        checker.feed(body[start : start + 997])
    return checker.finish(), checker


def _comparable(result: StreamResult) -> dict[str, Any]:
    state = result.state
    assert state is not None
    choices = {
        i: (c.first_event, c.last_event, c.deltas, c.finish_reason, c.finished_at, c.text)
        for i, c in state.choices.items()
    }
    return {
        "findings": [f.as_dict() for f in result.findings],
        "found": result.found,
        "judged": result.judged,
        "unjudged": result.unjudged,
        "events": result.events,
        "chunks": result.chunks,
        "texts": result.texts,
        "finish": result.finish_reasons,
        "first_content": result.first_content_event,
        "choices": choices,
        "counts": (state.finished, state.usage_chunks, state.usage_event, state.tool_calls),
    }


def _same_with_and_without(body: bytes, profile: str, **kw: Any) -> StreamChecker:
    fast, checker = _run(body, profile, plain=True, **kw)
    slow, _ = _run(body, profile, plain=False, **kw)
    assert _comparable(fast) == _comparable(slow)
    return checker


def _stream(change: Callable[[list[dict[str, Any]]], None]) -> bytes:
    chunks = [chunk("", role=True), *(chunk(f"t{i} ") for i in range(LONG))]
    chunks += [chunk("end"), chunk(finish="stop")]
    change(chunks)
    return _body(chunks)


def _set(index: int, path: tuple[Any, ...], value: Any) -> Callable[[list[dict[str, Any]]], None]:
    def change(chunks: list[dict[str, Any]]) -> None:
        node: Any = chunks[index]
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


def _delete(index: int, key: str) -> Callable[[list[dict[str, Any]]], None]:
    def change(chunks: list[dict[str, Any]]) -> None:
        del chunks[index][key]

    return change


def _insert(index: int, new: dict[str, Any]) -> Callable[[list[dict[str, Any]]], None]:
    def change(chunks: list[dict[str, Any]]) -> None:
        chunks.insert(index, new)

    return change


def _append(*new: dict[str, Any]) -> Callable[[list[dict[str, Any]]], None]:
    def change(chunks: list[dict[str, Any]]) -> None:
        chunks.extend(copy.deepcopy(list(new)))

    return change


AT = LONG - 5  # a chunk the fast path would take
CHANGES: dict[str, Callable[[list[dict[str, Any]]], None]] = {
    "none": lambda chunks: None,
    "id changed": _set(AT, ("id",), "chatcmpl-other"),
    "id missing": _delete(AT, "id"),
    "id a number": _set(AT, ("id",), 7),
    "created changed": _set(AT, ("created",), 1),
    "created a float equal": _set(AT, ("created",), 1_764_000_000.0),
    "created true": _set(AT, ("created",), True),
    "model changed": _set(AT, ("model",), "other"),
    "object wrong": _set(AT, ("object",), "chat.completion"),
    "index 1 (n=1)": _set(AT, ("choices", 0, "index"), 1),
    "index -1": _set(AT, ("choices", 0, "index"), -1),
    "index 0.0": _set(AT, ("choices", 0, "index"), 0.0),
    "index a string": _set(AT, ("choices", 0, "index"), "0"),
    "two entries": _set(AT, ("choices",), [chunk("a")["choices"][0]] * 2),
    "no entries": _set(AT, ("choices",), []),
    "choices null": _set(AT, ("choices",), None),
    "entry not an object": _set(AT, ("choices",), [5]),
    "delta not an object": _set(AT, ("choices", 0, "delta"), "x"),
    "delta missing": _delete(AT, "id"),
    "content a list": _set(AT, ("choices", 0, "delta", "content"), [{"type": "text", "text": "x"}]),
    "finish mid-stream": _set(AT, ("choices", 0, "finish_reason"), "stop"),
    "finish then more": _set(AT, ("choices", 0, "finish_reason"), "length"),
    "usage mid-stream": _set(AT, ("usage",), {"prompt_tokens": 1, "completion_tokens": 2}),
    "usage null": _set(AT, ("usage",), None),
    "tool call": _set(
        AT,
        ("choices", 0, "delta", "tool_calls"),
        [{"index": 0, "id": "c", "type": "function", "function": {"name": "f", "arguments": ""}}],
    ),
    "tool calls null": _set(AT, ("choices", 0, "delta", "tool_calls"), None),
    "refusal": _set(AT, ("choices", 0, "delta", "refusal"), 5),
    "extra field": _set(AT, ("x_extra",), {"a": [1]}),
    "after finish": _append(chunk("late")),
    "empty after finish": _append(chunk(None), chunk(None)),
    "same finish again": _append(chunk(finish="stop")),
    "usage after": _append(
        {
            **chunk(),
            "choices": [],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
        },
        chunk("x"),
    ),
    "second choice appears": _insert(AT, chunk("b", index=1)),
    "many chunks after a second choice": _insert(10, chunk("b", index=1, finish="stop")),
}


@pytest.mark.parametrize("profile", profile_names())
@pytest.mark.parametrize("name", list(CHANGES))
def test_the_fast_path_changes_no_result(profile: str, name: str) -> None:
    body = _stream(CHANGES[name])
    for n, request in ((1, False), (2, True), (None, False)):
        _same_with_and_without(body, profile, n=n, request=request)


@pytest.mark.parametrize("profile", profile_names())
def test_a_plain_stream_takes_the_fast_path(profile: str) -> None:
    checker = _same_with_and_without(_stream(lambda chunks: None), profile)
    assert checker._plain_builds >= 1
    fast, _ = _run(_stream(lambda chunks: None), profile, plain=True)
    assert fast.findings == []


def test_every_chunk_rule_says_which_chunks_it_lets_pass() -> None:
    """A chunk rule (or an event rule judging objects) without a `quiet` schema turns the
    fast path off for its profiles."""
    judging = [
        r for r in REGISTRY if r.scope is Scope.CHUNK or (r.scope is Scope.EVENT and r.objects)
    ]
    assert [r.id for r in judging if r.quiet is None] == []


@pytest.mark.parametrize("profile", profile_names())
@pytest.mark.parametrize("kind", ["error", "message", "delta"])
def test_a_typed_event_is_never_plain(profile: str, kind: str) -> None:
    """The event rules' quiet schemas speak for events without an `event:` type only."""
    body = _stream(lambda chunks: None)
    marker = b"data: " + orjson.dumps(chunk(f"t{AT} "))
    assert body.count(marker) == 1
    body = body.replace(marker, f"event: {kind}\n".encode() + marker)
    checker = _same_with_and_without(body, profile)
    assert checker._plain_builds >= 1
    fast, _ = _run(body, profile, plain=True)
    assert ("stream.error_event" in fast.found) == (kind == "error")


@pytest.mark.parametrize("profile", profile_names())
def test_an_error_object_is_never_plain(profile: str) -> None:
    error = {**chunk("x"), "error": {"message": "overloaded"}}
    body = _stream(_insert(AT, error))
    _same_with_and_without(body, profile)
    fast, _ = _run(body, profile, plain=True)
    assert "stream.error_event" in fast.found


def test_a_stream_changing_shape_on_every_chunk_builds_a_bounded_number_of_times() -> None:
    chunks = [chunk("", role=True), *(chunk(f"t{i}") for i in range(LONG))]
    chunks += [chunk("x", index=i) for i in range(1, 200)]
    checker = _same_with_and_without(_body(chunks), "alphaedge", n=None)
    assert checker._plain_builds == _check.PLAIN_BUILDS


VARIANTS = [
    chunk("a"),
    chunk("b", index=1),
    chunk(None),
    chunk(finish="stop"),
    chunk(finish="stop", index=1),
    chunk("c", cid="other"),
    chunk("d", created=5),
    {**chunk("e"), "model": "other"},
    {
        **chunk(),
        "choices": [],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    },
    {**chunk("f"), "usage": None},
    chunk("g", index=2),
    {**chunk("h"), "object": "wrong"},
]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(range(len(VARIANTS))), min_size=1, max_size=60),
    st.sampled_from(profile_names()),
    st.sampled_from([1, 2, 3, None]),
)
def test_any_mix_of_chunks_gives_the_same_result(
    picks: list[int], profile: str, n: int | None
) -> None:
    chunks = [chunk("", role=True), *(chunk(f"t{i}") for i in range(20))]
    chunks += [copy.deepcopy(VARIANTS[i]) for i in picks]
    _same_with_and_without(_body(chunks), profile, n=n, request=n is not None)
