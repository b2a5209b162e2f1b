"""Rules on the answers to requests: documented defaults and rejected client mistakes."""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from conformance._model import Exchange, Level
from conformance._registry import RFC9110, SEED, Problem, declare, rule


def _rejected(exchange: Exchange, body: bytes) -> Iterator[Problem]:
    if exchange.status is None or not 400 <= exchange.status < 500:
        yield Problem(
            "the server accepted a request it should have rejected",
            expected="a 4xx status",
            received=str(exchange.status),
        )


def _register_rejection(rule_id: str, level: Level, title: str, sentence: str) -> None:
    rule(
        rule_id,
        level=level,
        title=title,
        source=f"{SEED}; {RFC9110} 15.5",
        sentence=sentence,
        scope="rejection",
    )(_rejected)


_register_rejection(
    "request.malformed_json",
    Level.MUST,
    "A body that is not JSON is rejected with a 4xx",
    "Request Body (a JSON object); RFC 9110 15.5.1: 400 (Bad Request) when the server "
    "cannot process the request due to a client error (e.g., malformed request syntax).",
)
_register_rejection(
    "request.missing_messages",
    Level.MUST,
    "A request without messages is rejected with a 4xx",
    "messages: array<Message>, Required. A list of messages comprising the conversation so far.",
)
_register_rejection(
    "request.invalid_types",
    Level.SHOULD,
    "A request with a wrongly typed field is rejected with a 4xx",
    "model: string; messages: array<Message>; stream: boolean (the documented types). "
    "Some servers coerce types, so this is a SHOULD.",
)


@rule(
    "request.no_5xx",
    level=Level.MUST,
    title="A client mistake is never answered with a 5xx",
    source=RFC9110,
    sentence=(
        "15.6: The 5xx (Server Error) class of status code indicates that the server is aware "
        "that it has erred; 15.5: the 4xx class indicates that the client seems to have erred."
    ),
    scope="rejection",
)
def no_5xx(exchange: Exchange, body: bytes) -> Iterator[Problem]:
    if exchange.status is not None and exchange.status >= 500:
        yield Problem(
            "a client mistake was answered as a server error",
            expected="a 4xx status",
            received=str(exchange.status),
        )


@rule(
    "error.json_body",
    level=Level.MUST,
    title="An error answer carries a JSON body",
    source=f"{SEED}; {RFC9110} 15.5",
    sentence=(
        "Except when responding to a HEAD request, the server SHOULD send a representation "
        "containing an explanation of the error situation. (The API's bodies are JSON.)"
    ),
    scope="rejection",
)
def json_body(exchange: Exchange, body: bytes) -> Iterator[Problem]:
    if exchange.status is None or exchange.status < 400:
        return
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        yield Problem(
            f"the {exchange.status} answer's body is not JSON",
            expected="a JSON error body",
            received=f"{exchange.header('content-type')}: {body[:120]!r}",
        )


declare(
    "request.default_model",
    level=Level.SHOULD,
    title="model may be omitted (documented default)",
    source=SEED,
    sentence="model: string, Required, Default Value: alphaedge-large-3-2512",
    scope="case",
)
declare(
    "request.default_stream",
    level=Level.SHOULD,
    title="stream may be omitted (documented default true)",
    source=SEED,
    sentence="stream: boolean, Required, Default Value: true",
    scope="case",
)
