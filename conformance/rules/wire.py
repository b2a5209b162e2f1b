"""Rules on the answers to requests the suite writes byte by byte (`conformance._probe`).

Two tiers: HTTP semantics on the endpoint (RFC 9110: methods other than POST, HEAD, the
100-continue handshake) and HTTP/1.1 message framing (RFC 9112: conflicting or malformed
framing, Host, persistence). Each rule judges the probes it names; a probe that got no
answer at all is judged by the rule it targets (a framing error must get its 400) or, for a
well-formed request, by `request.connection_dropped`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from conformance._model import Level, Probe, RawResponse, WireAnswer
from conformance._registry import RFC9110, RFC9112, Problem, wire_rule
from conformance.rules.http import EVENT_STREAM, media_type

METHODS = frozenset(p for p in Probe if p.method)
"""The probes that send a method other than POST to the endpoint."""
UNSUPPORTED = frozenset({Probe.GET, Probe.PUT, Probe.DELETE, Probe.PATCH})
"""Methods the endpoint does not support (HEAD and OPTIONS may legitimately be answered)."""


def _status(response: RawResponse) -> str:
    return response.line()


def _no_answer(answer: WireAnswer) -> str:
    return answer.ending.reason if answer.ending is not None else "no response"


@wire_rule(
    "http.allow_header",
    probes=METHODS,
    level=Level.MUST,
    title="A 405 answer lists the allowed methods, POST among them, in Allow",
    source=f"{RFC9110} 15.5.6",
    sentence=(
        "The origin server MUST generate an Allow header field in a 405 response containing "
        "a list of the target resource's currently supported methods (POST, here)."
    ),
)
def allow_header(answer: WireAnswer) -> Iterator[Problem]:
    first = answer.first
    if first is None or first.status != 405:
        return
    allow = first.header("allow")
    listed = {method.strip().upper() for method in (allow or "").split(",")}
    if "POST" not in listed:
        yield Problem(
            f"{answer.probe.method} was answered 405 without POST in an Allow header",
            expected="Allow: POST",
            received=f"Allow: {allow}" if allow is not None else "no Allow header",
        )


@wire_rule(
    "http.method_not_allowed",
    probes=UNSUPPORTED,
    level=Level.SHOULD,
    title="A method the endpoint does not support is answered 405",
    source=f"{RFC9110} 9.1",
    sentence=(
        "An origin server that receives a request method that is recognized and implemented, "
        "but not allowed for the target resource, SHOULD respond with the 405 (Method Not "
        "Allowed) status code (and one it does not implement, 501 Not Implemented)."
    ),
)
def method_not_allowed(answer: WireAnswer) -> Iterator[Problem]:
    first = answer.first
    if first is not None and first.status not in (405, 501):
        yield Problem(
            f"{answer.probe.method} on the endpoint was answered {_status(first)}",
            expected="405 Method Not Allowed",
            received=_status(first),
        )


@wire_rule(
    "http.head_no_body",
    probes={Probe.HEAD},
    level=Level.MUST,
    title="An answer to HEAD carries no content",
    source=f"{RFC9110} 9.3.2",
    sentence=(
        "The HEAD method is identical to GET except that the server MUST NOT send content in "
        "the response."
    ),
)
def head_no_body(answer: WireAnswer) -> Iterator[Problem]:
    first = answer.first
    if first is not None and first.body:
        yield Problem(
            f"the {first.status} answer to HEAD was followed by {len(first.body)} bytes of content",
            expected="no content",
            received=repr(first.body[:80]),
        )


@wire_rule(
    "http.expect_continue",
    probes={Probe.EXPECT_CONTINUE},
    level=Level.MUST,
    title="Expect: 100-continue gets 100 (Continue) or a final status at once, then an answer",
    source=f"{RFC9110} 10.1.1",
    sentence=(
        "An origin server MUST, upon receiving an HTTP/1.1 (or later) request-line and a "
        "complete header section that contains a 100-continue expectation and indicates a "
        "request message content will follow, either send an immediate response with a final "
        "status code, if that status can be determined by examining just the request-line and "
        "header fields, or send an immediate 100 (Continue) response to encourage the client "
        "to send the request content. (The valid request is then served: 200, an event stream.)"
    ),
)
def expect_continue(answer: WireAnswer) -> Iterator[Problem]:
    if answer.continued is False:
        yield Problem(
            f"no 100 (Continue) and no final status within {answer.waited:g} s of the header "
            "section: the server waited for content the client had not sent",
            expected="HTTP/1.1 100 Continue (or a final status) at once",
            received=f"nothing for {answer.waited:g} s",
        )
    first = answer.first
    if first is None:
        return
    if first.status != 200 or media_type(first.header("content-type")) != EVENT_STREAM:
        yield Problem(
            "a valid streaming request sent with Expect: 100-continue was not served",
            expected=f"200 and {EVENT_STREAM}",
            received=f"{_status(first)} ({first.header('content-type')})",
        )


# -- RFC 9112: message framing ------------------------------------------------------------


def _refused(answer: WireAnswer, statuses: Iterable[int] = (400,)) -> Iterator[Problem]:
    """The probe got the refusal the RFC requires (and so was not acted on)."""
    allowed = tuple(statuses)
    first = answer.first
    expected = " or ".join(str(s) for s in allowed) + (" Bad Request" if 400 in allowed else "")
    if first is None:
        yield Problem(
            "the malformed request got no answer at all",
            expected=expected,
            received=_no_answer(answer),
        )
    elif first.status not in allowed:
        acted = " (the request was acted on)" if 200 <= first.status < 300 else ""
        yield Problem(
            f"the malformed request was answered {_status(first)}{acted}",
            expected=expected,
            received=_status(first),
        )


def _closed(answer: WireAnswer, why: str) -> Iterator[Problem]:
    """The server closed the connection after its answer (no further answer came)."""
    if answer.first is None:
        return
    extra = len(answer.responses) - 1
    if extra > 0 or answer.closed is False:
        seen = (
            f"{extra} more answer{'s' if extra != 1 else ''} on the same connection"
            if extra > 0
            else f"the connection still open {answer.waited:g} s later"
        )
        yield Problem(
            f"the connection was not closed after the answer {why}",
            expected="the server closes the connection",
            received=seen,
        )


@wire_rule(
    "http1.content_length_and_chunked",
    probes={Probe.CONTENT_LENGTH_AND_CHUNKED},
    level=Level.MUST,
    title="A request with both Content-Length and chunked gets one answer, then a closed "
    "connection",
    source=f"{RFC9112} 6.1",
    sentence=(
        "A server MAY reject a request that contains both Content-Length and "
        "Transfer-Encoding or process such a request in accordance with the Transfer-Encoding "
        "alone. Regardless, the server MUST close the connection after responding to such a "
        "request to avoid the potential attacks."
    ),
)
def content_length_and_chunked(answer: WireAnswer) -> Iterator[Problem]:
    if answer.first is None:
        yield from _refused(answer)
        return
    if len(answer.responses) > answer.requests:
        yield Problem(
            "bytes after the chunked body were answered as a request of their own "
            "(request smuggling)",
            expected="one answer, then the connection closed",
            received=f"{len(answer.responses)} answers to {answer.requests} requests: "
            + ", ".join(_status(r) for r in answer.responses),
        )
        return
    yield from _closed(answer, "to a request with both Content-Length and Transfer-Encoding")


@wire_rule(
    "http1.invalid_content_length",
    probes={Probe.INVALID_CONTENT_LENGTH},
    level=Level.MUST,
    title="An invalid Content-Length gets 400, then a closed connection",
    source=f"{RFC9112} 6.3",
    sentence=(
        "If a message is received without Transfer-Encoding and with an invalid "
        "Content-Length header field, then the message framing is invalid and the recipient "
        "MUST treat it as an unrecoverable error [...] If the unrecoverable error is in a "
        "request message, the server MUST respond with a 400 (Bad Request) status code and "
        "then close the connection."
    ),
)
def invalid_content_length(answer: WireAnswer) -> Iterator[Problem]:
    yield from _refused(answer)
    yield from _closed(answer, "to a request with an invalid Content-Length")


@wire_rule(
    "http1.unknown_transfer_coding",
    probes={Probe.UNKNOWN_TRANSFER_CODING},
    level=Level.MUST,
    title="A Transfer-Encoding not ending in chunked gets 400, then a closed connection",
    source=f"{RFC9112} 6.3, 6.1",
    sentence=(
        "6.3: If a Transfer-Encoding header field is present in a request and the chunked "
        "transfer coding is not the final encoding, the message body length cannot be "
        "determined reliably; the server MUST respond with the 400 (Bad Request) status code "
        "and then close the connection. (6.1: a server that receives a transfer coding it "
        "does not understand SHOULD respond with 501 (Not Implemented): a refusal too.)"
    ),
)
def unknown_transfer_coding(answer: WireAnswer) -> Iterator[Problem]:
    yield from _refused(answer, (400, 501))
    yield from _closed(answer, "to a request whose body length cannot be determined")


@wire_rule(
    "http1.space_before_colon",
    probes={Probe.SPACE_BEFORE_COLON},
    level=Level.MUST,
    title="Whitespace between a header name and its colon gets 400",
    source=f"{RFC9112} 5.1",
    sentence=(
        "No whitespace is allowed between the field name and colon. [...] A server MUST "
        "reject, with a response status code of 400 (Bad Request), any received request "
        "message that contains whitespace between a header field name and colon."
    ),
)
def space_before_colon(answer: WireAnswer) -> Iterator[Problem]:
    yield from _refused(answer)


@wire_rule(
    "http1.host_required",
    probes={Probe.MISSING_HOST},
    level=Level.MUST,
    title="An HTTP/1.1 request without Host gets 400",
    source=f"{RFC9112} 3.2",
    sentence=(
        "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1 request "
        "message that lacks a Host header field and to any request message that contains "
        "more than one Host header field line or a Host header field with an invalid field "
        "value."
    ),
)
def host_required(answer: WireAnswer) -> Iterator[Problem]:
    yield from _refused(answer)


@wire_rule(
    "http1.connection_close",
    probes={Probe.CONNECTION_CLOSE},
    level=Level.MUST,
    title="Connection: close is honoured: the server closes after its answer",
    source=f"{RFC9112} 9.6",
    sentence=(
        'A server that receives a "close" connection option MUST initiate closure of the '
        "connection (see below) after it sends the final response to the request that "
        'contained the "close" connection option.'
    ),
)
def connection_close(answer: WireAnswer) -> Iterator[Problem]:
    yield from _closed(answer, "to a request with Connection: close")


@wire_rule(
    "http1.http10_no_chunked",
    probes={Probe.HTTP_1_0},
    level=Level.MUST,
    title="An HTTP/1.0 request is not answered with Transfer-Encoding",
    source=f"{RFC9112} 6.1",
    sentence=(
        "A server MUST NOT send a response containing Transfer-Encoding unless the "
        "corresponding request indicates HTTP/1.1 (or later minor revisions)."
    ),
)
def http10_no_chunked(answer: WireAnswer) -> Iterator[Problem]:
    first = answer.first
    coding = first.header("transfer-encoding") if first is not None else None
    if first is not None and coding is not None:
        yield Problem(
            f"an HTTP/1.0 request was answered {_status(first)} with Transfer-Encoding",
            expected="no Transfer-Encoding (a Content-Length, or the body ended by closing)",
            received=f"Transfer-Encoding: {coding}",
        )


@wire_rule(
    "http1.unread_body",
    probes={Probe.UNREAD_BODY},
    level=Level.MUST,
    title="A request body left unread is never read as the next request",
    source=f"{RFC9112} 9.3",
    sentence=(
        "A server MUST read the entire request message body or close the connection after "
        "sending its response; otherwise, the remaining data on a persistent connection "
        "would be misinterpreted as the next request."
    ),
)
def unread_body(answer: WireAnswer) -> Iterator[Problem]:
    if len(answer.responses) > answer.requests:
        yield Problem(
            "the body of a request answered without reading it was answered as a request "
            "of its own (request smuggling)",
            expected=f"at most {answer.requests} answers to {answer.requests} requests",
            received=f"{len(answer.responses)} answers: "
            + ", ".join(_status(r) for r in answer.responses),
        )
