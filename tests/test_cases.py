"""The YAML case files are valid, unique and name only rules that exist."""

from __future__ import annotations

from pathlib import Path

import pytest

import conformance.rules  # noqa: F401
from conformance._cases import CaseFileError, case_files, load_cases, referenced_rules
from conformance._registry import REGISTRY

FILES = case_files()


def test_there_are_case_files() -> None:
    assert {p.name for p in FILES} >= {"streaming.yaml", "defaults.yaml", "bad_requests.yaml"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_case_file_is_valid(path: Path) -> None:
    cases = load_cases(path)
    descriptions = [c.description for c in cases]
    assert len(descriptions) == len(set(descriptions)), "descriptions must be unique"
    for case in cases:
        for rule_id in referenced_rules(case):
            assert rule_id in REGISTRY, f"{case.description}: unknown rule {rule_id}"
        if case.http_rule:
            assert REGISTRY[case.http_rule].scope == "case"
        if case.status == "4xx":
            assert all(REGISTRY[r].scope == "rejection" for r in case.rules)


def test_invalid_case_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "description: x\ntests:\n  - description: y\n    request: {}\n"
        "    expect: {status: '200', rules: [stream]}\n"
    )
    with pytest.raises(CaseFileError, match=r"bad\.yaml"):
        load_cases(bad)


def test_every_case_rule_and_default_is_exercised_by_some_case() -> None:
    named = {r for path in FILES for case in load_cases(path) for r in referenced_rules(case)}
    by_cases = {r.id for r in REGISTRY if r.scope in ("rejection", "case")}
    assert by_cases <= named
