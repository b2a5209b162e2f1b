"""The suite run live under the `openai` and `mistral` profiles: the reference server passes the
openai profile, optional features a target refuses cleanly are skipped as not supported, and
a refused required feature fails."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator

import pytest

from conformance._schemas import resource_dir
from conformance.server import ServerThread
from tests.streams import good_body, read_request_body

FAST = ["--property-examples", "2"]


def test_reference_server_passes_the_openai_profile(
    pytester: pytest.Pytester, reference_server: ServerThread
) -> None:
    result = pytester.runpytest(
        "--target-url",
        reference_server.base_url,
        "--profile",
        "openai",
        "--fail-on",
        "should",
        "-v",
        *FAST,
    )
    output = result.stdout.str()
    assert result.ret == 0, output[-3000:]
    assert "SKIPPED" not in output, "the reference server supports every optional feature"
    for case in (
        "n=2 streams two choices",
        "max_tokens cuts the reply",
        "a stop sequence ends the reply",
        "a forced tool_choice streams a tool call",
        "include_usage adds one final usage chunk",
    ):
        assert f"{case}" in output and "PASSED" in output


def test_reference_server_tool_deltas_are_not_mistral_shaped(
    pytester: pytest.Pytester, reference_server: ServerThread
) -> None:
    cases = str(resource_dir("cases") / "features.yaml")
    result = pytester.runpytest(
        "--target-url", reference_server.base_url, "--profile", "mistral", cases
    )
    result.assert_outcomes(passed=3, failed=1)
    output = result.stdout.str()
    assert "[MUST] mistral.tool_calls" in output
    assert "function.name is a required property but is missing" in output


class _Refuser(socketserver.ThreadingTCPServer):
    """Refuses requests naming `refused` with a clean 400 JSON error; streams otherwise."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, refused: bytes) -> None:
        self.refused = refused
        super().__init__(("127.0.0.1", 0), _RefuserHandler)


class _RefuserHandler(socketserver.StreamRequestHandler):
    server: _Refuser

    def handle(self) -> None:
        if self.server.refused in read_request_body(self.rfile):
            body = b'{"error": {"message": "unsupported parameter", "type": "invalid_request"}}'
            head = (
                f"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            self.wfile.write(head.encode() + body)
            return
        self.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Connection: close\r\n\r\n" + good_body()
        )


def _refusing(refused: bytes) -> Iterator[str]:
    server = _Refuser(refused)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("refused", "case", "outcome"),
    [
        (b'"n"', "two and choices", "skipped"),
        (b'"max_tokens"', "max_tokens", "failed"),  # the openai profile requires max_tokens
    ],
)
def test_a_cleanly_refused_feature(
    pytester: pytest.Pytester, refused: bytes, case: str, outcome: str
) -> None:
    cases = str(resource_dir("cases") / "features.yaml")
    for url in _refusing(refused):
        result = pytester.runpytest(
            "--target-url", url, "--profile", "openai", "-rs", "-k", case, cases
        )
    result.assert_outcomes(**{outcome: 1})
    if outcome == "skipped":
        assert "not supported: n (HTTP 400: unsupported parameter)" in result.stdout.str()
    else:
        assert "[MUST] http.status_ok" in result.stdout.str()
