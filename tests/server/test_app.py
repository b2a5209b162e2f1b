"""The reference server: in-process through ASGI, end-to-end on a loopback socket.

Streams are judged here with a small WHATWG-style parser of the test's own, never with the
suite's checker: the server is the checker's independent counterpart.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest

import conformance.server as server_package
from conformance.server import (
    DEFAULT_MODEL,
    FAULTS,
    MODELS,
    VARIATIONS,
    ServerThread,
    create_app,
)

HELLO = {"role": "user", "content": "Hello!"}
BODY: dict[str, Any] = {"model": DEFAULT_MODEL, "messages": [HELLO], "stream": True}
REPLY = "Hello! You said: Hello!."
CHAT = "/v1/chat/completions"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
APP = create_app()


# --- helpers ------------------------------------------------------------------------------


def call(
    path: str = CHAT,
    body: object = BODY,
    *,
    app: Any = APP,
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """One request to `app` in-process; `body` is sent as JSON unless it is bytes."""

    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            if isinstance(body, bytes):
                return await client.request(method, path, content=body, headers=headers)
            data = body if method == "POST" else None
            return await client.request(method, path, json=data, headers=headers)

    return asyncio.run(run())


def asgi_call(path: str, body: object = BODY) -> tuple[dict[str, str], list[bytes]]:
    """Call the ASGI app directly: the response headers and each body message, as sent."""
    sent: list[MutableMapping[str, Any]] = []
    requests = [{"type": "http.request", "body": json.dumps(body).encode()}]

    async def receive() -> dict[str, Any]:
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
    }
    asyncio.run(APP(scope, receive, send))
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    return headers, [m["body"] for m in sent[1:] if m["body"]]


def events(body: bytes) -> list[str]:
    """The data of each event dispatched from `body`, by the WHATWG rules."""
    text = body.decode("utf-8", errors="replace").removeprefix("\ufeff")
    dispatched: list[str] = []
    data: list[str] = []
    for line in re.split("\r\n|\r|\n", text)[:-1]:  # the last piece is not a complete line
        if not line and data:
            dispatched.append("\n".join(data))
            data = []
        name, _, value = line.partition(":")
        if line and name == "data":
            data.append(value.removeprefix(" "))
    return dispatched


def chunks(body: bytes) -> list[dict[str, Any]]:
    """The JSON chunks of a stream (everything but `[DONE]`)."""
    return [json.loads(data) for data in events(body) if data != "[DONE]"]


def content(stream: list[dict[str, Any]], index: int = 0) -> str:
    return "".join(
        c["choices"][0]["delta"].get("content") or ""
        for c in stream
        if c["choices"] and c["choices"][0]["index"] == index
    )


def fault(name: str, body: object = BODY, headers: dict[str, str] | None = None) -> httpx.Response:
    return call(f"/fault/{name}{CHAT}", body, headers=headers)


def variation(name: str, body: object = BODY) -> httpx.Response:
    return call(f"/variation/{name}{CHAT}", body)


def assert_json_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    error: dict[str, Any] = response.json()["error"]
    assert isinstance(error["message"], str)
    assert error["type"] == ("server_error" if status >= 500 else "invalid_request_error")
    assert set(error) == {"message", "type", "param", "code"}
    return error


def assert_clean_sse(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.content.endswith(b"\n\ndata: [DONE]\n\n")
    return chunks(response.content)


# --- the clean stream --------------------------------------------------------------------


def test_public_names_are_pinned() -> None:
    assert server_package.__all__ == [
        "DEFAULT_MODEL",
        "FAULTS",
        "MODELS",
        "VARIATIONS",
        "Fault",
        "HostileServer",
        "ServerThread",
        "Variation",
        "create_app",
        "serve",
    ]


def test_clean_stream_has_the_documented_shape() -> None:
    response = call()
    assert response.headers["cache-control"] == "no-cache"
    stream = assert_clean_sse(response)
    assert all(e.startswith(b"data: ") for e in response.content.split(b"\n\n")[:-1])
    assert stream[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert {c["id"] for c in stream} == {stream[0]["id"]}
    assert re.fullmatch("chatcmpl-[0-9a-f]{32}", stream[0]["id"])
    assert {c["object"] for c in stream} == {"chat.completion.chunk"}
    assert {c["model"] for c in stream} == {DEFAULT_MODEL}
    created = {c["created"] for c in stream}
    assert len(created) == 1 and abs(created.pop() - time.time()) < 5
    assert [c["choices"][0]["finish_reason"] for c in stream][-2:] == [None, "stop"]
    assert stream[-1]["choices"][0]["delta"] == {}
    assert content(stream) == REPLY
    assert all(len(c["choices"][0]["delta"].get("content", "")) <= 4 for c in stream)


def test_each_completion_has_its_own_id() -> None:
    assert chunks(call().content)[0]["id"] != chunks(call().content)[0]["id"]


def test_model_and_stream_default_as_documented() -> None:
    stream = assert_clean_sse(call(body={"messages": [HELLO]}))
    assert stream[0]["model"] == DEFAULT_MODEL


def test_requested_model_is_echoed_and_unknown_fields_ignored() -> None:
    stream = assert_clean_sse(
        call(body={**BODY, "model": MODELS[1], "temperature": 0.2, "x_custom": {"a": 1}})
    )
    assert {c["model"] for c in stream} == {MODELS[1]}


def test_usage_chunk_comes_last_when_asked() -> None:
    stream = assert_clean_sse(call(body={**BODY, "stream_options": {"include_usage": True}}))
    assert all(c["usage"] is None for c in stream[:-1])
    usage = stream[-1]["usage"]
    assert stream[-1]["choices"] == []
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["completion_tokens"] == len(stream) - 3  # role, finish and usage chunks
    assert "usage" not in chunks(call().content)[0]


def test_two_choices_are_interleaved() -> None:
    stream = assert_clean_sse(call(body={**BODY, "n": 2}))
    assert all(len(c["choices"]) == 1 for c in stream)
    assert [c["choices"][0]["index"] for c in stream[:4]] == [0, 1, 0, 1]
    finishes = [c["choices"][0]["index"] for c in stream if c["choices"][0]["finish_reason"]]
    assert sorted(finishes) == [0, 1]
    assert content(stream, 0) == content(stream, 1) == REPLY


def test_max_tokens_cuts_the_reply_with_length() -> None:
    stream = assert_clean_sse(call(body={**BODY, "max_tokens": 2}))
    assert content(stream) == REPLY[:8]
    assert stream[-1]["choices"][0]["finish_reason"] == "length"


def test_stop_sequence_cuts_the_reply_before_it() -> None:
    stream = assert_clean_sse(call(body={**BODY, "stop": ["xyz", "said"]}))
    assert content(stream) == "Hello! You "
    assert stream[-1]["choices"][0]["finish_reason"] == "stop"


def test_tools_get_a_streamed_tool_call() -> None:
    stream = assert_clean_sse(call(body={**BODY, "tools": [WEATHER]}))
    opening = stream[0]["choices"][0]["delta"]["tool_calls"][0]
    assert opening["function"] == {"name": "get_weather", "arguments": ""}
    assert re.fullmatch("call_[0-9a-f]+", opening["id"]) and opening["type"] == "function"
    fragments = [
        c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] for c in stream[1:-1]
    ]
    assert json.loads("".join(fragments)) == {"city": "Paris"}
    assert stream[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_tool_choice_none_gets_text() -> None:
    stream = assert_clean_sse(call(body={**BODY, "tools": [WEATHER], "tool_choice": "none"}))
    assert content(stream) == REPLY


def test_non_streaming_request_gets_a_chat_completion() -> None:
    response = call(body={**BODY, "stream": False})
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": REPLY}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["total_tokens"] > 0


def test_any_unicode_is_echoed_without_crashing() -> None:
    raw = '{"messages":[{"role":"user","content":"\\ud800 h\u00e9 \U0001f44b\U0001f44b"}]}'
    stream = assert_clean_sse(call(body=raw.encode()))
    assert content(stream) == "Hello! You said: \ufffd h\u00e9 \U0001f44b\U0001f44b."


def test_array_content_is_read_for_the_reply() -> None:
    parts = [{"type": "text", "text": "Hi"}, {"type": "image_url", "image_url": {"url": "x"}}]
    stream = assert_clean_sse(call(body={"messages": [{"role": "user", "content": parts}]}))
    assert content(stream) == "Hello! You said: Hi."


def test_models_are_listed() -> None:
    listing = call("/v1/models", method="GET").json()
    assert listing["object"] == "list"
    assert [m["id"] for m in listing["data"]] == list(MODELS)
    assert call("/fault/empty-id/v1/models", method="GET").status_code == 200


def test_app_delay_spaces_events() -> None:
    started = time.monotonic()
    call(app=create_app(delay=0.02))
    assert time.monotonic() - started >= 0.02 * 8


# --- client mistakes ---------------------------------------------------------------------

MESSAGES: dict[str, Any] = {"messages": [HELLO]}
MISTAKES: list[tuple[Any, int, str | None]] = [
    (b"not json", 400, None),
    (b"", 400, None),
    (b"\xff\xfe", 400, None),
    (b"[" * 100_000, 400, None),
    (b'{"messages": NaN}', 400, None),
    ([HELLO], 400, None),
    ({}, 400, "messages"),
    ({"messages": "Hello!"}, 400, "messages"),
    ({"messages": None}, 400, "messages"),
    ({"messages": []}, 400, "messages"),
    ({"messages": [1]}, 400, "messages[0]"),
    ({"messages": [{"content": "x"}]}, 400, "messages[0].role"),
    ({"messages": [{"role": "robot", "content": "x"}]}, 400, "messages[0].role"),
    ({"messages": [{"role": "user", "content": 5}]}, 400, "messages[0].content"),
    ({**MESSAGES, "model": 42}, 400, "model"),
    ({**MESSAGES, "model": None}, 400, "model"),
    ({**MESSAGES, "stream": "yes"}, 400, "stream"),
    ({**MESSAGES, "stream": 1}, 400, "stream"),
    ({**MESSAGES, "n": 0}, 400, "n"),
    ({**MESSAGES, "n": 9}, 400, "n"),
    ({**MESSAGES, "n": True}, 400, "n"),
    ({**MESSAGES, "max_tokens": 0}, 400, "max_tokens"),
    ({**MESSAGES, "max_tokens": 1.5}, 400, "max_tokens"),
    ({**MESSAGES, "stop": [1]}, 400, "stop"),
    ({**MESSAGES, "stream_options": "yes"}, 400, "stream_options"),
    ({**MESSAGES, "stream_options": {"include_usage": 1}}, 400, "stream_options.include_usage"),
    ({**MESSAGES, "tools": {}}, 400, "tools"),
    ({**MESSAGES, "tools": [{}]}, 400, "tools[0].function.name"),
    ({**MESSAGES, "tool_choice": 3}, 400, "tool_choice"),
    ({**MESSAGES, "model": "nope"}, 404, "model"),
]


@pytest.mark.parametrize(("body", "status", "param"), MISTAKES)
def test_client_mistakes_get_json_errors(body: object, status: int, param: str | None) -> None:
    error = assert_json_error(call(body=body), status)
    assert error["param"] == param
    if status == 404:
        assert error["code"] == "model_not_found"


def test_optional_parameters_may_be_null() -> None:
    nulls = dict.fromkeys(("n", "max_tokens", "stop", "stream_options", "tools"))
    assert_clean_sse(call(body={**BODY, **nulls}))


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nowhere", 404),
        ("GET", CHAT, 405),
        ("POST", f"/fault/no-such-fault{CHAT}", 404),
        ("GET", "/variation/no-such-variation/v1/models", 404),
    ],
)
def test_routing_errors_are_json(method: str, path: str, status: int) -> None:
    assert_json_error(call(path, method=method), status)


def test_unknown_names_are_refused_when_creating_the_app() -> None:
    with pytest.raises(ValueError, match="unknown fault 'nope'"):
        create_app(fault="nope")
    with pytest.raises(ValueError, match="unknown variation 'nope'"):
        create_app(variation="nope")


# --- the catalogues ----------------------------------------------------------------------


def test_catalogues_are_well_formed() -> None:
    protocol = [f for f in FAULTS.values() if not f.hostile]  # hostile: tests/test_hostile.py
    assert len(protocol) == 55
    for name, entry in FAULTS.items():
        assert entry.name == name and re.fullmatch(r"[a-z][a-z0-9]*\.[a-z0-9_]+", entry.rule_id)
    assert len({f.rule_id for f in protocol}) == len(protocol)
    assert all(f.hostile for f in FAULTS.values() if f.raw is not None)
    assert not any(f.hostile for f in FAULTS.values() if f.front is not None)
    assert all(v.name == name for name, v in VARIATIONS.items())
    with pytest.raises(dataclasses.FrozenInstanceError):
        FAULTS["empty-id"].name = "x"  # type: ignore[misc]


def test_app_level_fault_and_variation_apply_to_plain_routes() -> None:
    response = call(app=create_app(fault="missing-done", variation="crlf"))
    assert response.content.endswith(b"\r\n\r\n") and b"[DONE]" not in response.content
    assert {c["id"] for c in chunks(response.content)} != {""}
    assert chunks(call(app=create_app(fault="empty-id")).content)[0]["id"] == ""


FaultCheck = Callable[[str], None]
FAULT_CHECKS: dict[str, FaultCheck] = {}


def checks(*names: str) -> Callable[[FaultCheck], FaultCheck]:
    def register(check: FaultCheck) -> FaultCheck:
        FAULT_CHECKS.update(dict.fromkeys(names, check))
        return check

    return register


def each(name: str, key: str) -> list[Any]:
    return [c[key] for c in chunks(fault(name).content)]


def choice_values(name: str, key: str) -> list[Any]:
    return [c["choices"][0][key] for c in chunks(fault(name).content)]


@checks("wrong-status")
def _wrong_status(name: str) -> None:
    assert_json_error(fault(name), 500)
    assert_json_error(fault(name, {}), 400)


@checks("json-content-type")
def _json_content_type(name: str) -> None:
    response = fault(name)
    assert response.headers["content-type"] == "application/json"
    assert response.content.endswith(b"data: [DONE]\n\n")


@checks("invalid-utf8")
def _invalid_utf8(name: str) -> None:
    body = fault(name).content
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    [bad] = [e for e in body.split(b"\n\n") if b"\xff\xfe" in e]
    assert b'"content":"\xff\xfeHell"' in bad
    assert content(chunks(body)) == REPLY.replace("H", "\ufffd\ufffdH", 1)


@checks("non-json-data")
def _non_json_data(name: str) -> None:
    data = events(fault(name).content)
    assert data[2] == "hello world" and data[-1] == "[DONE]"
    assert all(json.loads(d) for d in data[:2] + data[3:-1])


@checks("unterminated-last-event")
def _unterminated(name: str) -> None:
    body = fault(name).content
    assert body.endswith(b"}\n\ndata: [DONE]")
    assert events(body)[-1] != "[DONE]"


@checks("missing-done")
def _missing_done(name: str) -> None:
    body = fault(name).content
    assert b"[DONE]" not in body and body.endswith(b"\n\n")
    assert chunks(body)[-1]["choices"][0]["finish_reason"] == "stop"


@checks("data-after-done")
def _data_after_done(name: str) -> None:
    data = events(fault(name).content)
    assert data[-2] == "[DONE]" and json.loads(data[-1])["object"] == "chat.completion.chunk"


@checks("empty-id", "wrong-object", "created-string", "empty-model")
def _constant_envelope(name: str) -> None:
    key, value = {
        "empty-id": ("id", ""),
        "wrong-object": ("object", "chat.completion"),
        "empty-model": ("model", ""),
        "created-string": ("created", None),
    }[name]
    values = set(each(name, key))
    if value is None:
        [created] = values
        assert isinstance(created, str) and created.isdigit()
    else:
        assert values == {value}


@checks("choices-object")
def _choices_object(name: str) -> None:
    [odd] = [c["choices"] for c in chunks(fault(name).content) if isinstance(c["choices"], dict)]
    assert odd == {"0": {"index": 0, "delta": {"content": "Hell"}, "finish_reason": None}}


@checks("index-string", "index-gap")
def _indexes(name: str) -> None:
    assert set(choice_values(name, "index")) == ({"0"} if name == "index-string" else {1})


@checks("delta-string")
def _delta_string(name: str) -> None:
    assert [d for d in choice_values(name, "delta") if isinstance(d, str)] == ["Hell"]


@checks("content-number")
def _content_number(name: str) -> None:
    contents = [d.get("content") for d in choice_values(name, "delta")]
    assert contents.count(42) == 1 and contents[1] == 42


@checks("role-user")
def _role_user(name: str) -> None:
    roles = [d["role"] for d in choice_values(name, "delta") if "role" in d]
    assert roles == ["user"]


@checks("finish-reason-number", "no-finish-reason")
def _finish_reason(name: str) -> None:
    reasons = choice_values(name, "finish_reason")
    assert reasons[-1] == (1 if name == "finish-reason-number" else None)
    assert set(reasons[:-1]) == {None}


@checks("id-changes")
def _id_changes(name: str) -> None:
    ids = each(name, "id")
    assert ids[0] == ids[1] != ids[2] and len(set(ids[2:])) == 1


@checks("reused-id")
def _reused_id(name: str) -> None:
    assert set(each(name, "id")) == set(each(name, "id")) == {"chatcmpl-fixed"}


@checks("no-choice-delta")
def _no_choice_delta(name: str) -> None:
    response = fault(name)
    assert response.content.endswith(b"data: [DONE]\n\n")
    assert {str(c["choices"]) for c in chunks(response.content)} == {"[]"}


@checks("error-mid-stream")
def _error_mid_stream(name: str) -> None:
    stream = chunks(fault(name).content)
    assert len(stream) == 3
    assert stream[-1]["error"]["message"] == "the model backend failed mid-stream"
    assert "choices" not in stream[-1]


@checks("drop-last-choice")
def _drop_last_choice(name: str) -> None:
    two = chunks(fault(name, {**BODY, "n": 2}).content)
    assert {c["index"] for chunk in two for c in chunk["choices"]} == {0}
    one = chunks(fault(name).content)
    assert {c["index"] for chunk in one for c in chunk["choices"]} == {0}
    assert one[-1]["choices"][0]["finish_reason"] == "stop"


@checks("content-after-finish")
def _content_after_finish(name: str) -> None:
    stream = chunks(fault(name).content)
    assert stream[-2]["choices"][0]["finish_reason"] == "stop"
    assert stream[-1]["choices"][0]["delta"]["content"]
    assert stream[-1]["id"] == stream[0]["id"]


@checks("empty-entry-after-finish")
def _empty_entry_after_finish(name: str) -> None:
    stream = chunks(fault(name).content)
    assert stream[-2]["choices"][0]["finish_reason"] == "stop"
    assert stream[-1]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert stream[-1]["choices"][0]["finish_reason"] is None


@checks("created-drift")
def _created_drift(name: str) -> None:
    created = each(name, "created")
    assert created == [created[0] + i for i in range(len(created))]


@checks("model-drift")
def _model_drift(name: str) -> None:
    models = each(name, "model")
    assert models[:2] == [DEFAULT_MODEL] * 2 and set(models[2:]) == {MODELS[1]}


@checks("created-milliseconds")
def _created_milliseconds(name: str) -> None:
    [created] = set(each(name, "created"))
    assert abs(created - time.time() * 1000) < 60_000


@checks("accept-malformed-json")
def _accept_malformed_json(name: str) -> None:
    assert content(assert_clean_sse(fault(name, b"{not json"))) == REPLY
    assert_json_error(fault(name, {}), 400)


@checks("accept-missing-messages")
def _accept_missing_messages(name: str) -> None:
    assert content(assert_clean_sse(fault(name, {"model": DEFAULT_MODEL}))) == REPLY


@checks("coerce-types")
def _coerce_types(name: str) -> None:
    assert content(assert_clean_sse(fault(name, {"messages": "Hi"}))) == "Hello! You said: Hi."
    assert_clean_sse(fault(name, {**BODY, "model": 42}))
    assert_clean_sse(fault(name, {**BODY, "stream": "yes"}))
    assert_json_error(fault(name, {**BODY, "n": "2"}), 400)


@checks("server-error-on-bad-request")
def _server_error(name: str) -> None:
    for mistake in (b"nope", {}, {**BODY, "model": "nope"}):
        assert_json_error(fault(name, mistake), 500)
    assert_clean_sse(fault(name))


@checks("html-error-body")
def _html_error(name: str) -> None:
    response = fault(name, {})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.startswith("<html>")
    assert_clean_sse(fault(name))


@checks("require-model")
def _require_model(name: str) -> None:
    assert assert_json_error(fault(name, MESSAGES), 400)["message"] == "model is required"
    assert_clean_sse(fault(name))


@checks("require-stream")
def _require_stream(name: str) -> None:
    assert fault(name, {"messages": [HELLO]}).json()["object"] == "chat.completion"
    assert_clean_sse(fault(name))


@checks("accept-invalid-values")
def _accept_invalid_values(name: str) -> None:
    narrator = {"role": "narrator", "content": "Hello!"}
    for body in ({**BODY, "model": ""}, {**BODY, "messages": []}, {**BODY, "messages": [narrator]}):
        assert_clean_sse(fault(name, body))
    assert_json_error(fault(name, {**BODY, "model": 42}), 400)
    assert_json_error(call(body={**BODY, "messages": [narrator]}), 400)


@checks("lenient-utf8")
def _lenient_utf8(name: str) -> None:
    raw = json.dumps(BODY).encode().replace(b"Hello!", b"\xffHello!")
    assert "\ufffdHello!" in content(assert_clean_sse(fault(name, raw)))
    assert_json_error(call(body=raw), 400)


@checks("refuse-non-ascii")
def _refuse_non_ascii(name: str) -> None:
    greek = {**BODY, "messages": [{"role": "user", "content": "Γειά!"}]}
    assert_json_error(fault(name, greek), 400)
    assert_clean_sse(fault(name))
    assert_clean_sse(call(body=greek))


@checks("exact-content-type")
def _exact_content_type(name: str) -> None:
    for media in ("Application/JSON", "application/json; charset=utf-8"):
        assert_json_error(fault(name, headers={"Content-Type": media}), 415)
        assert_clean_sse(call(body=BODY, headers={"Content-Type": media}))
    assert_clean_sse(fault(name))


def test_a_request_with_content_length_and_chunked_is_refused_and_the_connection_closed(
    reference_server: ServerThread,
) -> None:
    """RFC 9112 6.1 (uvicorn would read it by its Transfer-Encoding and keep it open)."""
    import socket

    head = (
        f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", reference_server.port), timeout=5) as sock:
        sock.sendall(head.encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"connection: close" in answer.lower()


def test_a_405_lists_the_allowed_methods() -> None:
    response = call(CHAT, method="GET")
    assert response.status_code == 405 and response.headers["allow"] == "POST"


def test_every_fault_is_checked() -> None:
    live = {"reset-mid-stream", "stall-mid-stream"}  # checked on a socket, below
    live |= {name for name, f in FAULTS.items() if f.hostile}  # tests/test_hostile.py
    live |= {name for name, f in FAULTS.items() if f.front}  # tests/test_probes.py
    assert set(FAULT_CHECKS) | live == set(FAULTS)


@pytest.mark.parametrize("name", sorted(FAULT_CHECKS))
def test_fault_shows_its_deviation(name: str) -> None:
    FAULT_CHECKS[name](name)


# --- variations --------------------------------------------------------------------------

VariationCheck = Callable[[httpx.Response], None]
VARIATION_CHECKS: dict[str, VariationCheck] = {}


def signature(name: str) -> Callable[[VariationCheck], VariationCheck]:
    def register(check: VariationCheck) -> VariationCheck:
        VARIATION_CHECKS[name] = check
        return check

    return register


@signature("crlf")
def _crlf(response: httpx.Response) -> None:
    assert b"}\r\n\r\ndata: " in response.content
    assert re.search(b"\r(?!\n)|(?<!\r)\n", response.content) is None


@signature("cr")
def _cr(response: httpx.Response) -> None:
    assert b"}\r\rdata: " in response.content and b"\n" not in response.content


@signature("no-space")
def _no_space(response: httpx.Response) -> None:
    assert response.content.startswith(b"data:{") and b"data: " not in response.content


@signature("comments")
def _comments(response: httpx.Response) -> None:
    assert response.content.startswith(b": keep-alive\n\n:\n\ndata: {")
    assert b"}\n\n: keep-alive\n\ndata: " in response.content
    assert response.content.endswith(b"}\n\n: keep-alive\n\ndata: [DONE]\n\n")


@signature("bom")
def _bom(response: httpx.Response) -> None:
    assert response.content.startswith(b"\xef\xbb\xbfdata: {")
    assert response.content.count(b"\xef\xbb\xbf") == 1


@signature("keep-alive-first")
def _keep_alive_first(response: httpx.Response) -> None:
    assert response.content.startswith(b": keep-alive\n\ndata: {")
    assert response.content.count(b"\n:") == 0 and response.content.count(b":") > 1


@signature("field-blocks")
def _field_blocks(response: httpx.Response) -> None:
    assert response.content.startswith(b"retry: 3000\n\ndata: {")
    assert b"}\n\nevent: ping\n\ndata: {" in response.content
    assert response.content.endswith(b"event: ping\n\ndata: [DONE]\n\n")


@signature("charset-ascii")
def _charset_ascii(response: httpx.Response) -> None:
    assert response.headers["content-type"] == "text/event-stream; charset=iso-8859-1"
    assert response.content.isascii()


@signature("charset-latin1")
def _charset_latin1(response: httpx.Response) -> None:
    assert response.headers["content-type"] == "text/event-stream; charset=iso-8859-1"
    assert "Héll".encode() in response.content  # UTF-8, whatever the header says


@signature("multiline-data")
def _multiline_data(response: httpx.Response) -> None:
    assert response.content.startswith(b'data: {\ndata:   "id": "chatcmpl-')
    assert all(e.count(b"data: ") > 5 for e in response.content.split(b"\n\n")[:-2])


@signature("fields")
def _fields(response: httpx.Response) -> None:
    assert response.content.startswith(b"retry: 3000\nevent: message\nid: 1\ndata: {")
    assert b"\n\nevent: message\nid: 2\ndata: {" in response.content


@signature("byte-split")
def _byte_split(response: httpx.Response) -> None:
    headers, pieces = asgi_call(f"/variation/byte-split{CHAT}")
    assert headers["content-type"] == "text/event-stream; charset=utf-8"
    assert {len(p) for p in pieces} <= set(range(1, 8))
    assert content(chunks(b"".join(pieces))) == content(chunks(response.content))
    assert any(p.endswith(b"\r") and q.startswith(b"\n") for p, q in itertools.pairwise(pieces))
    assert any(p[-1] >= 0xC0 or q[0] & 0xC0 == 0x80 for p, q in itertools.pairwise(pieces))
    assert content(chunks(response.content)).startswith("Héllo 👋!")
    assert "👋".encode() in response.content


@signature("gzip")
def _gzip(response: httpx.Response) -> None:
    headers, pieces = asgi_call(f"/variation/gzip{CHAT}")
    assert headers["content-encoding"] == "gzip" and pieces[0].startswith(b"\x1f\x8b")
    assert all(p.endswith(b"\x00\x00\xff\xff") for p in pieces[:-1])  # flushed per event
    assert content(chunks(gzip.decompress(b"".join(pieces)))) == REPLY


@signature("extra-fields")
def _extra_fields(response: httpx.Response) -> None:
    for chunk in chunks(response.content):
        assert chunk["system_fingerprint"] and chunk["x_vendor"]
        assert chunk["choices"][0]["x_vendor"] and chunk["choices"][0]["delta"]["x_vendor"]


@signature("empty-deltas")
def _empty_deltas(response: httpx.Response) -> None:
    empties = [c for c in chunks(response.content)[1:-1] if c["choices"][0]["delta"] == {}]
    assert empties and all(c["choices"][0]["finish_reason"] is None for c in empties)


@signature("dated-model")
def _dated_model(response: httpx.Response) -> None:
    models = {c["model"] for c in chunks(response.content)}
    assert models == {f"{DEFAULT_MODEL}-2026-01-15"}


@signature("error-422")
def _error_422(response: httpx.Response) -> None:
    refused = variation("error-422", {"messages": [{"role": "robot"}]})
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/json"
    [detail] = refused.json()["detail"]
    assert detail["loc"] == ["body", "messages", 0, "role"] and detail["msg"]


def test_every_variation_is_checked() -> None:
    assert set(VARIATION_CHECKS) | {"slow"} == set(VARIATIONS)  # slow: on a socket, below


@pytest.mark.parametrize("name", sorted(VARIATION_CHECKS))
def test_variation_shows_its_signature_and_stays_valid(name: str) -> None:
    response = variation(name)
    VARIATION_CHECKS[name](response)
    assert response.status_code == 200
    assert events(response.content)[-1] == "[DONE]"
    stream = chunks(response.content)
    assert len({c["id"] for c in stream}) == 1
    assert content(stream).endswith(" You said: Hello!.")
    assert stream[-1]["choices"][0]["finish_reason"] == "stop"


# --- on a real socket --------------------------------------------------------------------


@pytest.fixture(scope="module")
def live() -> Any:
    with ServerThread() as running:
        yield running


def test_server_thread_starts_and_stops_without_hanging() -> None:
    # A bound against a hang, not a speed measurement (the machine may be loaded).
    for _ in range(3):
        started = time.monotonic()
        with ServerThread() as running:
            assert time.monotonic() - started < 10
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", running.base_url)
            assert httpx.get(f"{running.base_url}/models").status_code == 200
            stopping = time.monotonic()
        assert time.monotonic() - stopping < 10


def test_live_stream_matches_in_process_stream(live: ServerThread) -> None:
    response = httpx.post(f"{live.base_url}/chat/completions", json=BODY)
    assert content(assert_clean_sse(response)) == REPLY
    assert live.url(fault="empty-id") == live.base_url.replace("/v1", "/fault/empty-id/v1")


def test_reset_drops_the_connection_after_two_events(live: ServerThread) -> None:
    received = b""
    url = f"{live.url(fault='reset-mid-stream')}/chat/completions"
    with (
        pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"),
        httpx.stream("POST", url, json=BODY) as response,
    ):
        for piece in response.iter_raw():
            received += piece
    assert len(events(received)) == 2 and received.endswith(b"\n\n")


def test_stall_stops_after_two_events_and_does_not_block_shutdown() -> None:
    with ServerThread() as running, httpx.Client(timeout=0.3) as client:
        url = f"{running.url(fault='stall-mid-stream')}/chat/completions"
        with client.stream("POST", url, json=BODY) as response:
            received = b""
            with pytest.raises(httpx.ReadTimeout):
                for piece in response.iter_raw():
                    received += piece
            assert len(events(received)) == 2
            stopping = time.monotonic()
            running.stop()
            assert time.monotonic() - stopping < 1.0


def test_slow_variation_spaces_events(live: ServerThread) -> None:
    url = f"{live.url(variation='slow')}/chat/completions"
    arrivals, received = [], b""
    with httpx.stream("POST", url, json=BODY) as response:
        for piece in response.iter_raw():
            received += piece
            arrivals.append(time.monotonic())
            if len(events(received)) >= 3:
                break
    assert arrivals[-1] - arrivals[0] >= 0.5


def test_gzip_events_can_be_decoded_as_they_arrive(live: ServerThread) -> None:
    url = f"{live.url(variation='gzip')}/chat/completions"
    with httpx.stream("POST", url, json=BODY) as response:
        assert response.headers["content-encoding"] == "gzip"
        first = next(response.iter_raw())
    assert zlib.decompressobj(wbits=31).decompress(first).endswith(b"\n\n")


def test_serve_prints_the_base_url_and_stops_on_interrupt() -> None:
    root = Path(__file__).resolve().parents[2]
    code = "from conformance.server import serve; serve(port=0)"
    env = {**os.environ, "PYTHONPATH": str(root)}
    with subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    ) as process:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", url)
        assert httpx.get(f"{url}/models").status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 0
