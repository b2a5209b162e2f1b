"""The raw probes (`conformance._probe`): the clean reference server, and its HTTP/1.1 front
without quirks, pass every one; each front fault is caught by the rule it targets and by no
other; hostile answers end in bounded time; secrets appear only as variables."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conformance._client import Client, Target, TargetUnreachable
from conformance._model import EndingKind, Limits, Mistake, Probe
from conformance._probe import FOLLOWED, PROBE_WAIT, WELL_FORMED, Prober
from conformance._registry import Scope
from conformance.rules import REGISTRY
from conformance.server import FAULTS, HostileServer, ServerThread

FRONTED = sorted(name for name, fault in FAULTS.items() if fault.front is not None)
HELLO = {"model": "alphaedge-large-3-2512", "messages": [{"role": "user", "content": "Hi"}]}


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


def _fired(url: str) -> dict[str, set[str]]:
    """Every rule that fired on any probe, a rejected request or a stream, and where."""
    fired: dict[str, set[str]] = {}
    prober = Prober(Target(url))
    for probe in Probe:
        for finding in prober.run(probe).findings:
            fired.setdefault(finding.rule_id, set()).add(str(probe))
    with Client(Target(url)) as client:
        for name, live in (
            ("reject", client.reject({"model": "x"}, Mistake.MISSING_MESSAGES)),
            ("stream", client.stream(HELLO)),
        ):
            for finding in live.findings:
                fired.setdefault(finding.rule_id, set()).add(name)
    return fired


def test_the_reference_server_passes_every_probe(reference_server: ServerThread) -> None:
    prober = Prober(Target(reference_server.base_url))
    for probe in Probe:
        live = prober.run(probe)
        assert live.findings == [], (probe, live.findings)
        judged = {rule for rule, count in live.judged.items() if count}
        wire = {r.id for r in REGISTRY.of(Scope.WIRE) if probe in r.probes}
        assert wire and wire <= judged, probe


def test_the_front_without_quirks_passes_every_probe(hostile: HostileServer) -> None:
    assert _fired(f"http://127.0.0.1:{hostile.port}/front/v1") == {}


@pytest.mark.parametrize("name", FRONTED)
def test_front_fault_is_caught_by_its_rule_alone(hostile: HostileServer, name: str) -> None:
    fired = _fired(hostile.url(fault=name))
    assert set(fired) == {FAULTS[name].rule_id}, fired


@pytest.mark.slow
def test_the_whole_suite_passes_through_the_front(
    pytester: pytest.Pytester, hostile: HostileServer
) -> None:
    url = f"http://127.0.0.1:{hostile.port}/front/v1"
    result = pytester.runpytest("--target-url", url, "--strict", "--property-examples", "3")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()[-3000:]


def test_probes_that_look_past_the_answer_send_a_second_request(
    reference_server: ServerThread,
) -> None:
    prober = Prober(Target(reference_server.base_url))
    for probe in Probe:
        plan = prober.plan(probe)
        assert bool(plan.follow_up) == (probe in FOLLOWED), probe
        assert plan.content == b"" or probe is Probe.EXPECT_CONTINUE


# -- what the probes write ----------------------------------------------------------------------


def test_the_reproduction_line_writes_the_same_bytes_with_secrets_as_variables(
    reference_server: ServerThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, org = "sk-probe-sentinel-7", "org-probe-sentinel-8"
    target = Target(reference_server.base_url, api_key=key, headers=(("X-Org", org),))
    live = Prober(target).run(Probe.CONNECTION_CLOSE)
    assert key not in live.curl and org not in live.curl
    assert '"$ALPHAEDGE_API_KEY"' in live.curl and '"$CONFORMANCE_HEADER_X_ORG"' in live.curl
    monkeypatch.setenv("ALPHAEDGE_API_KEY", key)
    monkeypatch.setenv("CONFORMANCE_HEADER_X_ORG", org)
    printf = live.curl.rpartition(" | nc ")[0]
    written = subprocess.run(["bash", "-c", printf], capture_output=True, check=True).stdout
    assert written == live.exchange.request_body
    assert f"Authorization: Bearer {key}\r\n".encode() in written


def test_a_malformed_probe_is_written_as_it_says(reference_server: ServerThread) -> None:
    prober = Prober(Target(reference_server.base_url))
    written = {p: prober.run(p).exchange.request_body for p in Probe}
    assert b"\r\nX-Conformance-Probe : " in written[Probe.SPACE_BEFORE_COLON]
    assert b"\r\nHost: " not in written[Probe.MISSING_HOST]
    assert b"\r\nContent-Length: abc\r\n" in written[Probe.INVALID_CONTENT_LENGTH]
    assert written[Probe.HTTP_1_0].startswith(b"POST /v1/chat/completions HTTP/1.0\r\n")
    both = written[Probe.CONTENT_LENGTH_AND_CHUNKED]
    assert b"\r\nContent-Length: " in both and b"\r\nTransfer-Encoding: chunked\r\n" in both


# -- hostile answers ----------------------------------------------------------------------------


class _Listener:
    """A loopback listener that does `act(connection)` with each connection it accepts."""

    def __init__(self, act: Callable[[socket.socket], None]) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        self.act = act
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                conn.recv(65536)
                self.act(conn)
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()


def _closing(conn: socket.socket) -> None:
    pass  # the connection is closed without a byte


def _silent(conn: socket.socket) -> None:
    time.sleep(4)


def _endless(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nAllow: POST\r\n\r\n")
    while True:
        conn.sendall(b"x" * 65536)


@pytest.mark.parametrize("probe", [Probe.GET, Probe.HTTP_1_0, Probe.MISSING_HOST])
def test_a_probe_answered_by_a_closed_connection(probe: Probe) -> None:
    listener = _Listener(_closing)
    try:
        live = Prober(Target(listener.url)).run(probe)
    finally:
        listener.close()
    assert live.ending is not None and live.ending.kind is EndingKind.DROPPED
    rules = {f.rule_id for f in live.findings}
    if probe in WELL_FORMED:
        assert rules == {"request.connection_dropped"}
    else:
        assert rules == {"http1.host_required"}


def _one_answer_per_connection(conn: socket.socket) -> None:
    """Answers the first request (keeping the connection, as HTTP/1.1 allows), then closes
    it without answering the next: what uvicorn does after an application error."""
    body = b'{"error": {"message": "bad"}}'
    conn.sendall(
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    conn.recv(65536)  # the next request: closed without an answer


def test_a_kept_connection_closed_by_the_server_is_not_a_dropped_request() -> None:
    listener = _Listener(_one_answer_per_connection)
    try:
        with Client(Target(listener.url)) as client:
            lives = [client.reject({"model": "x"}, Mistake.MISSING_MESSAGES) for _ in range(3)]
    finally:
        listener.close()
    assert [live.exchange.status for live in lives] == [400, 400, 400]
    assert all(live.findings == [] for live in lives)


def test_a_request_dropped_on_a_new_connection_too_is_dropped() -> None:
    listener = _Listener(_closing)
    try:
        with Client(Target(listener.url)) as client:
            live = client.reject({"model": "x"}, Mistake.MISSING_MESSAGES)
    finally:
        listener.close()
    assert {f.rule_id for f in live.findings} == {"request.connection_dropped"}
    assert live.ending is not None and "without answering" in live.ending.reason


def test_a_silent_server_ends_the_probe_at_the_idle_timeout() -> None:
    listener = _Listener(_silent)
    started = time.monotonic()
    try:
        live = Prober(Target(listener.url, limits=Limits(idle_timeout=1.0))).run(Probe.GET)
    finally:
        listener.close()
    assert time.monotonic() - started < 1.0 + 2.0
    assert live.ending is not None and live.ending.kind is EndingKind.IDLE_TIMEOUT
    assert {f.rule_id for f in live.findings} == {"transport.within_limits"}


def test_an_endless_answer_is_read_within_the_caps() -> None:
    listener = _Listener(_endless)
    started = time.monotonic()
    try:
        live = Prober(Target(listener.url, limits=Limits(deadline=3.0))).run(Probe.GET)
    finally:
        listener.close()
    assert time.monotonic() - started < 3.0 + PROBE_WAIT
    assert len(live.body) <= 64 * 1024  # what the report keeps
    assert live.exchange.status == 405


def test_expect_continue_waits_for_a_100_no_longer_than_the_probe_wait(
    hostile: HostileServer,
) -> None:
    started = time.monotonic()
    live = Prober(Target(hostile.url(fault="no-100-continue"))).run(Probe.EXPECT_CONTINUE)
    assert PROBE_WAIT <= time.monotonic() - started < PROBE_WAIT + 2
    (finding,) = live.findings
    assert finding.rule_id == "http.expect_continue"
    assert live.exchange.status == 200  # the content sent after the wait was answered


def test_an_untrusted_certificate_is_a_connection_error(tmp_path: Path) -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    issued.private_key_pem.write_to_path(str(key))
    for pem in issued.cert_chain_pems:
        pem.write_to_path(str(cert), append=True)
    with ServerThread(tls=(str(cert), str(key))) as server:
        with pytest.raises(TargetUnreachable, match="pass --ca-bundle FILE"):
            Prober(Target(server.base_url)).run(Probe.GET)
        ca_file = tmp_path / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        live = Prober(Target(server.base_url, verify=str(ca_file))).run(Probe.HEAD)
        assert live.findings == [] and live.exchange.status == 405
