"""Rules on the HTTP status and headers of a streamed response."""

from __future__ import annotations

from collections.abc import Iterator

from conformance._model import Exchange, Level
from conformance._registry import RFC9110, SEED, WHATWG, Problem, response_rule

EVENT_STREAM = "text/event-stream"


@response_rule(
    "http.status_ok",
    level=Level.MUST,
    title="A valid streaming request is answered 200 OK",
    source=SEED,
    sentence="Set stream=true to receive responses as they are generated.",
)
def status_ok(exchange: Exchange) -> Iterator[Problem]:
    if exchange.status is None:  # a recorded head whose status line is not HTTP
        yield Problem(
            "a valid streaming request was answered with a status line that is not HTTP",
            expected="HTTP/1.1 200 OK",
            received=repr(exchange.reason),
        )
    elif exchange.status != 200:
        yield Problem(
            f"a valid streaming request was answered {exchange.status} {exchange.reason}".strip()
            + _redirect_note(exchange),
            expected="200",
            received=str(exchange.status),
        )


def _redirect_note(exchange: Exchange) -> str:
    """Why a redirect is a failure: the suite never follows one (it would carry the key)."""
    if exchange.status is None or not 300 <= exchange.status < 400:
        return ""
    where = exchange.header("location") or "no Location header"
    return (
        f" (to {where}); redirects are not followed, so the API key and headers "
        "are never sent anywhere but the target"
    )


@response_rule(
    "http.content_type",
    level=Level.MUST,
    title="The stream is served as text/event-stream",
    source=f"{WHATWG}; {RFC9110} 8.3",
    sentence=(
        "This event stream format's MIME type is text/event-stream. "
        "(Parameters such as charset are allowed after the media type.)"
    ),
)
def content_type(exchange: Exchange) -> Iterator[Problem]:
    value = exchange.header("content-type")
    if exchange.status == 200 and media_type(value) != EVENT_STREAM:
        yield Problem(
            "the streaming response does not declare Content-Type text/event-stream",
            expected=EVENT_STREAM,
            received=value if value is not None else "no Content-Type header",
        )


def is_stream(exchange: Exchange) -> bool:
    """Whether the head announces an event stream: 200 with Content-Type text/event-stream."""
    return exchange.status == 200 and media_type(exchange.header("content-type")) == EVENT_STREAM


def media_type(value: str | None) -> str:
    """The lower-cased media type of a Content-Type value, without parameters."""
    if not value:
        return ""
    return value.split(";", 1)[0].strip().lower()
