"""Rules on the answers to requests: rejected client mistakes and accepted valid variations."""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from conformance._model import Answer, Exchange, Level, Mistake
from conformance._registry import RFC9110, SEED, Problem, acceptance_rule, rejection_rule
from conformance.rules.http import content_type, status_ok

RFC8259 = "RFC 8259, JSON"
BODY_MISTAKES = frozenset(Mistake) - {Mistake.WRONG_METHOD}
"""Mistakes in what the endpoint's handler reads (the body and its media type): the API
answers them itself, with its JSON error bodies."""


def rejected(answer: Answer) -> Iterator[Problem]:
    """The answer to a client mistake is a 4xx (no answer at all is the transport's to judge)."""
    status = answer.exchange.status
    if status is not None and not 400 <= status < 500:
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
        "model: string; messages: array<Message>; stream: boolean (the documented types; "
        "a message is an object with a string role, and the profile's optional fields have "
        "their documented types, per schemas/request.json). Some servers coerce types, so "
        "this is a SHOULD.",
    ),
    (
        "request.invalid_values",
        Level.SHOULD,
        Mistake.INVALID_VALUE,
        "A request with a forbidden value is rejected with a 4xx",
        "model: ID of the model to use; messages: A list of messages comprising the "
        "conversation so far (schemas/request.json: a non-empty model, at least one message, "
        "each with a role among the documented ones, and the minimums the profile documents). "
        "The doc states no value constraints, so this is a SHOULD.",
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

rejection_rule(
    "request.invalid_utf8",
    mistakes={Mistake.INVALID_UTF8},
    level=Level.SHOULD,
    title="A body that is not UTF-8 is rejected with a 4xx",
    source=f"{RFC8259} 8.1, 9; {RFC9110} 15.5",
    sentence=(
        "8.1: JSON text exchanged between systems that are not part of a closed ecosystem "
        "MUST be encoded using UTF-8. 9: A JSON parser MAY accept non-JSON forms or "
        "extensions, so rejecting such a body is a SHOULD."
    ),
)(rejected)


@rejection_rule(
    "request.no_5xx",
    level=Level.MUST,
    title="A client mistake is never answered with a 5xx",
    source=RFC9110,
    sentence=(
        "15.6: The 5xx (Server Error) class of status code indicates that the server is aware "
        "that it has erred; 15.5: the 4xx class indicates that the client seems to have erred. "
        "(9.1: a method the server does not implement SHOULD get 501 Not Implemented, "
        "which is therefore no error.)"
    ),
)
def no_5xx(answer: Answer) -> Iterator[Problem]:
    status = answer.exchange.status
    if status == 501 and answer.mistake is Mistake.WRONG_METHOD:
        return
    if status is not None and status >= 500:
        yield Problem(
            "a client mistake was answered as a server error",
            expected="a 4xx status",
            received=str(status),
        )


@rejection_rule(
    "error.json_body",
    mistakes=BODY_MISTAKES,
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

acceptance_rule(
    "request.valid_accepted",
    level=Level.MUST,
    title="A valid request in the breadth of the documented shape is accepted",
    source=SEED,
    sentence=(
        "Request Body: model string, messages array<Message>, stream boolean. Any "
        "conversation of the documented roles, with any text (long, any Unicode) and, where "
        "the profile documents them, content parts, is a valid request: a 4xx refuses it."
    ),
)(accepted)

acceptance_rule(
    "request.client_forms",
    level=Level.MUST,
    title="A valid request is accepted in the forms real clients send it",
    source=f"{SEED}; {RFC9110} 8.3.1, 12.5.1; {RFC8259} 2",
    sentence=(
        "The doc's curl example sends its body pretty-printed (RFC 8259 2: insignificant "
        "whitespace is allowed before or after any of the six structural characters); "
        "RFC 9110 8.3.1: the type and subtype tokens are case-insensitive, and parameters may "
        "follow; 12.5.1: a request without any Accept header field implies that the user "
        "agent will accept any media type in response (curl sends Accept: */*)."
    ),
)(accepted)
