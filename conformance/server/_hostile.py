"""The hostile server: a raw asyncio TCP server for the faults that break HTTP itself.

Faults whose `raw` answer writes bytes no framework would (see `_raw.py`) are served here,
under the same routes as the reference server: `/fault/{name}/v1/chat/completions`, and
`/v1/chat/completions` for the fault the server was started with. So are the faults of
HTTP/1.1 message handling (`front` quirks): the reference app behind the server's own
HTTP/1.1 front (`_front.py`); `/front/v1/...` serves the app behind the front without any
quirk. A second listener, the *recorder*, stands for "another host": it keeps the headers
of every request it receives, so a test can prove that a redirect did not carry the API
key there.

`ServerThread.url(fault=...)` starts one of these on first use of a raw fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import threading
from types import TracebackType

from . import _front
from ._app import create_app
from ._faults import FAULTS
from ._raw import RawRequest
from ._wire import tcp_listener

START_TIMEOUT = 5.0
STOP_TIMEOUT = 5.0
MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024
_ROUTE = re.compile(r"^(?P<prefix>/fault/(?P<fault>[a-z0-9-]+)|/front)?/v1/")
_BROKEN = (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError)
"""A request that cannot be read, or a client that left: the connection is just closed."""
_NOT_FOUND = (
    b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
)


class HostileServer:
    """Raw faults on a loopback socket, in a background thread; use as a context manager.

    `recorded` holds, for every request the recorder received, its headers as
    (lower-cased name, value) pairs (kept in memory only).
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, fault: str | None = None) -> None:
        if fault is not None and (fault not in FAULTS or not FAULTS[fault].served_raw):
            raw = ", ".join(name for name, f in FAULTS.items() if f.served_raw)
            raise ValueError(f"{fault!r} is not a raw fault; choose from: {raw}")
        self.host = host
        self.port = port
        self.fault = fault
        self.recorded: list[tuple[tuple[str, str], ...]] = []
        self.elsewhere = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._app = create_app()

    @property
    def base_url(self) -> str:
        """`http://host:port/v1`: the routes of the fault the server was started with."""
        return f"{self._root}/v1"

    def url(self, *, fault: str) -> str:
        """The base URL of the routes applying the raw fault `fault`."""
        return f"{self._root}/fault/{fault}/v1"

    @property
    def _root(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}"

    def __enter__(self) -> HostileServer:
        sockets = [tcp_listener(self.host, self.port), _recorder_socket()]
        self.port = sockets[0].getsockname()[1]
        self.elsewhere = "http://{}:{}".format(*sockets[1].getsockname()[:2])
        self._thread = threading.Thread(
            target=self._run, args=(sockets,), daemon=True, name=f"conformance-hostile-{self.port}"
        )
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise RuntimeError(f"the hostile server did not start on {self.base_url}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop serving; connections still open are closed."""
        if self._loop is None or self._thread is None or self._stopping is None:
            return
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(STOP_TIMEOUT)
        self._loop = self._thread = self._stopping = None

    def _run(self, sockets: list[socket.socket]) -> None:
        asyncio.run(self._main(sockets))

    async def _main(self, sockets: list[socket.socket]) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        servers = [
            await asyncio.start_server(self._answer, sock=sockets[0]),
            await asyncio.start_server(self._record, sock=sockets[1]),
        ]
        self._ready.set()
        await self._stopping.wait()
        for server in servers:
            server.close()  # asyncio.run then cancels the answers still being written

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(*_BROKEN):
            head = await reader.readuntil(b"\r\n\r\n")
            route = _ROUTE.match(_path(head))
            name = (route.group("fault") or self.fault) if route else None
            fault = FAULTS.get(name or "")
            if route and route.group("prefix") == "/front":
                await _front.serve(
                    self._app, _front.Quirks(), reader, writer, head=head, prefix="/front"
                )
            elif fault is not None and fault.front is not None:
                prefix = route.group("prefix") or "" if route else ""
                await _front.serve(self._app, fault.front, reader, writer, head=head, prefix=prefix)
            elif fault is None or fault.raw is None:
                message = b'{"error":{"message":"unknown raw fault","type":"not_found"}}'
                writer.write(_NOT_FOUND % (len(message), message))
            else:
                await fault.raw(await _read_request(head, reader, self.elsewhere), writer)
            await writer.drain()
        writer.close()

    async def _record(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(*_BROKEN):
            head = await reader.readuntil(b"\r\n\r\n")
            request = await _read_request(head, reader, "")
            self.recorded.append(tuple((k.lower(), v) for k, v in request.headers))
            message = b'{"error":{"message":"recorded","type":"not_found"}}'
            writer.write(_NOT_FOUND % (len(message), message))
            await writer.drain()
        writer.close()


def _recorder_socket() -> socket.socket:
    """The recorder's listener: on 127.0.0.2, another loopback host, where it can bind."""
    try:
        return tcp_listener("127.0.0.2", 0)
    except OSError:
        return tcp_listener("127.0.0.1", 0)


def _path(head: bytes) -> str:
    """The request target of a request head ("" when there is none)."""
    parts = head.split(b"\r\n", 1)[0].split(b" ")
    return parts[1].decode("latin-1") if len(parts) > 1 else ""


async def _read_request(head: bytes, reader: asyncio.StreamReader, elsewhere: str) -> RawRequest:
    """One HTTP/1.1 request with a Content-Length body (bounded; raises ValueError)."""
    if len(head) > MAX_HEAD:
        raise ValueError("request head too large")
    request_line, *lines = head.decode("latin-1").split("\r\n")[:-2]
    method, path, _ = request_line.split(" ", 2)
    headers = tuple(
        (name.strip(), value.strip()) for name, _, value in (line.partition(":") for line in lines)
    )
    length = int({k.lower(): v for k, v in headers}.get("content-length", "0"))
    if length > MAX_BODY:
        raise ValueError("request body too large")
    body = await reader.readexactly(length)
    return RawRequest(method, path, headers, body, elsewhere)
