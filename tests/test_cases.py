"""The YAML case files are valid, unique and name only rules that exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance import _schemas
from conformance._cases import (
    CaseFileError,
    case_files,
    load_cases,
    referenced_rules,
    request_body,
)
from conformance._model import Mistake, Probe
from conformance._profiles import load_profile, profile_names
from conformance._registry import Scope
from conformance.rules import REGISTRY
from conformance.suite._strategies import breakages

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
        if case.accepts:
            assert REGISTRY[case.accepts].scope is Scope.ACCEPTANCE
        if case.outcome_rule:
            assert REGISTRY[case.outcome_rule].scope is Scope.OUTCOME
        assert (case.status == "4xx") == (case.mistake is not None)


def test_invalid_case_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "description: x\ntests:\n  - description: y\n    request: {}\n    expect: {status: '200'}\n"
    )
    with pytest.raises(CaseFileError, match=r"bad\.yaml"):
        load_cases(bad)


def test_every_case_rule_and_default_is_exercised_by_some_case() -> None:
    """Every acceptance and outcome rule is named by a case (or by schemas/request.json, for
    the generated requests); every mistake is made by a case, the generated requests or the
    probes; every rejection rule judges some mistake that is made."""
    cases = [case for path in FILES for case in load_cases(path)]
    named = {r for case in cases for r in referenced_rules(case)}
    named |= {r for r in _schema_named(_schemas.load("request")) if r in REGISTRY}
    by_cases = {r.id for r in REGISTRY if r.scope in (Scope.ACCEPTANCE, Scope.OUTCOME)}
    assert by_cases <= named
    mistakes = {case.mistake for case in cases if case.mistake}
    generated = {b.mistake for name in profile_names() for b in breakages(load_profile(name))}
    probed = {Mistake.WRONG_METHOD} if any(p.method for p in Probe) else set()
    assert mistakes | generated | probed == set(Mistake)
    assert len(mistakes) >= 5
    for rule in REGISTRY.of(Scope.REJECTION):
        assert rule.mistakes is None or rule.mistakes & (mistakes | generated), rule.id


def _schema_named(value: object) -> set[str]:
    """Every `x-accepted-by`-like value in a schema."""
    if isinstance(value, dict):
        found = {v for k, v in value.items() if k.endswith("accepted-by") and isinstance(v, str)}
        return found.union(*(_schema_named(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_schema_named(v) for v in value))
    return set()


def test_raw_cases_fill_in_the_model() -> None:
    case = next(
        c for c in load_cases(FILES[0].with_name("client_forms.yaml")) if "raw" in c.request
    )
    body = request_body(case, "tiny-llama")
    assert isinstance(body, bytes) and b'"model": "tiny-llama"' in body and b"\n" in body


def test_a_mistake_is_named_exactly_for_a_rejection() -> None:
    for expect in ("{status: 4xx}", "{status: '200', mistake: not_json}"):
        document = "description: x\ntests:\n  - description: y\n    request: {raw: x}\n"
        with pytest.raises(CaseFileError):
            _load(document + f"    expect: {expect}\n")


def _load(text: str) -> object:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "case.yaml"
        path.write_text(text)
        return load_cases(path)
