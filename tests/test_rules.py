"""Every rule has a stream (or answer) that passes it and one that fails it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from conformance._check import StreamResult
from conformance._dispatch import Context, Dispatcher
from conformance._model import (
    Answer,
    ChoiceRead,
    ClientReading,
    Ending,
    EndingKind,
    Exchange,
    Level,
    Limits,
    Mistake,
    Probe,
    RawResponse,
    Reading,
    WireAnswer,
)
from conformance._profiles import load_profile
from conformance._registry import STREAM_SCOPES, Scope
from conformance.rules import REGISTRY
from tests.streams import (
    check,
    chunk,
    completion,
    good_body,
    mutated,
    ok_exchange,
    sse,
)


def _set(path: str, value: Any, at: int = 1) -> Callable[[list[dict[str, Any]]], None]:
    """A change that sets `path` (dotted, `choices.0.delta.role`) on chunk number `at`."""

    def change(chunks: list[dict[str, Any]]) -> None:
        target: Any = chunks[at]
        keys = path.split(".")
        for key in keys[:-1]:
            target = target[int(key) if key.isdigit() else key]
        last = keys[-1]
        if value is _DELETE:
            del target[last]
        else:
            target[last] = value

    return change


_DELETE = object()


def _stream(change: Callable[[list[dict[str, Any]]], None], **kw: Any) -> Callable[[], Any]:
    return lambda: check(sse(mutated(change)), **kw)


def _all(key: str, value: Any) -> Callable[[list[dict[str, Any]]], None]:
    def change(chunks: list[dict[str, Any]]) -> None:
        for c in chunks:
            c[key] = value

    return change


def _each(key: str, values: list[Any]) -> Callable[[list[dict[str, Any]]], None]:
    def change(chunks: list[dict[str, Any]]) -> None:
        for c, v in zip(chunks, values, strict=False):
            c[key] = v

    return change


def _content_after_finish(chunks: list[dict[str, Any]]) -> None:
    chunks.append(chunk("late"))


def _empty_after_finish(chunks: list[dict[str, Any]]) -> None:
    chunks.append(chunk("", role=True))


def _rejection(
    rule_id: str,
    status: int,
    body: bytes = b'{"error": {"message": "x"}}',
    content_type: str = "application/json",
) -> Callable[[], Any]:
    def run() -> list[Any]:
        rule = REGISTRY[rule_id]
        mistake = min(rule.mistakes) if rule.mistakes else Mistake.NOT_JSON
        head = Exchange(status=status, response_headers=[("content-type", content_type)])
        return list(rule.check(Answer(head, body, mistake)))

    return run


def _stopped(kind: EndingKind, reason: str) -> Callable[[], StreamResult]:
    def run() -> StreamResult:
        from conformance._check import StreamChecker

        checker = StreamChecker()
        checker.check_response(ok_exchange())
        checker.feed(sse(completion(), done=False))
        checker.stop(Ending(kind, reason))
        return checker.finish()

    return run


def _dropped() -> StreamResult:
    """A streamed request whose connection was closed before any answer."""
    from conformance._check import StreamChecker

    checker = StreamChecker()
    checker.stop(Ending(EndingKind.DROPPED, "the server closed the connection without answering"))
    return checker.finish()


JSON = ("content-type", "application/json")
STREAM = ("content-type", "text/event-stream; charset=utf-8")


def _answer(status: int, *headers: tuple[str, str], body: bytes = b"") -> RawResponse:
    return RawResponse("HTTP/1.1", status, "", headers, body)


def _wire(probe: Probe, *responses: RawResponse, **kw: Any) -> Callable[[], Dispatcher]:
    """The wire rules (and, for a method, the rejection rules) judging a probe's answer."""

    def run() -> Dispatcher:
        answer = WireAnswer(probe, responses, **kw)
        dispatch = Dispatcher(load_profile(), Context(live=True))
        dispatch.wire(answer)
        first = answer.first
        if probe.method and first is not None:
            head = Exchange(status=first.status, response_headers=list(first.headers))
            dispatch.rejection(Answer(head, first.body, Mistake.WRONG_METHOD))
        return dispatch

    return run


ALLOWED = _answer(405, JSON, ("allow", "POST"))
REFUSED = _answer(400, JSON)
STREAMED = _answer(200, STREAM)
NOW = int(time.time())
SENT = Reading((ChoiceRead(0, "Hello!", (), "stop"),), 5)
LIBRARIES = {
    "client.openai_python": "openai-python",
    "client.httpx_sse": "httpx-sse",
    "client.openai_node": "openai-node",
    "client.vercel_ai": "vercel-ai",
}


def _client(rule_id: str, got: Reading) -> Callable[[], StreamResult]:
    """A library's reading of a stream, judged by the client rules alone."""

    def judge() -> StreamResult:
        reading = ClientReading(LIBRARIES[rule_id], "entry", "1.0", "Python", "s", SENT, got)
        dispatch = Dispatcher(context=Context(replay=True))
        dispatch.client(reading)
        return StreamResult(dispatch.findings, dict(dispatch.found), dict(dispatch.judged), {})

    return judge


# rule id -> a stream or answer that breaks exactly that rule
FAILING: dict[str, Callable[[], Any]] = {
    **{
        rule_id: _client(rule_id, Reading((ChoiceRead(0, "lo!", (), "stop"),), 4))
        for rule_id in LIBRARIES
    },
    "http.status_ok": lambda: check(b"", exchange=ok_exchange(status=500)),
    "http.content_type": lambda: check(good_body(), exchange=ok_exchange("application/json")),
    "sse.utf8": lambda: check(good_body().replace(b"Hel", b"H\xffl")),
    "sse.data_json": lambda: check(sse([*completion()[:2], "hello world", *completion()[2:]])),
    "stream.error_event": lambda: check(
        sse(
            [
                *completion()[:2],
                {"error": {"message": "upstream overloaded", "type": "server_error"}},
            ]
        )
    ),
    "sse.event_terminated": lambda: check(good_body()[:-2]),
    "sse.done_present": lambda: check(sse(completion(), done=False)),
    "sse.nothing_after_done": lambda: check(good_body() + sse([chunk("x")], done=False)),
    "chunk.id": _stream(_all("id", "")),
    "chunk.object": _stream(_all("object", "chat.completion")),
    "chunk.created": _stream(_all("created", "1764000000")),
    "chunk.model": _stream(_all("model", "")),
    "chunk.choices": _stream(_set("choices", {"0": {}})),
    "choice.index": _stream(_set("choices.0.index", "0")),
    "choice.delta": _stream(_set("choices.0.delta", "Hel")),
    "choice.finish_reason": _stream(_set("choices.0.finish_reason", 1, at=-1)),
    "delta.content": _stream(_set("choices.0.delta.content", 42)),
    "delta.role": _stream(_set("choices.0.delta.role", "user", at=0)),
    "stream.id_consistent": _stream(_set("id", "chatcmpl-other", at=2)),
    "stream.created_consistent": _stream(_each("created", [1, 2, 3, 4, 5])),
    "stream.model_consistent": _stream(_set("model", "alphaedge-small-3-2512", at=3)),
    "stream.after_finish": _stream(_content_after_finish),
    "stream.empty_after_finish": _stream(_empty_after_finish),
    "stream.choice_indexes": _stream(
        _set(
            "choices",
            [{"index": 0, "delta": {"content": "a"}}, {"index": 0, "delta": {"content": "b"}}],
        )
    ),
    "stream.choices_complete": lambda: check(sse(completion()), n=2),
    "stream.has_delta": lambda: check(sse([{**chunk(), "choices": []}] * 3)),
    "stream.finish_reason_present": lambda: check(sse(completion()[:-1])),
    "stream.created_recent": lambda: check(
        sse(completion(created=NOW * 1000)), live=True, started_at=NOW
    ),
    "stream.id_unique": lambda: list(REGISTRY["stream.id_unique"].check(["a", "b", "a"])),
    "request.malformed_json": _rejection("request.malformed_json", 200),
    "request.missing_messages": _rejection("request.missing_messages", 201),
    "request.invalid_types": _rejection("request.invalid_types", 200),
    "request.no_5xx": _rejection("request.no_5xx", 500),
    "error.json_body": _rejection("error.json_body", 400, b"<html>bad</html>", "text/html"),
    "request.default_model": lambda: _accepted("request.default_model", 400),
    "request.default_stream": lambda: _accepted("request.default_stream", 200, "application/json"),
    "transport.complete": _stopped(EndingKind.BROKEN, "connection reset by peer"),
    "transport.within_limits": lambda: check(good_body(), limits=Limits(max_events=2)),
    "request.invalid_values": _rejection("request.invalid_values", 200),
    "request.invalid_utf8": _rejection("request.invalid_utf8", 200),
    "request.valid_accepted": lambda: _accepted("request.valid_accepted", 400),
    "request.client_forms": lambda: _accepted("request.client_forms", 415),
    "request.connection_dropped": _dropped,
    "http.allow_header": _wire(Probe.GET, _answer(405, JSON), closed=True),
    "http.method_not_allowed": _wire(Probe.DELETE, _answer(404, JSON), closed=True),
    "http.head_no_body": _wire(
        Probe.HEAD, _answer(405, JSON, ("allow", "POST"), body=b'{"error": 1}'), closed=True
    ),
    "http.expect_continue": _wire(Probe.EXPECT_CONTINUE, STREAMED, continued=False, waited=3.0),
    "http1.content_length_and_chunked": _wire(
        Probe.CONTENT_LENGTH_AND_CHUNKED, REFUSED, ALLOWED, ALLOWED, requests=2, closed=True
    ),
    "http1.invalid_content_length": _wire(
        Probe.INVALID_CONTENT_LENGTH, REFUSED, ALLOWED, requests=2, closed=True
    ),
    "http1.unknown_transfer_coding": _wire(Probe.UNKNOWN_TRANSFER_CODING, STREAMED, requests=2),
    "http1.space_before_colon": _wire(Probe.SPACE_BEFORE_COLON, STREAMED),
    "http1.host_required": _wire(Probe.MISSING_HOST, STREAMED),
    "http1.connection_close": _wire(
        Probe.CONNECTION_CLOSE, REFUSED, ALLOWED, requests=2, closed=True
    ),
    "http1.http10_no_chunked": _wire(
        Probe.HTTP_1_0, _answer(200, STREAM, ("transfer-encoding", "chunked"))
    ),
    "http1.unread_body": _wire(
        Probe.UNREAD_BODY, ALLOWED, ALLOWED, ALLOWED, requests=2, closed=True
    ),
}

PASSING: dict[str, Callable[[], Any]] = {
    **{rule_id: _client(rule_id, SENT) for rule_id in LIBRARIES},
    "stream.id_unique": lambda: list(REGISTRY["stream.id_unique"].check(["a", "b", "c"])),
    "request.malformed_json": _rejection("request.malformed_json", 400),
    "request.missing_messages": _rejection("request.missing_messages", 422),
    "request.invalid_types": _rejection("request.invalid_types", 400),
    "request.no_5xx": _rejection("request.no_5xx", 404),
    "error.json_body": _rejection("error.json_body", 422, b'{"detail": [{"msg": "x"}]}'),
    "request.default_model": lambda: _accepted("request.default_model", 200),
    "request.default_stream": lambda: _accepted("request.default_stream", 200),
    "request.invalid_values": _rejection("request.invalid_values", 404),
    "request.invalid_utf8": _rejection("request.invalid_utf8", 400),
    "request.valid_accepted": lambda: _accepted("request.valid_accepted", 200),
    "request.client_forms": lambda: _accepted("request.client_forms", 200),
    "request.connection_dropped": lambda: check(good_body()),
    "http.allow_header": _wire(Probe.OPTIONS, ALLOWED, closed=True),
    "http.method_not_allowed": _wire(Probe.PATCH, _answer(501, JSON), closed=True),
    "http.head_no_body": _wire(Probe.HEAD, ALLOWED, closed=True),
    "http.expect_continue": _wire(Probe.EXPECT_CONTINUE, STREAMED, continued=True),
    "http1.content_length_and_chunked": _wire(
        Probe.CONTENT_LENGTH_AND_CHUNKED, REFUSED, requests=2, closed=True
    ),
    "http1.invalid_content_length": _wire(
        Probe.INVALID_CONTENT_LENGTH, REFUSED, requests=2, closed=True
    ),
    "http1.unknown_transfer_coding": _wire(
        Probe.UNKNOWN_TRANSFER_CODING, _answer(501, JSON), requests=2, closed=True
    ),
    "http1.space_before_colon": _wire(Probe.SPACE_BEFORE_COLON, REFUSED),
    "http1.host_required": _wire(Probe.MISSING_HOST, REFUSED, closed=True),
    "http1.connection_close": _wire(Probe.CONNECTION_CLOSE, REFUSED, requests=2, closed=True),
    "http1.http10_no_chunked": _wire(Probe.HTTP_1_0, _answer(200, STREAM, ("connection", "close"))),
    "http1.unread_body": _wire(Probe.UNREAD_BODY, ALLOWED, ALLOWED, requests=2, closed=True),
}


def _accepted(rule_id: str, status: int, content_type: str = "text/event-stream") -> StreamResult:
    from conformance._check import StreamChecker

    checker = StreamChecker()
    if checker.check_response(ok_exchange(content_type, status), accepts=rule_id):
        checker.feed(good_body())
    return checker.finish()


def _fired(outcome: Any) -> set[str]:
    if isinstance(outcome, StreamResult | Dispatcher):
        return set(outcome.found)
    return {"fired"} if outcome else set()


def test_every_rule_has_a_failing_example() -> None:
    from tests.test_profiles import FAILING as PROFILE_FAILING  # the openai/mistral rules

    assert set(FAILING) | set(PROFILE_FAILING) == {r.id for r in REGISTRY}


@pytest.mark.parametrize("rule_id", sorted(FAILING))
def test_rule_fires_alone_on_its_failing_example(rule_id: str) -> None:
    fired = _fired(FAILING[rule_id]())
    if fired == {"fired"}:
        return
    assert fired == {rule_id}


@pytest.mark.parametrize("rule_id", sorted(PASSING))
def test_rule_passes_its_passing_example(rule_id: str) -> None:
    assert _fired(PASSING[rule_id]()) == set()


def test_conformant_stream_passes_every_stream_rule() -> None:
    result = check(sse(completion(created=NOW)), live=True, started_at=time.time() - 1, n=1)
    assert result.findings == []
    assert result.texts == {0: "Hello!"}
    stream_rules = {r.id for r in load_profile().rules() if r.scope in STREAM_SCOPES}
    assert stream_rules <= {rule_id for rule_id, count in result.judged.items() if count}
    assert result.judged["chunk.id"] == result.judged["stream.id_consistent"] == 5


def test_violation_is_located() -> None:
    result = check(sse(mutated(_set("choices.0.delta.content", 42, at=2))))
    (finding,) = result.findings
    assert finding.rule_id == "delta.content"
    assert finding.level is Level.MUST
    assert finding.event_index == 2
    assert finding.json_path == "$.choices[0].delta.content"
    start = len(sse(completion()[:2], done=False))
    assert finding.offset == start
    assert '"content":42' in finding.excerpt
    assert finding.expected and finding.received
    body = sse(mutated(_set("choices.0.delta.content", 42, at=2)))
    assert finding.event == body[start : body.index(b"\n\n", start) + 2]  # as it arrived


def test_event_bytes_are_kept_when_the_event_spans_feeds() -> None:
    body = sse(mutated(_set("choices.0.delta.content", 42, at=2)))
    start = len(sse(completion()[:2], done=False))
    event = body[start : body.index(b"\n\n", start) + 2]
    result = check(body, pieces=[start + 3, start + 10, start + 40])
    (finding,) = result.findings
    assert finding.event == event


def test_all_violations_of_a_stream_are_reported_together() -> None:
    chunks = mutated(_set("id", "", at=1))
    chunks[2]["object"] = "chat.completion"
    result = check(sse(chunks, done=False))
    assert {"chunk.id", "chunk.object", "sse.done_present", "stream.id_consistent"} <= set(
        result.found
    )


def test_repeated_violations_are_counted_not_all_kept() -> None:
    body = sse([chunk("x", cid=f"id-{i}") for i in range(100)] + [chunk(finish="stop")])
    result = check(body)
    assert result.found["stream.id_consistent"] == 100
    assert len([f for f in result.findings if f.rule_id == "stream.id_consistent"]) == 20


def test_should_level_rules_are_should() -> None:
    should = {r.id for r in REGISTRY if r.level is Level.SHOULD}
    assert should == {
        "stream.created_consistent",
        "stream.model_consistent",
        "stream.finish_reason_present",
        "stream.created_recent",
        "stream.empty_after_finish",
        "request.invalid_types",
        "request.invalid_values",
        "request.invalid_utf8",
        "request.default_model",
        "request.default_stream",
        "http.method_not_allowed",
        *LIBRARIES,  # client.*: a library's mis-reading (fails only under --fail-on clients)
    }


def test_index_beyond_requested_n_is_caught_live() -> None:
    result = check(sse(completion(index=1)), n=1)
    assert {"stream.choice_indexes", "stream.choices_complete"} == set(result.found)


@pytest.mark.parametrize(
    "late",
    [
        chunk(finish="stop"),  # the same finish reason again
        chunk(),  # an empty delta
        chunk("", role=True),  # the same role and no content (OpenRouter's last entry)
        {**chunk(), "choices": [{"index": 0, "delta": {"content": None, "tool_calls": []}}]},
    ],
)
def test_an_entry_carrying_nothing_after_finish_is_a_warning(late: dict[str, Any]) -> None:
    result = check(sse([*completion(), late]))
    assert set(result.found) == {"stream.empty_after_finish"}


@pytest.mark.parametrize(
    "late",
    [
        chunk(finish="length"),  # another finish reason
        chunk("x"),  # content
        {**chunk(), "choices": [{"index": 0, "delta": {"refusal": "no"}}]},
        {**chunk(), "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0}]}}]},
    ],
)
def test_an_entry_carrying_anything_after_finish_fails(late: dict[str, Any]) -> None:
    result = check(sse([*completion(), late]))
    assert set(result.found) == {"stream.after_finish"}


def test_wrong_status_is_not_also_blamed_on_content_type() -> None:
    result = check(b"", exchange=ok_exchange("application/json", status=500))
    assert set(result.found) == {"http.status_ok"}


def test_live_only_rules_are_not_applied_offline() -> None:
    result = check(sse(completion(created=NOW * 1000)), live=False)
    assert "stream.created_recent" not in result.judged
    assert result.unjudged["stream.created_recent"].startswith("needs a live exchange")
    assert result.findings == []


def test_duplicate_rule_id_is_an_error() -> None:
    from conformance._registry import DuplicateRuleError, framing_rule

    with pytest.raises(DuplicateRuleError):
        framing_rule("sse.utf8", level=Level.MUST, title="t", source="s", sentence="s")(
            lambda observation: None
        )


def test_every_rule_cites_its_sentence() -> None:
    for rule in REGISTRY:
        assert rule.sentence and rule.source and rule.title, rule.id
        assert callable(rule.check) and isinstance(rule.scope, Scope), rule.id


def test_a_method_the_server_does_not_implement_may_get_501() -> None:
    assert _fired(_wire(Probe.PATCH, _answer(501, JSON))()) == set()
    assert _fired(_wire(Probe.PATCH, _answer(500, JSON))()) == {
        "request.no_5xx",
        "http.method_not_allowed",
    }


def test_an_answer_to_a_wrong_method_needs_no_json_body() -> None:
    plain = _answer(
        405, ("content-type", "text/plain"), ("allow", "POST"), body=b"Method Not Allowed"
    )
    assert _fired(_wire(Probe.PUT, plain, closed=True)()) == set()
    rule = REGISTRY["error.json_body"]
    assert rule.mistakes is not None and Mistake.WRONG_METHOD not in rule.mistakes


def test_no_answer_is_not_judged_as_an_acceptance() -> None:
    """A dropped connection is the transport's to judge: no 4xx rule says it "accepted"."""
    head = Exchange(status=None)
    for rule in REGISTRY.of(Scope.REJECTION):
        mistake = min(rule.mistakes) if rule.mistakes else Mistake.NOT_JSON
        assert list(rule.check(Answer(head, b"", mistake))) == [], rule.id


def test_a_framing_probe_without_an_answer_fails_its_rule() -> None:
    ending = Ending(EndingKind.DROPPED, "the server closed the connection without answering")
    dispatch = _wire(Probe.MISSING_HOST, ending=ending)()
    (finding,) = dispatch.findings
    assert finding.rule_id == "http1.host_required"
    assert finding.received == ending.reason


def test_connection_close_waits_are_reported() -> None:
    dispatch = _wire(Probe.CONNECTION_CLOSE, REFUSED, requests=2, closed=False, waited=3.0)()
    (finding,) = dispatch.findings
    assert finding.rule_id == "http1.connection_close"
    assert "still open 3 s later" in finding.received


def test_every_wire_rule_names_its_probes_and_an_rfc() -> None:
    for rule in REGISTRY.of(Scope.WIRE):
        assert rule.probes, rule.id
        assert "RFC 911" in rule.source, rule.id
