"""`conformance.suite.REACH` is in step with the suite's tests, and every rule of every
profile is reached by some test of the suite (so "not exercised" can only mean its tests
gave it nothing to judge)."""

from __future__ import annotations

import pytest

from conformance._profiles import load_profile, profile_names
from conformance._registry import Scope
from conformance.plugin import suite_reach
from conformance.server import ServerThread
from conformance.suite import REACH


def test_every_suite_test_has_its_reach(
    pytester: pytest.Pytester, reference_server: ServerThread
) -> None:
    result = pytester.runpytest(
        "--target-url", reference_server.base_url, "--collect-only", "-q", "--no-preflight"
    )
    collected = {
        line.rsplit("/", 1)[-1]
        for line in result.stdout.lines
        if "::" in line and ".yaml" not in line
    }
    assert collected == set(REACH)


@pytest.mark.parametrize("profile", profile_names())
def test_every_rule_is_reached_by_some_test(profile: str) -> None:
    reached = set().union(*suite_reach(profile).values())
    rules = {r.id for r in load_profile(profile).rules() if r.scope is not Scope.CLIENT}
    assert rules - reached == set()
