"""CI skips nothing: under CONFORMANCE_NO_SKIPS=1 a skip fails and says why; elsewhere every
skip shows its reason in the summary of the README's test command."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = (Path(__file__).parent / "conftest.py").read_text(encoding="utf-8")
SKIPPING = """
import pytest

def test_needs_the_corpus():
    pytest.skip("the real corpus is not at ../shared/corpus/real")
"""


def test_a_skip_fails_in_ci(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(SKIPPING)
    monkeypatch.setenv("CONFORMANCE_NO_SKIPS", "1")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*skipped in CI, where nothing may skip*real corpus*"])


def test_a_skip_states_its_reason_elsewhere(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(SKIPPING)
    monkeypatch.delenv("CONFORMANCE_NO_SKIPS", raising=False)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rfEs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED *the real corpus is not at ../shared/corpus/real"])
