"""Raw probes: requests the suite writes byte by byte on a connection of its own.

httpx frames every message itself, so it cannot send a malformed one, wait for a 100
(Continue) before the content, or see what a server does with the bytes after an answer.
The probes of the endpoint's HTTP hygiene (RFC 9110: methods other than POST, HEAD, the
100-continue handshake) and of HTTP/1.1 message framing (RFC 9112: conflicting or malformed
framing, Host, persistence) are written here, with the client's limits: the idle timeout
for each read, the whole-probe deadline, a cap on the bytes of a response head and on the
bytes kept of a body. Secrets are sent, but written out only as `$VARIABLES` in the
reproduction line; the reports redact the rest.
"""

from __future__ import annotations

import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import orjson

from conformance._client import (
    ERROR_BODY_LIMIT,
    HEAD_LIMIT,
    LiveResult,
    Target,
    TargetUnreachable,
    describe_connect,
)
from conformance._curl import API_KEY_VARIABLE, Piece, header_variable, raw_bytes, raw_command
from conformance._dispatch import Context, Dispatcher
from conformance._model import (
    Answer,
    Ending,
    EndingKind,
    Exchange,
    Mistake,
    Probe,
    RawResponse,
    WireAnswer,
)
from conformance._profiles import load_profile
from conformance._registry import Scope
from conformance.rules.http import EVENT_STREAM, media_type

PROBE_WAIT = 3.0
"""Seconds (at most the idle timeout) a server gets for what a probe waits on: a 100
(Continue) before the content is sent, an answer or a close after the first answer."""
RECEIVED_LIMIT = 64 * 1024
"""Bytes of what came back kept verbatim (the report's transcript)."""
WELL_FORMED = frozenset(
    {p for p in Probe if p.method}
    | {Probe.EXPECT_CONTINUE, Probe.CONNECTION_CLOSE, Probe.HTTP_1_0, Probe.UNREAD_BODY}
)
"""Probes whose request is valid HTTP: no answer at all is a dropped connection."""
_STATUS_LINE = re.compile(rb"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$")
SEMANTICS = (*(p for p in Probe if p.method), Probe.EXPECT_CONTINUE)
"""The probes of HTTP semantics on the endpoint (RFC 9110)."""
FRAMING = tuple(p for p in Probe if p not in SEMANTICS)
"""The probes of HTTP/1.1 message framing and persistence (RFC 9112)."""
FOLLOWED = frozenset(
    {
        Probe.CONTENT_LENGTH_AND_CHUNKED,
        Probe.INVALID_CONTENT_LENGTH,
        Probe.UNKNOWN_TRANSFER_CODING,
        Probe.CONNECTION_CLOSE,
        Probe.UNREAD_BODY,
    }
)
"""Probes followed, once their answer is read, by a second request on the connection: a
server that closed it (as it must, or may) never answers it."""


class _Ended(Exception):
    """The connection ended: closed (EOF) or reset."""


class _NotHttp(Exception):
    """What came back is not an HTTP response."""


class _TimedOut(Exception):
    """Nothing arrived within the wait."""


class _Limit(Exception):
    """A limit of the client ended the read: the deadline, or the byte limit."""

    def __init__(self, kind: EndingKind, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind


@dataclass(slots=True)
class _Plan:
    """The bytes of one probe: the request (its content apart when it waits for a 100),
    and the follow-up request, if any."""

    request: list[Piece]
    content: bytes = b""  # sent after the head only once the server said 100 (or did not)
    follow_up: list[Piece] = field(default_factory=list)
    method: str = "POST"


class _Connection:
    """One connection: buffered reads under the idle timeout and the probe's deadline."""

    def __init__(self, target: Target, host: str, port: int, tls: bool) -> None:
        self.limits = limits = target.limits
        self.idle = limits.idle_timeout
        self.deadline = time.monotonic() + limits.deadline
        self.over = f"the probe was still reading after the {limits.deadline:g} s deadline"
        self.over_kind = EndingKind.DEADLINE
        budget = target.time_budget
        if budget is not None and time.monotonic() + budget.left() < self.deadline:
            self.deadline = time.monotonic() + budget.left()
            self.over = f"the run's budget of {budget.seconds:g} s (--budget) ran out during it"
            self.over_kind = EndingKind.BUDGET
        self.total = 0  # bytes received
        self.buffer = bytearray()
        self.received = bytearray()
        self.first_byte: float | None = None
        self.started = time.monotonic()
        try:
            sock = socket.create_connection((host, port), timeout=self.idle)
        except OSError as exc:
            raise TargetUnreachable(describe_connect(exc, target.endpoint)) from exc
        if tls:
            try:
                sock = _tls_context(target.verify).wrap_socket(sock, server_hostname=host)
            except OSError as exc:  # ssl.SSLError included
                sock.close()
                raise TargetUnreachable(describe_connect(exc, target.endpoint)) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock

    def send(self, data: bytes) -> bool:
        """Write `data`; False when the server has already closed the connection."""
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        return True

    def _fill(self, wait: float) -> None:
        """Read what arrives next into the buffer (raises _Ended, _TimedOut)."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise _Limit(self.over_kind, self.over)
        if self.total > self.limits.max_bytes:
            limit = f"the answer exceeded the byte limit ({self.limits.max_bytes:,} bytes)"
            raise _Limit(EndingKind.BYTE_LIMIT, limit)
        self.sock.settimeout(min(wait, left))
        try:
            data = self.sock.recv(64 * 1024)
        except TimeoutError as exc:
            raise _TimedOut(f"nothing for {min(wait, left):g} s") from exc
        except (ConnectionError, ssl.SSLError, OSError) as exc:
            raise _Ended(f"the connection was reset ({type(exc).__name__})") from exc
        if not data:
            raise _Ended("the connection was closed")
        if self.first_byte is None:
            self.first_byte = time.monotonic() - self.started
        self.total += len(data)
        self.buffer += data
        room = RECEIVED_LIMIT - len(self.received)
        if room > 0:
            self.received += data[:room]

    def read_until(self, marker: bytes, limit: int, wait: float) -> bytes:
        """Bytes up to and including `marker` (raises _NotHttp past `limit`)."""
        while (end := self.buffer.find(marker)) < 0:
            if len(self.buffer) > limit:
                raise _NotHttp(f"no end of the response head within {limit // 1024} KiB")
            self._fill(wait)
        end += len(marker)
        data = bytes(self.buffer[:end])
        del self.buffer[:end]
        return data

    def read_exactly(self, size: int, keep: int, wait: float) -> bytes:
        """`size` bytes (at most `keep` of them returned)."""
        kept = bytearray()
        while size > 0:
            if not self.buffer:
                self._fill(wait)
            take = min(size, len(self.buffer))
            if len(kept) < keep:
                kept += self.buffer[: min(take, keep - len(kept))]
            del self.buffer[:take]
            size -= take
        return bytes(kept)

    def read_to_close(self, keep: int, wait: float) -> tuple[bytes, bool | None]:
        """Whatever arrives until the server closes (or stops sending for `wait` seconds, or
        `keep` bytes are read, or a limit is hit); and whether it closed (None: not seen)."""
        while len(self.buffer) < keep:
            try:
                self._fill(wait)
            except _Ended:
                return self._take(keep), True
            except _TimedOut:
                return self._take(keep), False
            except _Limit:
                return self._take(keep), None
        return self._take(keep), None

    def _take(self, keep: int) -> bytes:
        data = bytes(self.buffer[:keep])
        del self.buffer[:keep]
        return data

    def close(self) -> None:
        self.sock.close()


def _tls_context(verify: bool | str) -> ssl.SSLContext:
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif isinstance(verify, str):
        context = ssl.create_default_context(cafile=verify)
    else:
        context = ssl.create_default_context()
    context.set_alpn_protocols(["http/1.1"])
    return context


@dataclass(frozen=True, slots=True)
class _Head:
    version: str
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name), None)


def _read_head(conn: _Connection, wait: float) -> _Head:
    raw = conn.read_until(b"\r\n\r\n", HEAD_LIMIT, wait)
    line, *lines = raw[:-4].split(b"\r\n")
    found = _STATUS_LINE.match(line)
    if found is None:
        raise _NotHttp(f"not a status line: {line[:80]!r}")
    headers = []
    for header in lines:
        name, colon, value = header.partition(b":")
        if not colon:
            raise _NotHttp(f"not a header line: {header[:80]!r}")
        headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
    reason = (found.group(3) or b"").decode("latin-1")
    return _Head(found.group(1).decode(), int(found.group(2)), reason, tuple(headers))


def _read_response(
    conn: _Connection, method: str, wait: float, head: _Head | None = None
) -> tuple[RawResponse, bool | None]:
    """The next final response (1xx skipped and noted) and whether its framing closed the
    connection (None: not known). A 200 event stream's body is not read: the probe is over."""
    interim: list[int] = []
    head = head or _read_head(conn, wait)
    while 100 <= head.status < 200 and head.status != 101:
        interim.append(head.status)
        head = _read_head(conn, wait)
    body, closed = _read_body(conn, head, method, wait)
    response = RawResponse(
        head.version, head.status, head.reason, head.headers, body, tuple(interim)
    )
    return response, closed


def _read_body(
    conn: _Connection, head: _Head, method: str, wait: float
) -> tuple[bytes, bool | None]:
    """The body of `head` per RFC 9112 6.3 (HEAD and 204/304: none; chunked; Content-Length;
    else until the connection closes), at most ERROR_BODY_LIMIT bytes kept."""
    if method == "HEAD" or head.status in (204, 304):
        return b"", None
    if head.status == 200 and media_type(head.header("content-type")) == EVENT_STREAM:
        return b"", None
    coding = head.header("transfer-encoding")
    if coding is not None and coding.split(",")[-1].strip().lower() == "chunked":
        return _read_chunked(conn, wait), None
    length = head.header("content-length")
    if length is not None and length.strip().isdigit():
        return conn.read_exactly(int(length), ERROR_BODY_LIMIT, wait), None
    return conn.read_to_close(ERROR_BODY_LIMIT, wait)


def _read_chunked(conn: _Connection, wait: float) -> bytes:
    body = bytearray()
    while True:
        size_line = conn.read_until(b"\r\n", 1024, wait)
        try:
            size = int(size_line.split(b";")[0].strip() or b"x", 16)
        except ValueError as exc:
            raise _NotHttp(f"not a chunk size: {size_line[:40]!r}") from exc
        if size == 0:
            while conn.read_until(b"\r\n", HEAD_LIMIT, wait) != b"\r\n":
                pass  # trailer fields
            return bytes(body)
        body += conn.read_exactly(size, ERROR_BODY_LIMIT - len(body), wait)
        conn.read_until(b"\r\n", 16, wait)


class Prober:
    """Writes the probes to one target and judges their answers."""

    def __init__(self, target: Target) -> None:
        self.target = target
        parts = urlsplit(target.endpoint)
        self.tls = parts.scheme == "https"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (443 if self.tls else 80)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default = 443 if self.tls else 80
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.authority = shown if self.port == default else f"{shown}:{self.port}"

    def run(self, probe: Probe) -> LiveResult:
        """Send `probe` and judge what came back with every rule that judges it."""
        plan = self.plan(probe)
        budget = self.target.time_budget
        if budget is not None:  # the run's: a probe is a request like any other
            budget.admit(self.target.endpoint)
        started = time.monotonic()
        try:
            conn = _Connection(self.target, self.host, self.port, self.tls)
        except TargetUnreachable as exc:
            if budget is not None:
                budget.record(str(exc))
            raise
        try:
            answer = self._exchange(conn, probe, plan)
        finally:
            conn.close()
        live = self._result(probe, plan, answer, conn)
        live.timing.first_byte = conn.first_byte
        live.timing.total = time.monotonic() - started
        if budget is not None:
            ending = live.ending
            budget.record(ending.reason if ending and live.unanswered else None)
        return live

    # -- the requests ---------------------------------------------------------------------

    def plan(self, probe: Probe) -> _Plan:
        """The bytes `probe` writes."""
        valid = orjson.dumps(
            {
                "model": self.target.model,
                "messages": [{"role": "user", "content": "Hello!"}],
                "stream": True,
            }
        )
        cheap = orjson.dumps({"model": self.target.model, "stream": True})  # no messages
        smuggled = f"GET {self.path} HTTP/1.1\r\nHost: {self.authority}\r\n\r\n".encode()
        close = [("Connection", "close")]
        if probe.method:
            extra = [("Content-Length", "0")] if probe in (Probe.PUT, Probe.PATCH) else []
            return _Plan(self._request(probe.method, [*close, *extra]), method=probe.method)
        plans = {
            Probe.EXPECT_CONTINUE: lambda: _Plan(
                self._post(valid, [*close, ("Expect", "100-continue")], send_body=False),
                content=valid,
            ),
            Probe.CONTENT_LENGTH_AND_CHUNKED: lambda: _Plan(
                self._post(
                    b"0\r\n\r\n" + smuggled,
                    [("Transfer-Encoding", "chunked")],
                ),
            ),
            Probe.INVALID_CONTENT_LENGTH: lambda: _Plan(
                self._post(valid, [("Content-Length", "abc")], length=False)
            ),
            Probe.UNKNOWN_TRANSFER_CODING: lambda: _Plan(
                self._post(
                    _chunked(valid), [("Transfer-Encoding", "x-unknown-coding")], length=False
                ),
            ),
            Probe.SPACE_BEFORE_COLON: lambda: _Plan(
                self._post(valid, [*close, ("X-Conformance-Probe ", "space before the colon")])
            ),
            Probe.MISSING_HOST: lambda: _Plan(self._post(valid, close, host=False)),
            Probe.CONNECTION_CLOSE: lambda: _Plan(self._post(cheap, close)),
            Probe.HTTP_1_0: lambda: _Plan(self._post(valid, [], version="HTTP/1.0")),
            Probe.UNREAD_BODY: lambda: _Plan(
                self._request("PUT", [("Content-Length", str(len(smuggled)))], smuggled),
                method="PUT",
            ),
        }
        plan = plans[probe]()
        if probe in FOLLOWED:
            plan.follow_up = self._request("GET", close)
        return plan

    def _post(
        self,
        body: bytes,
        headers: list[tuple[str, str]],
        *,
        send_body: bool = True,
        length: bool = True,
        host: bool = True,
        version: str = "HTTP/1.1",
    ) -> list[Piece]:
        fields = [("Content-Type", "application/json"), ("Accept", EVENT_STREAM)]
        if length:
            fields.append(("Content-Length", str(len(body))))
        content = body if send_body else b""
        return self._request("POST", fields + headers, content, host=host, version=version)

    def _request(
        self,
        method: str,
        headers: list[tuple[str, str]],
        body: bytes = b"",
        *,
        host: bool = True,
        version: str = "HTTP/1.1",
    ) -> list[Piece]:
        pieces: list[Piece] = [f"{method} {self.path} {version}\r\n".encode()]
        if host:
            pieces.append(f"Host: {self.authority}\r\n".encode())
        pieces.append(f"User-Agent: {_user_agent()}\r\n".encode())
        for name, value in headers:
            pieces.append(f"{name}: {value}\r\n".encode("latin-1"))
        pieces += self._secret_headers()
        pieces.append(b"\r\n" + body)
        return pieces

    def _secret_headers(self) -> list[Piece]:
        """The Authorization header (as `Client.request_headers` chooses it) and every
        `--header`, each value a variable of the reproduction line."""
        pieces: list[Piece] = []
        source, value = self.target.authorization() or ("", "")
        if source == "--api-key":
            pieces += [
                b"Authorization: Bearer ",
                (API_KEY_VARIABLE, self.target.api_key or ""),
                b"\r\n",
            ]
        elif source == "the URL's credentials":
            pieces += [b"Authorization: ", (header_variable("Authorization"), value), b"\r\n"]
        for name, header in self.target.headers:
            pieces += [f"{name}: ".encode(), (header_variable(name), header), b"\r\n"]
        return pieces

    # -- the exchange -----------------------------------------------------------------------

    def _exchange(self, conn: _Connection, probe: Probe, plan: _Plan) -> WireAnswer:
        wait = min(PROBE_WAIT, conn.idle)
        conn.send(raw_bytes(plan.request))
        continued: bool | None = None
        head = None
        try:
            if probe is Probe.EXPECT_CONTINUE:
                continued, head = self._continue(conn, plan, wait)
            first, closed = _read_response(conn, plan.method, conn.idle, head)
        except (_Ended, _TimedOut, _NotHttp, _Limit) as exc:
            return WireAnswer(probe, ending=_ending(exc, bool(conn.received)), continued=continued)
        if probe is Probe.HEAD:
            stray, closed = conn.read_to_close(ERROR_BODY_LIMIT, wait)
            first = _with_body(first, stray)
        responses = [first]
        requests = 1
        if plan.follow_up and _reusable(first):
            requests = 2
            closed = self._after(conn, plan, responses, wait)
        waited = wait if continued is False or closed is False else 0.0
        return WireAnswer(probe, tuple(responses), requests, closed, None, continued, waited)

    def _continue(self, conn: _Connection, plan: _Plan, wait: float) -> tuple[bool, _Head | None]:
        """Wait for a 100 (Continue) or a final status; send the content on a 100, or after
        the wait (a client MAY), not after a final status. Whether one came, and the head
        of the final answer when it came first."""
        try:
            head = _read_head(conn, wait)
        except _TimedOut:
            conn.send(plan.content)
            return False, None
        if head.status == 100:
            conn.send(plan.content)
            return True, None
        return True, head

    def _after(
        self, conn: _Connection, plan: _Plan, responses: list[RawResponse], wait: float
    ) -> bool | None:
        """Send the follow-up request and read every further answer; whether the server
        closed the connection (False: still open after the wait; None: what came is not
        HTTP, or a limit ended the read)."""
        if not conn.send(raw_bytes(plan.follow_up)):
            return True
        while len(responses) < 4:
            try:
                response, closed = _read_response(conn, "GET", wait)
            except _Ended:
                return True
            except _TimedOut:
                return False
            except (_NotHttp, _Limit):
                return None
            responses.append(response)
            if closed:
                return True
        return False

    # -- the verdict ----------------------------------------------------------------------

    def _result(
        self, probe: Probe, plan: _Plan, answer: WireAnswer, conn: _Connection
    ) -> LiveResult:
        sent = plan.request + ([plan.content] if plan.content else []) + plan.follow_up
        first = answer.first
        exchange = Exchange(
            plan.method,
            self.target.endpoint,
            {},
            raw_bytes(sent),
            first.status if first else None,
            first.reason if first else "",
            list(first.headers) if first else [],
        )
        command = raw_command(self.host, self.port, self.tls, sent)
        live = LiveResult(raw_bytes(sent), exchange, command, body=bytes(conn.received))
        live.ending = answer.ending
        dispatch = Dispatcher(load_profile(self.target.profile), Context(live=True))
        dispatch.wire(answer)
        if probe.method and first is not None:
            dispatch.rejection(Answer(exchange, first.body, Mistake.WRONG_METHOD))
        if probe in WELL_FORMED:
            if answer.ending is not None:
                dispatch.transport(answer.ending)
            dispatch.tally(Scope.TRANSPORT)
        live.take(dispatch)
        return live


def _reusable(response: RawResponse) -> bool:
    """Whether the connection can carry another request after `response` (its body read)."""
    streamed = media_type(response.header("content-type")) == EVENT_STREAM
    return not (response.status == 200 and streamed)


def _with_body(response: RawResponse, body: bytes) -> RawResponse:
    return RawResponse(
        response.version,
        response.status,
        response.reason,
        response.headers,
        body,
        response.interim,
    )


def _ending(exc: Exception, answered: bool) -> Ending:
    """Why a probe got no (complete) answer."""
    if isinstance(exc, _Limit):
        return Ending(exc.kind, str(exc))
    if isinstance(exc, _NotHttp):
        return Ending(EndingKind.NOT_HTTP, f"the answer is not a valid HTTP response: {exc}")
    if isinstance(exc, _TimedOut):
        return Ending(EndingKind.IDLE_TIMEOUT, f"no answer: {exc} (idle timeout --target-timeout)")
    if answered:
        return Ending(EndingKind.BROKEN, f"the answer was cut short: {exc}")
    return Ending(EndingKind.DROPPED, f"the server closed the connection without answering: {exc}")


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)


def _user_agent() -> str:
    from conformance import __version__

    return f"streaming-conformance/{__version__}"
