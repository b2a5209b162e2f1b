"""Scale: the concurrency test of the packaged suite, and the suite under pytest-xdist."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.server import ServerThread

CONCURRENCY = ["-k", "concurrent"]


def _throughput(recorder: Any) -> dict[str, Any]:
    [report] = [
        r
        for r in recorder.getreports("pytest_runtest_logreport")
        if r.when == "call" and "concurrent" in r.nodeid
    ]
    return dict(report.user_properties)["throughput"]  # type: ignore[no-any-return]


def test_concurrent_streams_pass_and_record_the_throughput(
    pytester: pytest.Pytester, reference_server: ServerThread
) -> None:
    recorder = pytester.inline_run(
        "--target-url",
        reference_server.base_url,
        "--fail-on",
        "should",
        "--concurrency",
        "6",
        *CONCURRENCY,
    )
    recorder.assertoutcome(passed=1)
    throughput = _throughput(recorder)
    assert throughput["streams"] == 6 and throughput["seconds"] > 0
    assert throughput["events_per_s"] > throughput["streams_per_s"] > 0


def test_concurrent_streams_sharing_an_id_fail(
    pytester: pytest.Pytester, reference_server: ServerThread
) -> None:
    result = pytester.runpytest(
        "--target-url", reference_server.url(fault="reused-id"), "--concurrency", "3", *CONCURRENCY
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "[MUST] stream.id_unique" in result.stdout.str()
    assert "completions 1 and 2 share one id" in result.stdout.str()


def test_concurrency_must_be_positive(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--target-url", "http://127.0.0.1:9/v1", "--concurrency", "0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--concurrency: invalid value '0': must be at least 1" in result.stderr.str()


@pytest.mark.slow
def test_the_suite_runs_under_xdist(
    pytester: pytest.Pytester, reference_server: ServerThread
) -> None:
    result = pytester.runpytest_subprocess(
        "--target-url",
        reference_server.base_url,
        "-n",
        "2",
        "--property-examples",
        "2",
        "--concurrency",
        "4",
        timeout=240,
    )
    output = result.stdout.str()
    assert result.ret == pytest.ExitCode.OK, output[-3000:]
    assert "2 workers" in output or "bringing up nodes" in output
    result.assert_outcomes(passed=_suite_size(pytester, reference_server.base_url))


def _suite_size(pytester: pytest.Pytester, url: str) -> int:
    collected = pytester.runpytest("--target-url", url, "--collect-only", "-q")
    return len([line for line in collected.stdout.lines if "::" in line])
