"""The pytest plugin, driven through pytester: options, collection and outcomes."""

from __future__ import annotations

import socket
import socketserver
import threading

import pytest

from conformance.server import ServerThread
from tests.streams import read_request_body

FAST = ["--property-examples", "2"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_without_target_the_plugin_stays_out_of_the_way(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ok():\n    assert True\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["conformance: no target*"])


def test_target_runs_exactly_the_suite(
    pytester: pytest.Pytester, reference_server: ServerThread
) -> None:
    pytester.makepyfile(test_unrelated="def test_unrelated():\n    assert False\n")
    result = pytester.runpytest("--target-url", reference_server.base_url, "--collect-only", "-q")
    output = result.stdout.str()
    assert "test_unrelated" not in output
    assert "bad_requests.yaml::request without messages" in output
    assert "test_properties.py::test_valid_requests_stream_conformantly" in output


def test_report_header_shows_target_model_and_options(
    pytester: pytest.Pytester, reference_server: ServerThread
) -> None:
    result = pytester.runpytest(
        "--target-url",
        reference_server.base_url,
        "--model",
        "alphaedge-small-3-2512",
        "--target-timeout",
        "7",
        "--api-key",
        "sk-secret-header-test",
        "--collect-only",
    )
    result.stdout.fnmatch_lines(
        [
            f"conformance target: {reference_server.base_url} (model alphaedge-small-3-2512*",
            "conformance options:*timeout=7s*api-key=set*",
        ]
    )
    assert "sk-secret-header-test" not in result.stdout.str()


def test_environment_and_ini_precedence(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\nmodel = from-ini\ntarget_timeout = 3\n")
    monkeypatch.setenv("CONFORMANCE_TARGET_TIMEOUT", "5")
    result = pytester.runpytest("--target-url", "http://127.0.0.1:9/v1", "--collect-only")
    result.stdout.fnmatch_lines(["*model from-ini*", "*timeout=5s*"])
    result = pytester.runpytest(
        "--target-url", "http://127.0.0.1:9/v1", "--target-timeout", "9", "--collect-only"
    )
    result.stdout.fnmatch_lines(["*timeout=9s*"])


def test_bad_option_value_names_its_source(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONFORMANCE_MAX_EVENTS", "lots")
    result = pytester.runpytest("--target-url", "http://127.0.0.1:9/v1", "--collect-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*$CONFORMANCE_MAX_EVENTS: invalid value 'lots'*"])


def test_unreachable_target_is_a_usage_error(pytester: pytest.Pytester) -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    result = pytester.runpytest_subprocess("--target-url", url, *FAST)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: conformance set-up error: cannot connect to*"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_unreachable_target_is_an_error_not_a_failure(pytester: pytest.Pytester) -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    result = pytester.runpytest("--target-url", url, "-k", "minimal", "--no-preflight", *FAST)
    outcomes = result.parseoutcomes()
    assert outcomes.get("errors", 0) + outcomes.get("failed", 0) >= 1
    result.stdout.fnmatch_lines(["*cannot connect to*"])
    assert "conformance violation" not in result.stdout.str()


def test_failure_shows_rule_location_and_curl(
    pytester: pytest.Pytester, reference_server: ServerThread
) -> None:
    result = pytester.runpytest(
        "--target-url",
        reference_server.url(fault="content-number"),
        "--api-key",
        "sk-never-printed",
        "-k",
        "minimal",
        *FAST,
    )
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "[MUST] delta.content" in output
    assert "$.choices[0].delta.content" in output
    assert "Authorization: Bearer $ALPHAEDGE_API_KEY" in output
    assert "sk-never-printed" not in output


def test_header_values_are_sent_but_never_printed(
    pytester: pytest.Pytester, reference_server: ServerThread
) -> None:
    result = pytester.runpytest(
        "--target-url",
        reference_server.url(fault="empty-id"),
        "--header",
        "X-Org: org-sentinel-42",
        "-k",
        "minimal",
        *FAST,
    )
    output = result.stdout.str()
    assert "X-Org: $CONFORMANCE_HEADER_X_ORG" in output
    assert "org-sentinel-42" not in output


def test_malformed_header_option_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(
        "--target-url", "http://127.0.0.1:9/v1", "--header", "no-colon-here", "--collect-only"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_failing_property_example_shrinks_to_a_minimal_request(
    pytester: pytest.Pytester, reference_server: ServerThread
) -> None:
    result = pytester.runpytest(
        "--target-url",
        reference_server.url(fault="content-number"),
        "-k",
        "test_valid_requests",
        "--property-examples",
        "5",
    )
    output = result.stdout.str()
    result.assert_outcomes(failed=1)
    assert "[MUST] delta.content" in output
    assert "Falsifying example" not in output  # no hypothesis boilerplate: the curl line shows it
    assert '"messages":[{"role":"user","content":"0"}]' in output, output[-3000:]


def test_target_repr_never_shows_secrets() -> None:
    from conformance._client import Target

    target = Target("http://x/v1", api_key="sk-repr-secret", headers=(("X-A", "hv-secret"),))
    assert "sk-repr-secret" not in repr(target)
    assert "hv-secret" not in repr(target)


class _Stalling(socketserver.ThreadingTCPServer):
    """Answers every request with a stream's head and one event, then stalls; counts them."""

    allow_reuse_address = True
    daemon_threads = True
    requests = 0

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _StallHandler)
        self.release = threading.Event()


class _StallHandler(socketserver.StreamRequestHandler):
    server: _Stalling

    def handle(self) -> None:
        read_request_body(self.rfile)
        self.server.requests += 1
        self.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
            b'data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m",'
            b'"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}\n\n'
        )
        self.wfile.flush()
        self.server.release.wait(30)


def test_a_test_sends_nothing_more_once_the_target_failed_to_answer(
    pytester: pytest.Pytester,
) -> None:
    server = _Stalling()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        result = pytester.runpytest(
            "--target-url", url, "--no-preflight", "--target-timeout", "0.5",
            "--property-examples", "5", "-k", "test_valid_requests or gets",
        )  # fmt: skip
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
    result.assert_outcomes(failed=2)
    assert server.requests == 2, server.requests  # one per test, not one per example or repeat
    result.stdout.fnmatch_lines(["*transport.within_limits*no data for 0.5 s*"])
