"""The live client: sends a request with httpx and checks the stream as its bytes arrive.

This is the only module of the package that imports httpx. It decodes content codings
itself, with bounded output, so a compression bomb cannot inflate past the byte limit.

Every exchange has one deadline, counted from the request's first byte: each network read
and write (of the head, of interim 1xx answers, of the body) is given at most the time left,
and the checker looks at it before each event, so no response, however slow or endless,
holds a request past it. A run's `TimeBudget` bounds all its requests together and stops
sending when the target stops answering.
"""

from __future__ import annotations

import base64
import socket
import ssl
import threading
import time
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

import httpcore
import httpx
import orjson

from conformance import __version__
from conformance._check import StreamChecker, StreamResult
from conformance._coding import IDENTITY, CodingError, decoded, normalise
from conformance._curl import curl_command
from conformance._dispatch import Context, Dispatcher
from conformance._model import (
    DEFAULT_PROFILE,
    Answer,
    Deadline,
    Ending,
    EndingKind,
    Event,
    Exchange,
    Finding,
    Limits,
    Mistake,
)
from conformance._profiles import load_profile
from conformance._registry import Scope
from conformance._replay._recorded import Tap
from conformance._replay._spool import spool

DEFAULT_MODEL = "alphaedge-large-3-2512"
READ_SIZE = 64 * 1024
FEED_SIZE = 64 * 1024
"""Bytes the live client collects before checking them (see `_Feeder`)."""
ERROR_BODY_LIMIT = 1024 * 1024
HEAD_LIMIT = 100 * 1024
"""Bytes of status line and headers httpx (httpcore, h11) reads before giving up."""
HEAD_TOO_LONG = "Receive buffer too long"  # h11's message when HEAD_LIMIT is passed
NO_RESPONSE = "Server disconnected without sending a response"  # h11, on a close before any
MAX_TIMES = 100_000
"""Event arrival times kept per stream (enough for the timing chart and percentiles)."""


UNANSWERED = frozenset(
    {EndingKind.IDLE_TIMEOUT, EndingKind.DEADLINE, EndingKind.BROKEN, EndingKind.NOT_HTTP}
    | {EndingKind.BUDGET}
)
"""How a read ends when the target failed to answer (rather than answered too much)."""
SECRET_MIN = 4
"""A URL's user name or query value this short is not taken for a secret in free text (it
would blank out ordinary words); the URL itself is always written without them."""


def unanswered(exchange: Exchange, ending: Ending | None) -> bool:
    """Whether the target failed to answer (see `LiveResult.unanswered`)."""
    if ending is not None and ending.kind is EndingKind.DROPPED:
        return False
    if exchange.status is None:
        return True
    return ending is not None and ending.kind in UNANSWERED


class TargetUnreachable(Exception):
    """No HTTP answer could be had at all: not a verdict on conformance."""


class TargetUnresponsive(TargetUnreachable):
    """The last requests all failed at the transport: the run sends no more."""


class BudgetSpent(TargetUnreachable):
    """The run's time budget is spent: the request was not sent."""


@dataclass(slots=True)
class TimeBudget:
    """What a whole run may spend on its target, shared by every client of the run: a time
    budget (`--budget`), and how many transport failures in a row (no answer in time, a
    reset, no HTTP) make the target unresponsive, after which nothing more is sent. (The
    number of requests is bounded apart, by `--max-requests`: `conformance._budget`.)"""

    seconds: float = 600.0
    unresponsive_after: int = 3
    started: float = field(default_factory=time.time)  # wall clock: xdist workers share it
    failures: list[str] = field(default_factory=list)  # the transport failures in a row

    def left(self) -> float:
        """Seconds of the budget left (negative once spent)."""
        return self.started + self.seconds - time.time()

    def admit(self, url: str) -> None:
        """Raise unless another request may be sent."""
        if len(self.failures) >= self.unresponsive_after:
            raise TargetUnresponsive(
                f"the target {url} is unresponsive: {len(self.failures)} requests in a row "
                f"failed at the transport (last: {self.failures[-1]}); the rest of the run "
                "sends nothing (--unresponsive-after)"
            )
        if self.left() <= 0:
            raise BudgetSpent(
                f"the run's budget of {self.seconds:g} s (--budget) is spent: this request "
                "to the target was not sent"
            )

    def record(self, failure: str | None) -> None:
        """Count a transport failure (why), or an answer that came (which resets the count)."""
        if failure is None:
            self.failures.clear()
        else:
            self.failures.append(failure)


@dataclass(frozen=True, slots=True)
class Target:
    """Where and how to send requests."""

    base_url: str
    model: str = DEFAULT_MODEL
    api_key: str | None = field(default=None, repr=False)
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    verify: bool | str = True
    limits: Limits = field(default_factory=Limits)
    profile: str = DEFAULT_PROFILE
    replay: str | None = None
    """A spool folder: keep each stream's bytes (bounded) there for client replay."""
    time_budget: TimeBudget | None = field(default=None, repr=False, compare=False)

    @property
    def endpoint(self) -> str:
        """The chat-completions URL under the base URL."""
        return self.url("chat/completions")

    def url(self, path: str) -> str:
        """`path` under the base URL: the path extended before the query, and without
        userinfo (credentials in the URL are sent as the Authorization header)."""
        parts = urlsplit(self.base_url)
        full = f"{parts.path.rstrip('/')}/{path}"
        return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], full, parts.query, ""))

    def url_credentials(self) -> tuple[str, str] | None:
        """The user name and password the base URL carries, if any."""
        parts = urlsplit(self.base_url)
        if "@" not in parts.netloc:
            return None
        return unquote(parts.username or ""), unquote(parts.password or "")

    def authorization(self) -> tuple[str, str] | None:
        """(source, value) of the Authorization header: a `--header Authorization` first,
        then the API key as a bearer token, then the URL's credentials as Basic."""
        for name, value in self.headers:
            if name.lower() == "authorization":
                return "--header", value
        if self.api_key:
            return "--api-key", f"Bearer {self.api_key}"
        credentials = self.url_credentials()
        if credentials is not None:
            token = base64.b64encode(":".join(credentials).encode()).decode()
            return "the URL's credentials", f"Basic {token}"
        return None

    def secrets(self) -> list[str]:
        """Every value that must never be written anywhere: the key, every header value, the
        URL's credentials and the Basic token made of them, the values of its query."""
        values = [self.api_key, *(value for _, value in self.headers)]
        credentials = self.url_credentials()
        if credentials is not None:
            user, password = credentials
            userinfo = urlsplit(self.base_url).netloc.rpartition("@")[0]
            values += [password, userinfo, quote(password, safe="")]
            values += [user] if len(user) >= SECRET_MIN else []
        authorization = self.authorization()
        if authorization is not None:
            values += [authorization[1], authorization[1].partition(" ")[2]]
        for _, value in parse_qsl(urlsplit(self.base_url).query, keep_blank_values=True):
            values += [value, quote(value, safe="")] if len(value) >= SECRET_MIN else []
        return [v for v in dict.fromkeys(values) if v]


@dataclass(slots=True)
class Timing:
    """When the bytes and events of one stream arrived (seconds since the request)."""

    first_byte: float | None = None
    events: array[float] = field(default_factory=lambda: array("d"))
    total: float = 0.0


@dataclass(slots=True)
class LiveResult:
    """One request, what came back, and what the rules found in it (its bodies, up to MiBs,
    are left out of its repr)."""

    request: dict[str, Any] | bytes = field(repr=False)
    exchange: Exchange
    curl: str
    result: StreamResult | None = None
    body: bytes = field(default=b"", repr=False)
    timing: Timing = field(default_factory=Timing)
    findings: list[Finding] = field(default_factory=list)
    judged: Counter[str] = field(default_factory=Counter)
    unjudged: dict[str, str] = field(default_factory=dict)  # why a rule judged nothing here
    ending: Ending | None = None  # a whole answer (not a stream) could not be read: why

    @property
    def unanswered(self) -> bool:
        """Whether the target failed to answer: no response head, or a read that stalled,
        outlived the deadline or broke off (a test sends it nothing more). A connection
        closed at once without an answer is no such failure: it is a finding about that
        request (`request.connection_dropped`), and the next request costs nothing."""
        ending = self.result.ending if self.result is not None else self.ending
        return unanswered(self.exchange, ending)

    def take(self, dispatch: Dispatcher) -> None:
        """Add what `dispatch` found and judged in this exchange, and why a rule that could
        have judged it did not."""
        self.findings += dispatch.findings
        self.judged.update(dispatch.judged)
        self.unjudged.update(dispatch.reasons)


class Client:
    """A streaming client bound to one target; use as a context manager."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._http = self._connections()

    def _connections(self) -> httpx.Client:
        """A pool of connections to the target."""
        # TCP_NODELAY: a request's head and body are two writes; without it the body waits
        # for the server's delayed ACK of the head (40 ms a request on Linux).
        nodelay = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        http = httpx.Client(
            transport=httpx.HTTPTransport(verify=_tls(self.target.verify), socket_options=nodelay),
            timeout=httpx.Timeout(self.target.limits.idle_timeout),
            follow_redirects=False,
            headers={
                "Accept-Encoding": "gzip, deflate",
                "User-Agent": f"streaming-conformance/{__version__}",
            },
        )
        del http.headers["Accept"]  # each request says what it accepts, or nothing
        _bound_by_deadlines(http)
        return http

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release connections."""
        self._http.close()

    def request_headers(self) -> dict[str, str]:
        """The headers sent with every chat-completion request."""
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        authorization = self.target.authorization()
        if authorization is not None:
            headers["Authorization"] = authorization[1]
        for name, value in self.target.headers:
            headers["Authorization" if name.lower() == "authorization" else name] = value
        return headers

    def stream(
        self,
        request: dict[str, Any] | bytes,
        *,
        accepts: str | None = None,
        keep_text: bool = False,
        headers: Mapping[str, str | None] | None = None,
    ) -> LiveResult:
        """Send a streaming request and judge the answer with every stream rule (its head by
        the acceptance rule `accepts` when a case sends a valid variation of a request).
        `headers` replace the usual ones (None: leave that header out)."""
        n = request.get("n") if isinstance(request, dict) else None
        tap = Tap() if self.target.replay else None
        checker = StreamChecker(
            profile=load_profile(self.target.profile),
            limits=self.target.limits,
            live=True,
            requested_n=n if type(n) is int else 1,
            keep_text=keep_text or tap is not None,
            request=request if isinstance(request, dict) else None,
        )
        live = self._new(request, headers)
        checker.state.started_at = time.time()
        read = lambda resp, end: self._read_stream(  # noqa: E731
            live, resp, checker, accepts, deadline=end, tap=tap
        )
        self._send(live, read, checker)
        result = live.result = checker.finish()
        live.findings += result.findings
        live.judged.update(result.judged)
        live.unjudged.update(result.unjudged)
        if tap is not None and self.target.replay:
            spool(self.target.replay, live.exchange, result, tap)
        if not keep_text:  # what the stream showed is judged: a test keeping many exchanges
            result.state = None  # does not keep every choice and tool call of each
        return live

    def send(
        self,
        request: dict[str, Any] | bytes,
        *,
        headers: Mapping[str, str | None] | None = None,
    ) -> LiveResult:
        """Send a request whose answer is read as a whole (bounded), not as a stream; a
        connection that fails is recorded as the answer's `ending`."""
        live = self._new(request, headers)
        self._send(live, lambda resp, end: self._read_body(live, resp, end), None)
        return live

    def reject(
        self,
        request: dict[str, Any] | bytes,
        mistake: Mistake,
        *,
        headers: Mapping[str, str | None] | None = None,
    ) -> LiveResult:
        """Send a request that makes `mistake`; judge the answer by the rejection rules, and
        how it arrived (or did not) by the transport rules."""
        live = self.send(request, headers=headers)
        context = Context(live=True, request=isinstance(request, dict))
        dispatch = Dispatcher(load_profile(self.target.profile), context)
        if live.ending is not None:
            dispatch.transport(live.ending)
        if live.exchange.status is not None:
            dispatch.rejection(Answer(live.exchange, live.body, mistake))
        dispatch.tally(Scope.TRANSPORT)
        live.take(dispatch)
        return live

    def models(self) -> list[str]:
        """The model ids `GET {base}/models` lists, when the target offers that list."""
        url = self.target.url("models")
        headers = {k: v for k, v in self.request_headers().items() if k != "Content-Type"}
        headers["Accept"] = "application/json"
        deadline = self._deadline(time.monotonic())
        token = _DEADLINE.set(deadline)
        try:
            with self._http.stream("GET", url, headers=headers) as response:
                if response.status_code != 200:
                    return []
                body = _read_bounded(response, self.target.limits, deadline)
        except httpx.HTTPError:
            return []
        finally:
            _DEADLINE.reset(token)
        try:
            listing = orjson.loads(body)
        except orjson.JSONDecodeError:
            return []
        data = listing.get("data") if isinstance(listing, dict) else None
        if not isinstance(data, list):
            return []
        return [str(m["id"]) for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]

    def _new(
        self, request: dict[str, Any] | bytes, changes: Mapping[str, str | None] | None = None
    ) -> LiveResult:
        body = request if isinstance(request, bytes) else orjson.dumps(request)
        headers = with_changes(self.request_headers(), changes)
        exchange = Exchange("POST", self.target.endpoint, headers, body)
        return LiveResult(request, exchange, curl_command(self.target.endpoint, headers, body))

    def _send(self, live: LiveResult, read: Any, checker: StreamChecker | None) -> None:
        """Send the request and hand the response to `read`. A request met by a closed or
        reset connection before any answer is sent once more on a new connection: the
        server may have closed the kept-alive one after its previous answer (without saying
        so), which tells nothing about this request; met again, the drop is this request's."""
        exchange = live.exchange
        budget = self.target.time_budget
        if budget is not None:
            budget.admit(exchange.url)
        start = time.monotonic()
        deadline = self._deadline(start)
        if checker is not None:
            checker.deadline = deadline
        token = _DEADLINE.set(deadline)
        try:
            self._attempts(live, read, checker, start, deadline)
        finally:
            _DEADLINE.reset(token)
        live.timing.total = time.monotonic() - start
        ending = checker.ending if checker is not None else live.ending
        failed = unanswered(exchange, ending)
        self._record((ending.reason if ending else "no response head") if failed else None)

    def _attempts(
        self,
        live: LiveResult,
        read: Any,
        checker: StreamChecker | None,
        start: float,
        deadline: Deadline,
    ) -> None:
        exchange = live.exchange
        for retry in (False, True):
            try:
                self._exchange(live, lambda resp: read(resp, deadline), start)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol) as exc:
                failure = describe_connect(exc, exchange.url)
                self._record(failure)
                raise TargetUnreachable(failure) from exc
            except httpx.HTTPError as exc:
                ending = _ending(exc, exchange.status is None, self.target.limits, deadline)
                if ending.kind is EndingKind.DROPPED and not retry:
                    self._http.close()
                    self._http = self._connections()
                    continue
                if checker is None:
                    live.ending = ending
                else:
                    checker.stop(ending)
            break

    def _deadline(self, start: float) -> Deadline:
        """When the exchange starting now must be over: its deadline, or the run's end."""
        limits, budget = self.target.limits, self.target.time_budget
        deadline = Deadline(
            start + limits.deadline,
            EndingKind.DEADLINE,
            f"the response was not complete after the {limits.deadline:g} s whole-stream "
            "deadline (counted from the request's first byte: head, interim answers and body)",
        )
        if budget is not None and start + budget.left() < deadline.at:
            return Deadline(
                start + budget.left(),
                EndingKind.BUDGET,
                f"the run's budget of {budget.seconds:g} s (--budget) ran out during this exchange",
            )
        return deadline

    def _record(self, failure: str | None) -> None:
        if self.target.time_budget is not None:
            self.target.time_budget.record(failure)

    def _exchange(self, live: LiveResult, read: Any, start: float) -> None:
        exchange = live.exchange
        with self._http.stream(
            "POST",
            exchange.url,
            content=exchange.request_body,
            headers=exchange.request_headers,
        ) as response:
            exchange.status = response.status_code
            exchange.reason = response.reason_phrase
            exchange.response_headers = list(response.headers.multi_items())
            live.timing.first_byte = time.monotonic() - start
            read(response)

    def _read_stream(
        self,
        live: LiveResult,
        response: httpx.Response,
        checker: StreamChecker,
        accepts: str | None,
        *,
        deadline: Deadline,
        tap: Tap | None = None,
    ) -> None:
        if not checker.check_response(live.exchange, accepts=accepts):
            live.body = _read_bounded(response, self.target.limits, deadline)
            return
        limits = self.target.limits
        start = time.monotonic() - (live.timing.first_byte or 0.0)
        feeder = _Feeder(checker, live.timing.events, start)
        try:
            for data in _decoded(response, limits, tap):
                now = time.monotonic()
                if not feeder.add(data, now):
                    return
                if now > deadline.at:
                    feeder.flush()
                    checker.stop(deadline.ending())
                    return
        finally:  # what arrived before a limit, an error or the end is checked first
            feeder.flush()

    def _read_body(self, live: LiveResult, response: httpx.Response, deadline: Deadline) -> None:
        live.body = _read_bounded(response, self.target.limits, deadline)


_CHECKING = threading.Lock()
"""Held while a block is checked. Checking holds the GIL anyway, so streams read at once (the
concurrency test) lose nothing by taking turns; what they gain is that only one of them has
a payload decoded at a time, so memory does not grow with the streams read together."""


class _Feeder:
    """Feeds the checker blocks of up to FEED_SIZE bytes rather than each read (a server that
    flushes every event makes one read an event, and the checker is several times faster on
    a block), and gives each event the arrival time of the read that completed it."""

    def __init__(self, checker: StreamChecker, times: array[float], start: float) -> None:
        self.checker = checker
        self.times = times
        self.start = start
        self.pending: list[bytes] = []
        self.size = 0  # bytes pending
        self.received = 0  # body bytes received so far
        self.read_ends: list[int] = []  # body offset just past each pending read
        self.read_times: list[float] = []  # and when it arrived

    def add(self, data: bytes, now: float) -> bool:
        """Take one read; returns False once the checker says stop reading."""
        self.pending.append(data)
        self.size += len(data)
        self.received += len(data)
        self.read_ends.append(self.received)
        self.read_times.append(now - self.start)
        return self.size < FEED_SIZE or self.flush()

    def flush(self) -> bool:
        """Check what is pending; returns False once the checker says stop reading."""
        if self.pending and not self.checker.ending:
            with _CHECKING:  # one stream at a time: see _CHECKING
                self.checker.feed(b"".join(self.pending))
            self._time(self.checker.fed)
        self.pending.clear()
        self.size = 0
        self.read_ends.clear()
        self.read_times.clear()
        return not self.checker.ending

    def _time(self, events: list[Event]) -> None:
        room = MAX_TIMES - len(self.times)
        if [event.end for event in events] == self.read_ends:  # one read an event: common
            self.times.extend(self.read_times[:room])
            return
        last = len(self.read_ends) - 1
        for event in events[:room]:
            self.times.append(self.read_times[min(bisect_left(self.read_ends, event.end), last)])


def _tls(verify: bool | str) -> bool | ssl.SSLContext:
    """httpx's `verify`: a CA bundle file (`--ca-bundle`) becomes a context trusting the CAs
    in that file only."""
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return verify


_DEADLINE: ContextVar[Deadline | None] = ContextVar("conformance_deadline", default=None)
"""The deadline of the exchange under way in this thread (see `_DeadlineBackend`)."""


def _within(timeout: float | None, timed_out: type[Exception]) -> float | None:
    """`timeout` cut to the time the current exchange has left; `timed_out` once none."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline.at - time.monotonic()
    if left <= 0:
        raise timed_out(deadline.reason)
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every read and write ends by the exchange's deadline: the
    per-read idle timeout alone restarts with each byte, and a head sent a byte a second,
    or interim answers without end, would never time out."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _within(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _within(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        within = _within(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, within))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's network backend, its streams bounded by the exchange's deadline."""

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        within = _within(timeout, httpcore.ConnectTimeout)
        stream = self._backend.connect_tcp(host, port, within, local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        within = _within(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_unix_socket(path, within, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def _bound_by_deadlines(client: httpx.Client) -> None:
    """Put every connection pool of `client` (the default one and those of proxies) on a
    `_DeadlineBackend`. httpx has no option for the network backend, so this reaches into
    its transports; were they to change, the client refuses to start rather than run
    without a deadline on the response head."""
    transports = [client._transport, *client._mounts.values()]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        if transport is not None and not hasattr(pool, "_network_backend"):
            raise RuntimeError(
                f"httpx {httpx.__version__} hides its connection pool: the response head "
                "could not be bounded by the deadline"
            )
        if pool is not None and not isinstance(pool._network_backend, _DeadlineBackend):
            pool._network_backend = _DeadlineBackend(pool._network_backend)


def _read_bounded(response: httpx.Response, limits: Limits, deadline: Deadline) -> bytes:
    """At most ERROR_BODY_LIMIT decoded bytes of a body, within the deadline."""
    body = bytearray()
    for data in _decoded(response, limits):
        body += data
        if len(body) >= ERROR_BODY_LIMIT or time.monotonic() > deadline.at:
            break
    return bytes(body[:ERROR_BODY_LIMIT])


def _decoded(response: httpx.Response, limits: Limits, tap: Tap | None = None) -> Iterator[bytes]:
    """The body with its content coding removed, in bounded pieces; `tap` keeps the pieces
    as they arrived (still coded) for client replay."""
    coding = response.headers.get("content-encoding")
    raw = response.iter_raw() if tap is None else iter(tap.tap(response.iter_raw()))
    if normalise(coding) in IDENTITY:
        return raw  # no generator in between: one read an event is the common case
    try:
        return _as_httpx_errors(decoded(raw, coding))
    except CodingError as exc:
        raise httpx.DecodingError(f"{exc} (not requested)") from exc


def _as_httpx_errors(pieces: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield from pieces
    except CodingError as exc:
        raise httpx.DecodingError(str(exc)) from exc


def with_changes(
    headers: dict[str, str], changes: Mapping[str, str | None] | None
) -> dict[str, str]:
    """`headers` with `changes` applied: a value replaces the header (whatever its case), None
    leaves it out."""
    if not changes:
        return headers
    lowered = {name.lower() for name in changes}
    kept = {name: value for name, value in headers.items() if name.lower() not in lowered}
    return kept | {name: value for name, value in changes.items() if value is not None}


def _ending(
    exc: httpx.HTTPError, before_status: bool, limits: Limits, deadline: Deadline
) -> Ending:
    """`transport_ending`, or the deadline's ending when a read timed out because the
    exchange's time was up."""
    if isinstance(exc, httpx.TimeoutException) and time.monotonic() >= deadline.at:
        ending = deadline.ending()
        if before_status:
            return Ending(ending.kind, f"{ending.reason}: no final status line and headers")
        return ending
    return transport_ending(exc, before_status, limits)


def transport_ending(exc: httpx.HTTPError, before_status: bool, limits: Limits) -> Ending:
    """Why reading an answer stopped, from the error httpx raised."""
    if isinstance(exc, httpx.TimeoutException):
        return Ending(
            EndingKind.IDLE_TIMEOUT,
            f"no data for {limits.idle_timeout:g} s (idle timeout --target-timeout): "
            f"{_describe(exc)}",
        )
    if before_status and HEAD_TOO_LONG in str(exc):
        return Ending(
            EndingKind.HEAD_LIMIT,
            f"the response head exceeds the client's {HEAD_LIMIT // 1024} KiB limit on status "
            f"line and headers: {_describe(exc)}",
        )
    if before_status and _dropped(exc):
        reason = f"the server closed the connection without answering: {_describe(exc)}"
        return Ending(EndingKind.DROPPED, reason)
    if before_status:
        reason = f"the answer is not a valid HTTP response: {_describe(exc)}"
        return Ending(EndingKind.NOT_HTTP, reason)
    reason = f"the connection failed before the response was complete: {_describe(exc)}"
    return Ending(EndingKind.BROKEN, reason)


def _dropped(exc: httpx.HTTPError) -> bool:
    """Whether the connection was closed or reset before any byte of an answer."""
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return True
    return isinstance(exc, httpx.RemoteProtocolError) and NO_RESPONSE in str(exc)


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text


def describe_connect(exc: BaseException, url: str) -> str:
    """Why a connection to `url` could not be made, with what to do about an untrusted
    certificate."""
    text = _describe(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return (
            f"cannot connect to {url}: the server's TLS certificate is not trusted "
            f"({text}); pass --ca-bundle FILE to trust its CA"
        )
    return f"cannot connect to {url}: {text}"
