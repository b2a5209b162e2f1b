"""The whole suite, run through pytest, against the reference server on a real socket:
the clean server and every legal variation pass; every fault fails naming its rule."""

from __future__ import annotations

import re

import pytest

from conformance._model import Level
from conformance._profiles import base_rule_ids
from conformance.rules import REGISTRY
from conformance.server import FAULTS, VARIATIONS, ServerThread

FAST = ["--property-examples", "3"]


def _rules_named(output: str) -> set[str]:
    return set(re.findall(r"\[(?:MUST|SHOULD)\] ([a-z0-9_]+\.[a-z0-9_]+)", output))


def test_clean_server_passes_the_whole_suite(
    pytester: pytest.Pytester, reference_server: ServerThread
) -> None:
    result = pytester.runpytest(
        "--target-url", reference_server.base_url, "--fail-on", "should", "-v", *FAST
    )
    result.assert_outcomes(passed=_suite_size(pytester, reference_server.base_url))
    output = result.stdout.str()
    assert "conformance target: " + reference_server.base_url in output
    assert "case: minimal conversation" in output or "minimal conversation" in output
    assert "test_valid_requests_stream_conformantly" in output


def _suite_size(pytester: pytest.Pytester, url: str) -> int:
    collected = pytester.runpytest("--target-url", url, "--collect-only", "-q", *FAST)
    lines = [line for line in collected.stdout.lines if "::" in line]
    assert len(lines) >= 15
    return len(lines)


@pytest.mark.parametrize("name", sorted(VARIATIONS))
def test_legal_variation_passes_the_suite(
    pytester: pytest.Pytester, reference_server: ServerThread, name: str
) -> None:
    result = pytester.runpytest(
        "--target-url", reference_server.url(variation=name), "--fail-on", "should", *FAST
    )
    assert result.ret == 0, result.stdout.str()[-3000:]


def _fault_args(name: str) -> list[str]:
    if name == "stall-mid-stream":
        return ["--target-timeout", "0.5", "--property-examples", "1"]
    if name == "drop-last-choice":  # only the n=2 case of the openai profile asks for 2 choices
        return ["--profile", "openai"]
    return []


@pytest.mark.parametrize("name", sorted(n for n, f in FAULTS.items() if not f.hostile))
def test_fault_is_caught_by_its_rule(
    pytester: pytest.Pytester,  # hostile: test_hostile.py
    reference_server: ServerThread,
    name: str,
) -> None:
    fault = FAULTS[name]
    rule = REGISTRY[fault.rule_id]
    url = reference_server.url(fault=name)
    result = pytester.runpytest("--target-url", url, *FAST, *_fault_args(name))
    output = result.stdout.str()
    assert fault.rule_id in _rules_named(output), output[-4000:]
    if rule.level is Level.MUST:
        assert result.ret == pytest.ExitCode.TESTS_FAILED
    else:
        assert result.ret == pytest.ExitCode.OK, output[-4000:]
        assert f"WARNED [SHOULD] {fault.rule_id}" in output
        strict = pytester.runpytest("--target-url", url, "--fail-on", "should", *FAST)
        assert strict.ret == pytest.ExitCode.TESTS_FAILED


def test_every_rule_has_a_fault() -> None:
    targeted = {f.rule_id for f in FAULTS.values()}
    general = base_rule_ids()  # the rules profiles add: test_profiles.py
    # client.* rules judge client libraries, not the server: the reference server's
    # variations that trip each library are in tests/test_clients.py
    clients = {rule_id for rule_id in general if rule_id.startswith("client.")}
    assert general - clients - targeted == set()
