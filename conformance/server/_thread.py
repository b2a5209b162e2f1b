"""Running the app: in a background thread for tests, or in the foreground for the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp
from uvicorn.config import LOGGING_CONFIG

from ._app import create_app
from ._faults import FAULTS
from ._hostile import HostileServer
from ._wire import tcp_listener

START_TIMEOUT = 5.0
STOP_TIMEOUT = 5.0


def base_url(host: str, port: int, scheme: str = "http") -> str:
    """`http://host:port/v1`, with an IPv6 host in brackets."""
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}/v1"


def _listen(host: str, port: int) -> socket.socket:
    return tcp_listener(host, port)


def _config(
    app: ASGIApp, grace: float, *, quiet: bool, tls: tuple[str, str] | None = None
) -> uvicorn.Config:
    """uvicorn settings; `quiet` leaves the host process's logging alone (for tests);
    `tls` is (certificate chain file, private key file) to serve HTTPS."""
    certfile, keyfile = tls or (None, None)
    return uvicorn.Config(
        app,
        http="h11",
        loop="asyncio",
        lifespan="off",
        access_log=not quiet,
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
        log_config=None if quiet else LOGGING_CONFIG,
        log_level="warning" if quiet else "info",
        # Annotated int, but uvicorn passes it to asyncio.wait_for, which takes a float.
        timeout_graceful_shutdown=grace,  # type: ignore[arg-type]
    )


class ServerThread:
    """The app served by uvicorn on a loopback socket in a background thread.

    Use as a context manager; `port=0` picks a free port. On exit, responses still
    streaming (a stalled one, say) are cancelled after `grace` seconds. With `tls`
    (certificate chain file, key file) it serves HTTPS. Raw faults, which break HTTP itself,
    are served by a `HostileServer` that `url(fault=...)` starts on first use.
    """

    def __init__(
        self,
        app: ASGIApp | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        grace: float = 0.25,
        tls: tuple[str, str] | None = None,
    ) -> None:
        self.app = create_app() if app is None else app
        self.host = host
        self.port = port
        self.grace = grace
        self.tls = tls
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._hostile: HostileServer | None = None
        self._hostile_lock = threading.Lock()

    @property
    def base_url(self) -> str:
        """The API base URL, e.g. `http://127.0.0.1:54321/v1`."""
        return base_url(self.host, self.port, "https" if self.tls else "http")

    @property
    def hostile(self) -> HostileServer:
        """The raw hostile server (started on first use, stopped with this server)."""
        with self._hostile_lock:
            if self._hostile is None:
                self._hostile = HostileServer(host=self.host).__enter__()
            return self._hostile

    def url(self, *, fault: str | None = None, variation: str | None = None) -> str:
        """The base URL of the routes applying `fault` or `variation` (at most one)."""
        if fault is not None and variation is not None:
            raise ValueError("a route applies a fault or a variation, not both")
        root = self.base_url.removesuffix("/v1")
        if fault is not None and fault in FAULTS and FAULTS[fault].served_raw:
            return self.hostile.url(fault=fault)
        if fault is not None:
            return f"{root}/fault/{fault}/v1"
        if variation is not None:
            return f"{root}/variation/{variation}/v1"
        return self.base_url

    def __enter__(self) -> ServerThread:
        sock = _listen(self.host, self.port)
        self.port = sock.getsockname()[1]
        config = _config(self.app, self.grace, quiet=True, tls=self.tls)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"conformance-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._wait_started(sock)
        return self

    def _wait_started(self, sock: socket.socket) -> None:
        assert self._server is not None and self._thread is not None
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise RuntimeError(f"the server did not start on {self.base_url}")
            time.sleep(0.002)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop the server and wait for its thread (forcing the exit if it lingers)."""
        if self._hostile is not None:
            self._hostile.stop()
            self._hostile = None
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(STOP_TIMEOUT)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(STOP_TIMEOUT)
        self._server = self._thread = None


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    fault: str | None = None,
    variation: str | None = None,
    delay: float = 0.0,
    api_key: str | None = None,
) -> None:
    """Serve in the foreground until interrupted; print the base URL on stdout when ready."""
    if fault in FAULTS and FAULTS[fault].served_raw:
        _serve_hostile(host, port, fault)
        return
    app = create_app(fault=fault, variation=variation, delay=delay, api_key=api_key)
    sock = _listen(host, port)
    url = base_url(host, sock.getsockname()[1])
    server = uvicorn.Server(_config(app, 1.0, quiet=False))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_announcing(server, sock, url))


async def _serve_announcing(server: uvicorn.Server, sock: socket.socket, url: str) -> None:
    announce = asyncio.create_task(_announce(server, url))
    try:
        await server.serve(sockets=[sock])
    finally:
        announce.cancel()


async def _announce(server: uvicorn.Server, url: str) -> None:
    while not server.started:
        await asyncio.sleep(0.01)
    print(url, flush=True)


def _serve_hostile(host: str, port: int, fault: str) -> None:
    """A raw fault in the foreground, until interrupted."""
    with (
        contextlib.suppress(KeyboardInterrupt),
        HostileServer(host=host, port=port, fault=fault) as hostile,
    ):
        print(hostile.base_url, flush=True)
        threading.Event().wait()
