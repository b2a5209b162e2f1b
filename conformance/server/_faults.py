"""The catalogue of faults: each breaks exactly one rule of the suite, named by its id.

Hostile faults (`Fault.hostile`) attack the client instead: they stall, flood, inflate or
break HTTP itself, and the suite must end each in a clean failure naming the limit or the
transport rule hit. Those that HTTP frameworks cannot produce carry a `raw` answer and are
served by the raw `HostileServer` (`_hostile.py`, `_raw.py`).
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import HTMLResponse, Response

from . import _attacks, _raw
from ._behaviour import Behaviour, BodyHook, each_choice, rewrite
from ._front import Quirks
from ._reply import Chunk, new_completion_id
from ._request import DEFAULT_MODEL, MODELS, ROLES, ChatRequest, RequestError, decode_json
from ._wire import DONE, openai_error

HELLO = {"role": "user", "content": "Hello!"}
STALL_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class Fault:
    """A named deliberate deviation that the rule `rule_id` must catch.

    `hostile`: it attacks the client (see the module docstring); `raw`: the bytes are
    written by the raw hostile server, not by the app (implies `hostile`); `front`: the app
    is served by the raw server's own HTTP/1.1 front (`_front.py`), which departs from the
    RFCs in the ways these quirks say.
    """

    name: str
    rule_id: str
    description: str
    behaviour: Behaviour = field(default=Behaviour(), repr=False, compare=False)
    hostile: bool = False
    raw: _raw.RawAnswer | None = field(default=None, repr=False, compare=False)
    front: Quirks | None = field(default=None, repr=False, compare=False)

    @property
    def served_raw(self) -> bool:
        """Whether the raw server (not uvicorn) serves this fault."""
        return self.raw is not None or self.front is not None


class DeliberateReset(RuntimeError):
    """Raised inside the body so that the server drops the connection mid-response."""


# --- request stage -------------------------------------------------------------------


def _lenient_decode(raw: bytes) -> object:
    try:
        return decode_json(raw)
    except RequestError:
        return {"messages": [HELLO]}


def _default_messages(body: object) -> object:
    if isinstance(body, dict) and "messages" not in body:
        return {**body, "messages": [HELLO]}
    return body


def _coerce(body: object) -> object:
    if not isinstance(body, dict):
        return body
    fixed = dict(body)
    if fixed.get("messages") is not None and not isinstance(fixed["messages"], list):
        fixed["messages"] = [{"role": "user", "content": str(fixed["messages"])}]
    if "model" in fixed and not isinstance(fixed["model"], str):
        fixed["model"] = DEFAULT_MODEL
    if "stream" in fixed and not isinstance(fixed["stream"], bool):
        fixed["stream"] = bool(fixed["stream"])
    return fixed


def _accept_invalid_values(body: object) -> object:
    """Values of the right type but outside what is documented are made up for."""
    if not isinstance(body, dict):
        return body
    fixed = dict(body)
    if fixed.get("model") == "":
        fixed["model"] = DEFAULT_MODEL
    messages = fixed.get("messages")
    if messages == []:
        fixed["messages"] = [HELLO]
    elif isinstance(messages, list):
        fixed["messages"] = [_known_role(m) for m in messages]
    for key in ("n", "max_tokens"):
        if isinstance(fixed.get(key), int) and not isinstance(fixed[key], bool) and fixed[key] < 1:
            fixed[key] = 1
    return fixed


def _known_role(message: object) -> object:
    role = message.get("role", "") if isinstance(message, dict) else None
    if isinstance(message, dict) and isinstance(role, str) and role not in ROLES:
        return {**message, "role": "user"}
    return message


def _lenient_utf8(raw: bytes) -> object:
    return decode_json(raw.decode("utf-8", "replace").encode())


def _refuse_non_ascii(request: ChatRequest) -> None:
    for message in request.messages:
        if isinstance(message.get("content"), str) and not message["content"].isascii():
            raise RequestError("Only ASCII text is supported.", param="messages")


def _exact_content_type(headers: Mapping[str, str]) -> None:
    if headers.get("content-type") != "application/json":
        message = "Content-Type must be exactly application/json."
        raise RequestError(message, code="unsupported_media_type", status=415)


def _require_model(body: object) -> object:
    if isinstance(body, dict) and "model" not in body:
        raise RequestError("model is required", param="model", code="missing_required_parameter")
    return body


def _no_default_stream(body: object) -> object:
    if isinstance(body, dict) and "stream" not in body:
        return {**body, "stream": False}
    return body


def _refuse_streams(request: ChatRequest) -> None:
    if request.stream:
        message = "The server had an error while processing your request."
        raise RequestError(message, code="server_error", status=500)


def _server_error(error: RequestError) -> Response:
    return openai_error(RequestError(error.message, code="server_error", status=500))


def _html_error(error: RequestError) -> Response:
    page = f"<html><body><h1>Bad Request</h1><p>{html.escape(error.message)}</p></body></html>"
    return HTMLResponse(page, error.status)


# --- chunk stage ---------------------------------------------------------------------


def _delta(edit: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
    return lambda choice: {**choice, "delta": edit(choice["delta"])}


def _keyed(key: str, make: Callable[[Any], Any]) -> Callable[[dict[str, Any]], Any]:
    return lambda item: {**item, key: make(item[key])}


def _id_changes(chunks: list[Chunk]) -> list[Chunk]:
    other = new_completion_id()
    return rewrite("id", lambda _, __: other, start=2)(chunks)


def _other_model(model: str) -> str:
    return MODELS[1] if model == MODELS[0] else MODELS[0]


def _content_after_finish(chunks: list[Chunk]) -> list[Chunk]:
    end = next(i for i, c in enumerate(chunks) if any(ch["finish_reason"] for ch in c["choices"]))
    index = chunks[end]["choices"][0]["index"]
    late = {"index": index, "delta": {"content": " Again."}, "finish_reason": None}
    return [*chunks[: end + 1], {**chunks[end], "choices": [late]}, *chunks[end + 1 :]]


def _empty_after_finish(chunks: list[Chunk]) -> list[Chunk]:
    end = next(i for i, c in enumerate(chunks) if any(ch["finish_reason"] for ch in c["choices"]))
    index = chunks[end]["choices"][0]["index"]
    empty = {"index": index, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
    return [*chunks[: end + 1], {**chunks[end], "choices": [empty]}, *chunks[end + 1 :]]


def _error_mid_stream(chunks: list[Chunk]) -> list[Chunk]:
    """After two chunks the completion fails: an error payload ends the stream."""
    failure = {
        "error": {
            "message": "the model backend failed mid-stream",
            "type": "server_error",
            "code": "backend_failed",
        }
    }
    return [*chunks[:2], failure]


def _drop_last_choice(chunks: list[Chunk]) -> list[Chunk]:
    """With n >= 2, every chunk of the highest choice index is left out."""
    indexes = {c["index"] for chunk in chunks for c in chunk["choices"]}
    if len(indexes) < 2:
        return chunks
    last = max(indexes)
    return [
        chunk
        for chunk in chunks
        if not chunk["choices"] or any(c["index"] != last for c in chunk["choices"])
    ]


def _function_not_object(chunks: list[Chunk]) -> list[Chunk]:
    call = {"index": 0, "id": "call_0", "type": "function", "function": 5}
    second = {
        **chunks[1],
        "choices": [{**chunks[1]["choices"][0], "delta": {"tool_calls": [call]}}],
    }
    return [chunks[0], second, *chunks[2:]]


# --- payload, event and body stages ----------------------------------------------------


def _invalid_utf8(payloads: list[bytes]) -> list[bytes]:
    """Put the bytes FF FE at the start of the first content (or arguments) string."""
    for i, payload in enumerate(payloads[1:], start=1):
        for key in (b'"content":"', b'"arguments":"'):
            if key in payload:
                return [
                    *payloads[:i],
                    payload.replace(key, key + b"\xff\xfe", 1),
                    *payloads[i + 1 :],
                ]
    return payloads


def _after_two_events(action: Callable[[], Awaitable[None]]) -> BodyHook:
    async def hook(body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        sent = 0
        async for event in body:
            yield event
            sent += 1
            if sent == 2:
                await action()

    return hook


async def _drop() -> None:
    raise DeliberateReset("fault reset-mid-stream: dropping the connection after two events")


async def _stall() -> None:
    await asyncio.sleep(STALL_SECONDS)


# --- the catalogue ---------------------------------------------------------------------

_B = Behaviour
_HOSTILE = (
    Fault(
        "stall-after-headers",
        "transport.within_limits",
        "The response head (200, text/event-stream) is sent, then nothing for an hour.",
        _B(body=(_attacks.stall_first,)),
        hostile=True,
    ),
    Fault(
        "endless-stream",
        "transport.within_limits",
        "Content chunks forever, written as fast as loopback takes them; no finish, no [DONE].",
        _B(body=(_attacks.endless,)),
        hostile=True,
    ),
    Fault(
        "huge-line",
        "transport.within_limits",
        "`data: ` then a 100 MiB line with no line break.",
        _B(body=(_attacks.huge_line,)),
        hostile=True,
    ),
    Fault(
        "gzip-bomb",
        "transport.within_limits",
        "Content-Encoding: gzip; ~17 MiB on the wire inflate to 4 GiB of chunk events.",
        _B(body=(_attacks.gzip_bomb,), headers=(("Content-Encoding", "gzip"),)),
        hostile=True,
    ),
    Fault(
        "slow-drip",
        "transport.within_limits",
        "The normal stream, one byte per second: never idle, never done.",
        _B(body=(_attacks.drip,)),
        hostile=True,
    ),
    Fault(
        "empty-body",
        "sse.done_present",
        "200 text/event-stream with an empty body.",
        _B(events=(lambda _: [],)),
        hostile=True,
    ),
    Fault(
        "garbage-status-line",
        "transport.complete",
        "The answer is not HTTP: a line of text and binary bytes, then close.",
        hostile=True,
        raw=_raw.garbage_status_line,
    ),
    Fault(
        "oversized-headers",
        "transport.within_limits",
        "A 200 status line, then more than 1 MiB of header lines.",
        hostile=True,
        raw=_raw.oversized_headers,
    ),
    Fault(
        "close-without-last-chunk",
        "transport.complete",
        "Chunked SSE: three events, then the connection is closed without the zero-length "
        "last chunk.",
        hostile=True,
        raw=_raw.close_without_last_chunk,
    ),
    Fault(
        "reset-mid-event",
        "transport.complete",
        "Two events and half of a third, then a TCP reset (RST).",
        hostile=True,
        raw=_raw.reset_mid_event,
    ),
    Fault(
        "slow-head",
        "transport.within_limits",
        "A status line, then a header line every 0.25 s for ever: the head never ends and the "
        "connection is never idle.",
        hostile=True,
        raw=_raw.slow_head,
    ),
    Fault(
        "interim-flood",
        "transport.within_limits",
        "Interim answers (100 Continue, 102 Processing) without end, never a final response.",
        hostile=True,
        raw=_raw.interim_flood,
    ),
    Fault(
        "long-event",
        "transport.within_limits",
        "After the opening event, one event of `data: {},` lines without end (no blank line).",
        _B(body=(_attacks.long_event,)),
        hostile=True,
    ),
    Fault(
        "tool-call-flood",
        "openai.tool_call_deltas",
        "The opening chunk lists 15,000 tool calls without an index (~214 KB in one event).",
        _B(payloads=(_attacks.tool_call_flood,)),
        hostile=True,
    ),
    Fault(
        "deep-json",
        "transport.within_limits",
        "The second chunk's delta carries a field nested 100,000 levels deep (valid JSON).",
        _B(payloads=(_attacks.deep_json,)),
        hostile=True,
    ),
    Fault(
        "huge-choice-index",
        "stream.choice_indexes",
        "Every choice index is 2**63.",
        _B(chunks=(each_choice(_keyed("index", lambda _: 2**63)),)),
        hostile=True,
    ),
    Fault(
        "function-not-object",
        "openai.tool_call_deltas",
        "The second chunk starts a tool call whose `function` is the number 5.",
        _B(chunks=(_function_not_object,)),
        hostile=True,
    ),
    Fault(
        "hostile-strings",
        "delta.role",
        "Lone surrogates and control characters as JSON escapes in the role, id and content, "
        "and an event of raw control bytes.",
        _B(payloads=(_attacks.hostile_strings,)),
        hostile=True,
    ),
    Fault(
        "redirect-elsewhere",
        "http.status_ok",
        "307 Temporary Redirect to the same path on another loopback host, which records "
        "the headers it receives.",
        hostile=True,
        raw=_raw.redirect_elsewhere,
    ),
)
_FRONT = (
    Fault(
        "drop-client-errors",
        "request.connection_dropped",
        "Every request the app would answer with a 4xx gets no answer: the connection is "
        "closed (the held-out server's way with a `role` that is a list).",
        front=Quirks(drop_client_errors=True),
    ),
    Fault(
        "no-allow-header",
        "http.allow_header",
        "405 answers carry no Allow header.",
        front=Quirks(drop_allow=True),
    ),
    Fault(
        "not-found-for-methods",
        "http.method_not_allowed",
        "A method the endpoint does not support gets 404 instead of 405.",
        front=Quirks(not_found_for_methods=True),
    ),
    Fault(
        "body-for-head",
        "http.head_no_body",
        "The answer to HEAD carries the body a GET would get.",
        front=Quirks(body_for_head=True),
    ),
    Fault(
        "no-100-continue",
        "http.expect_continue",
        "Expect: 100-continue never gets a 100 (Continue): the server waits for the content.",
        front=Quirks(no_continue=True),
    ),
    Fault(
        "content-length-wins",
        "http1.content_length_and_chunked",
        "With both Content-Length and Transfer-Encoding: chunked, Content-Length frames the "
        "body and the connection is kept.",
        front=Quirks(content_length_wins=True),
    ),
    Fault(
        "lenient-content-length",
        "http1.invalid_content_length",
        "An invalid Content-Length is read as its leading digits (0 if none), and the "
        "connection kept.",
        front=Quirks(lenient_content_length=True),
    ),
    Fault(
        "any-coding-is-chunked",
        "http1.unknown_transfer_coding",
        "A transfer coding it does not know is read as chunked, and the request served.",
        front=Quirks(any_coding_is_chunked=True),
    ),
    Fault(
        "space-before-colon",
        "http1.space_before_colon",
        "Whitespace between a header name and its colon is dropped and the request served.",
        front=Quirks(space_before_colon=True),
    ),
    Fault(
        "host-optional",
        "http1.host_required",
        "HTTP/1.1 requests without Host are served.",
        front=Quirks(host_optional=True),
    ),
    Fault(
        "ignore-connection-close",
        "http1.connection_close",
        "Connection: close is ignored: the connection stays open for more requests.",
        front=Quirks(ignore_close=True),
    ),
    Fault(
        "chunked-for-http10",
        "http1.http10_no_chunked",
        "HTTP/1.0 requests get chunked answers.",
        front=Quirks(chunked_for_http10=True),
    ),
    Fault(
        "unread-body-as-request",
        "http1.unread_body",
        "After answering a request without reading its body, the body is read as the next request.",
        front=Quirks(keep_unread_body=True),
    ),
)
_CATALOGUE = (
    Fault(
        "wrong-status",
        "http.status_ok",
        "A valid streaming request is answered 500 with a JSON error body.",
        _B(admit=(_refuse_streams,)),
    ),
    Fault(
        "json-content-type",
        "http.content_type",
        "The SSE stream is sent with Content-Type application/json.",
        _B(media_type="application/json"),
    ),
    Fault(
        "invalid-utf8",
        "sse.utf8",
        "One content event carries the raw bytes FF FE inside a JSON string.",
        _B(payloads=(_invalid_utf8,)),
    ),
    Fault(
        "non-json-data",
        "sse.data_json",
        "An extra event `data: hello world` is sent mid-stream.",
        _B(payloads=(lambda ps: [*ps[:2], b"hello world", *ps[2:]],)),
    ),
    Fault(
        "unterminated-last-event",
        "sse.event_terminated",
        "The body ends with `data: [DONE]` and no blank line.",
        _B(events=(lambda es: [*es[:-1], es[-1].rstrip(b"\n")],)),
    ),
    Fault(
        "missing-done",
        "sse.done_present",
        "No `data: [DONE]` event: the stream ends after the finish chunk.",
        _B(payloads=(lambda ps: [p for p in ps if p != DONE],)),
    ),
    Fault(
        "data-after-done",
        "sse.nothing_after_done",
        "One more chunk event follows `data: [DONE]`.",
        _B(payloads=(lambda ps: [*ps, ps[-2]],)),
    ),
    Fault(
        "empty-id",
        "chunk.id",
        'Every chunk has the id "".',
        _B(chunks=(rewrite("id", lambda _, __: ""),)),
    ),
    Fault(
        "wrong-object",
        "chunk.object",
        'Every chunk has object "chat.completion".',
        _B(chunks=(rewrite("object", lambda _, __: "chat.completion"),)),
    ),
    Fault(
        "created-string",
        "chunk.created",
        "created is sent as a string of digits.",
        _B(chunks=(rewrite("created", lambda value, _: str(value)),)),
    ),
    Fault(
        "empty-model",
        "chunk.model",
        'Every chunk has the model "".',
        _B(chunks=(rewrite("model", lambda _, __: ""),)),
    ),
    Fault(
        "choices-object",
        "chunk.choices",
        "The second chunk's choices is an object keyed by index, not an array.",
        _B(chunks=(rewrite("choices", lambda cs, _: {str(c["index"]): c for c in cs}, 1, 2),)),
    ),
    Fault(
        "index-string",
        "choice.index",
        'Every choice index is a string ("0").',
        _B(chunks=(each_choice(_keyed("index", str)),)),
    ),
    Fault(
        "delta-string",
        "choice.delta",
        "The second chunk's delta is a string.",
        _B(chunks=(each_choice(_delta(lambda d: str(d.get("content") or "Hello")), 1, 2),)),
    ),
    Fault(
        "content-number",
        "delta.content",
        "The second chunk's content is the number 42.",
        _B(chunks=(each_choice(_delta(lambda d: {**d, "content": 42}), 1, 2),)),
    ),
    Fault(
        "role-user",
        "delta.role",
        'The opening delta has role "user".',
        _B(chunks=(each_choice(_delta(lambda d: {**d, "role": "user"} if "role" in d else d)),)),
    ),
    Fault(
        "finish-reason-number",
        "choice.finish_reason",
        "The final chunk's finish_reason is the number 1.",
        _B(chunks=(each_choice(_keyed("finish_reason", lambda f: 1 if f else f)),)),
    ),
    Fault(
        "id-changes",
        "stream.id_consistent",
        "The id changes from the third chunk on.",
        _B(chunks=(_id_changes,)),
    ),
    Fault(
        "reused-id",
        "stream.id_unique",
        "Every completion has the same id, chatcmpl-fixed.",
        _B(chunks=(rewrite("id", lambda _, __: "chatcmpl-fixed"),)),
    ),
    Fault(
        "no-choice-delta",
        "stream.has_delta",
        "Every chunk has `choices: []`.",
        _B(chunks=(rewrite("choices", lambda _, __: []),)),
    ),
    Fault(
        "index-gap",
        "stream.choice_indexes",
        "Choice indexes start at 1: a single-choice reply is sent with index 1.",
        _B(chunks=(each_choice(_keyed("index", lambda i: i + 1)),)),
    ),
    Fault(
        "error-mid-stream",
        "stream.error_event",
        'After two chunks an error payload ({"error": {...}}) ends the completion.',
        _B(chunks=(_error_mid_stream,)),
    ),
    Fault(
        "drop-last-choice",
        "stream.choices_complete",
        "With n >= 2, the chunks of the last choice are never sent.",
        _B(chunks=(_drop_last_choice,)),
    ),
    Fault(
        "content-after-finish",
        "stream.after_finish",
        "One content chunk follows the chunk carrying finish_reason.",
        _B(chunks=(_content_after_finish,)),
    ),
    Fault(
        "empty-entry-after-finish",
        "stream.empty_after_finish",
        "One more chunk follows the finish chunk, its choice entry carrying nothing "
        '(`{"role": "assistant", "content": ""}`).',
        _B(chunks=(_empty_after_finish,)),
    ),
    Fault(
        "created-drift",
        "stream.created_consistent",
        "created grows by 1 on each chunk.",
        _B(chunks=(rewrite("created", lambda value, i: value + i),)),
    ),
    Fault(
        "model-drift",
        "stream.model_consistent",
        "The model changes to another name from the third chunk on.",
        _B(chunks=(rewrite("model", lambda model, _: _other_model(model), start=2),)),
    ),
    Fault(
        "no-finish-reason",
        "stream.finish_reason_present",
        "finish_reason is null on every chunk.",
        _B(chunks=(each_choice(_keyed("finish_reason", lambda _: None)),)),
    ),
    Fault(
        "created-milliseconds",
        "stream.created_recent",
        "created is a Unix time in milliseconds.",
        _B(chunks=(rewrite("created", lambda value, _: value * 1000),)),
    ),
    Fault(
        "accept-malformed-json",
        "request.malformed_json",
        "A body that is not JSON gets a normal stream, as if it asked `Hello!`.",
        _B(decode=_lenient_decode),
    ),
    Fault(
        "accept-missing-messages",
        "request.missing_messages",
        "A request without messages gets a normal stream, as if it asked `Hello!`.",
        _B(prepare=(_default_messages,)),
    ),
    Fault(
        "coerce-types",
        "request.invalid_types",
        "Non-array messages, a non-string model or a non-boolean stream are coerced "
        "(one user message, the default model, bool(stream)) and answered 200.",
        _B(prepare=(_coerce,)),
    ),
    Fault(
        "server-error-on-bad-request",
        "request.no_5xx",
        "Every invalid request is answered 500 with a JSON error.",
        _B(render_error=_server_error),
    ),
    Fault(
        "html-error-body",
        "error.json_body",
        "Invalid requests are answered with an HTML page (Content-Type text/html).",
        _B(render_error=_html_error),
    ),
    Fault(
        "accept-invalid-values",
        "request.invalid_values",
        "An empty model, an empty messages list, an unknown or missing role and a zero n or "
        "max_tokens are made up for (default model, `Hello!`, role user, 1) and answered 200.",
        _B(prepare=(_accept_invalid_values,)),
    ),
    Fault(
        "lenient-utf8",
        "request.invalid_utf8",
        "A body that is not UTF-8 is decoded with replacement characters and answered 200.",
        _B(decode=_lenient_utf8),
    ),
    Fault(
        "refuse-non-ascii",
        "request.valid_accepted",
        'A message whose text is not ASCII gets 400 "Only ASCII text is supported."',
        _B(admit=(_refuse_non_ascii,)),
    ),
    Fault(
        "exact-content-type",
        "request.client_forms",
        "Any Content-Type but exactly `application/json` (another case, a charset "
        "parameter) gets 415.",
        _B(inspect=(_exact_content_type,)),
    ),
    Fault(
        "require-model",
        "request.default_model",
        'A request without `model` gets 400 "model is required".',
        _B(prepare=(_require_model,)),
    ),
    Fault(
        "require-stream",
        "request.default_stream",
        "A request without `stream` gets a non-streaming chat.completion JSON.",
        _B(prepare=(_no_default_stream,)),
    ),
    Fault(
        "reset-mid-stream",
        "transport.complete",
        "After two events the connection is dropped (no terminating chunk).",
        _B(body=(_after_two_events(_drop),)),
    ),
    Fault(
        "stall-mid-stream",
        "transport.within_limits",
        "After two events the server sends nothing more for an hour.",
        _B(body=(_after_two_events(_stall),)),
    ),
    *_HOSTILE,
    *_FRONT,
)

FAULTS: dict[str, Fault] = {fault.name: fault for fault in _CATALOGUE}
"""Every fault by name."""
