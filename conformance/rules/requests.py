"""Rules on the answers to requests: rejected client mistakes and accepted documented defaults."""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from conformance._model import Answer, Exchange, Level, Mistake
from conformance._registry import RFC9110, SEED, Problem, acceptance_rule, rejection_rule
from conformance.rules.http import content_type, status_ok


def rejected(answer: Answer) -> Iterator[Problem]:
    """The answer to a client mistake is a 4xx."""
    status = answer.exchange.status
    if status is None or not 400 <= status < 500:
        yield Problem(
            "the server accepted a request it should have rejected",
            expected="a 4xx status",
            received=str(status),
        )


for _rule_id, _level, _mistake, _title, _sentence in (
    (
        "request.malformed_json",
        Level.MUST,
        Mistake.NOT_JSON,
        "A body that is not JSON is rejected with a 4xx",
        "Request Body (a JSON object); RFC 9110 15.5.1: 400 (Bad Request) when the server "
        "cannot process the request due to a client error (e.g., malformed request syntax).",
    ),
    (
        "request.missing_messages",
        Level.MUST,
        Mistake.MISSING_MESSAGES,
        "A request without messages is rejected with a 4xx",
        "messages: array<Message>, Required. A list of messages comprising the conversation "
        "so far.",
    ),
    (
        "request.invalid_types",
        Level.SHOULD,
        Mistake.WRONG_TYPE,
        "A request with a wrongly typed field is rejected with a 4xx",
        "model: string; messages: array<Message>; stream: boolean (the documented types). "
        "Some servers coerce types, so this is a SHOULD.",
    ),
):
    rejection_rule(
        _rule_id,
        mistakes={_mistake},
        level=_level,
        title=_title,
        source=f"{SEED}; {RFC9110} 15.5",
        sentence=_sentence,
    )(rejected)


@rejection_rule(
    "request.no_5xx",
    level=Level.MUST,
    title="A client mistake is never answered with a 5xx",
    source=RFC9110,
    sentence=(
        "15.6: The 5xx (Server Error) class of status code indicates that the server is aware "
        "that it has erred; 15.5: the 4xx class indicates that the client seems to have erred."
    ),
)
def no_5xx(answer: Answer) -> Iterator[Problem]:
    status = answer.exchange.status
    if status is not None and status >= 500:
        yield Problem(
            "a client mistake was answered as a server error",
            expected="a 4xx status",
            received=str(status),
        )


@rejection_rule(
    "error.json_body",
    level=Level.MUST,
    title="An error answer carries a JSON body",
    source=f"{SEED}; {RFC9110} 15.5",
    sentence=(
        "Except when responding to a HEAD request, the server SHOULD send a representation "
        "containing an explanation of the error situation. (The API's bodies are JSON.)"
    ),
)
def json_body(answer: Answer) -> Iterator[Problem]:
    exchange, body = answer.exchange, answer.body
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


def accepted(exchange: Exchange) -> Iterator[Problem]:
    """A valid request is answered with a stream: 200 and text/event-stream."""
    yield from status_ok(exchange)
    yield from content_type(exchange)


for _rule_id, _title, _sentence in (
    (
        "request.default_model",
        "model may be omitted (documented default)",
        "model: string, Required, Default Value: alphaedge-large-3-2512",
    ),
    (
        "request.default_stream",
        "stream may be omitted (documented default true)",
        "stream: boolean, Required, Default Value: true",
    ),
):
    acceptance_rule(_rule_id, level=Level.SHOULD, title=_title, source=SEED, sentence=_sentence)(
        accepted
    )
