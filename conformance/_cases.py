"""YAML cases: load and validate case files, and run one case against a client."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from conformance._check import StreamResult, error_message
from conformance._client import Client, LiveResult
from conformance._model import Violation
from conformance._profiles import load_profile
from conformance._registry import REGISTRY, Problem
from conformance._schemas import SchemaChecker, resource_dir

STREAM = "stream"
MODEL_PLACEHOLDER = "$model"
_STREAM_SCOPES = ("response", "framing", "schema", "chunk", "end", "transport")


class CaseFileError(ValueError):
    """A case file that is not valid YAML or does not match schemas/case.json."""


@dataclass(frozen=True, slots=True)
class Case:
    """One test of a case file."""

    file: str
    group: str
    description: str
    spec: str
    request: dict[str, Any]
    status: str
    rules: tuple[str, ...]
    http_rule: str | None = None
    repeat: int = 1
    profiles: tuple[str, ...] = ()
    feature: str | None = None  # the optional request feature the case exercises
    outcome: dict[str, Any] = field(default_factory=dict)  # expect.outcome (see case.json)


@dataclass(slots=True)
class CaseOutcome:
    """What running a case showed."""

    exchanges: list[LiveResult]
    violations: list[Violation]
    applied: set[str] = field(default_factory=set)
    unsupported: str | None = None  # the target cleanly refused an optional feature


def case_files() -> list[Path]:
    """The packaged case files, sorted."""
    return sorted(resource_dir("cases").glob("*.yaml"))


def load_cases(path: Path) -> list[Case]:
    """The cases of one file, after checking it against schemas/case.json."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CaseFileError(f"{path}: not valid YAML: {exc}") from exc
    errors = SchemaChecker("case").errors(document)
    if errors:
        raise CaseFileError(f"{path}: {errors[0].json_path}: {errors[0].message}")
    return [_case(path.name, document, test) for test in document["tests"]]


def _case(file: str, group: dict[str, Any], test: dict[str, Any]) -> Case:
    expect = test["expect"]
    return Case(
        file,
        group["description"],
        test["description"],
        test.get("spec", group.get("spec", "")),
        test["request"],
        expect["status"],
        tuple(expect["rules"]),
        expect.get("http_rule"),
        test.get("repeat", 1),
        tuple(group.get("profiles", ())),
        test.get("feature"),
        dict(expect.get("outcome", {})),
    )


def referenced_rules(case: Case) -> Iterator[str]:
    """Every rule id a case names explicitly (not the `stream` shorthand)."""
    yield from (r for r in case.rules if r != STREAM)
    if case.http_rule:
        yield case.http_rule
    if case.outcome:
        yield case.outcome["rule"]


def request_body(case: Case, model: str) -> dict[str, Any] | bytes:
    """The request to send: the JSON body with `$model` filled in, or the raw bytes."""
    if "raw" in case.request:
        return str(case.request["raw"]).encode()
    return _fill(case.request["body"], model)  # type: ignore[no-any-return]


def _fill(value: Any, model: str) -> Any:
    if value == MODEL_PLACEHOLDER:
        return model
    if isinstance(value, dict):
        return {k: _fill(v, model) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, model) for v in value]
    return value


def run_case(case: Case, client: Client) -> CaseOutcome:
    """Send the case's request(s) and judge the answers by the case's rules."""
    request = request_body(case, client.target.model)
    if case.status == "4xx":
        return _run_rejection(case, client, request)
    return _run_stream(case, client, request)


def _run_stream(case: Case, client: Client, request: dict[str, Any] | bytes) -> CaseOutcome:
    outcome = CaseOutcome([], [])
    for _ in range(case.repeat):
        live = client.stream(request, http_rule=case.http_rule, keep_text=bool(case.outcome))
        result = live.result
        assert result is not None
        outcome.exchanges.append(live)
        outcome.unsupported = unsupported(case, live, client.target.profile)
        if outcome.unsupported:
            return outcome
        judge_outcome(case, result, outcome)
        outcome.violations += [v for v in result.violations if _selected(case, v.rule_id)]
        outcome.applied |= {r for r in result.applied if _selected(case, r)}
    if "stream.id_unique" in case.rules:
        _check_ids(outcome, [live.result for live in outcome.exchanges])
    return outcome


def unsupported(case: Case, live: LiveResult, profile: str) -> str | None:
    """Why the case is skipped: the target answered an optional feature with a clean 4xx
    (a JSON error body), and the profile does not require the feature."""
    status = live.exchange.status
    if case.feature is None or status is None or not 400 <= status < 500:
        return None
    if load_profile(profile).requires(case.feature):
        return None
    try:
        body = orjson.loads(live.body)
    except orjson.JSONDecodeError:
        return None
    message = error_message(body) if isinstance(body, dict) else str(body)
    return f"not supported: {case.feature} (HTTP {status}: {message[:200]})"


def judge_outcome(case: Case, result: StreamResult, outcome: CaseOutcome) -> None:
    """Judge `expect.outcome`: each choice's finish_reason, and text it must not contain."""
    if not case.outcome:
        return
    rule_id = case.outcome["rule"]
    outcome.applied.add(rule_id)
    for problem in _outcome_problems(case.outcome, result):
        outcome.violations.append(_violation(rule_id, problem))


def _outcome_problems(expect: dict[str, Any], result: StreamResult) -> list[Problem]:
    wanted, excluded = expect.get("finish_reason"), expect.get("excludes")
    problems = []
    for index, reason in (result.finish_reasons or {0: None}).items():
        if wanted and reason != wanted:
            problems.append(
                Problem(
                    f"choice {index} ended with finish_reason {reason!r}",
                    expected=repr(wanted),
                    received=repr(reason),
                    json_path=f"$.choices[{index}].finish_reason",
                )
            )
        text = result.texts.get(index, "")
        if excluded and excluded in text:
            problems.append(
                Problem(
                    f"choice {index}'s text contains {excluded!r}",
                    expected=f"text without {excluded!r}",
                    received=repr(text[:120]),
                    json_path="$.choices[*].delta",
                )
            )
    return problems


def _selected(case: Case, rule_id: str) -> bool:
    if rule_id in case.rules or rule_id == case.http_rule:
        return True
    return STREAM in case.rules and REGISTRY[rule_id].scope in _STREAM_SCOPES


def _check_ids(outcome: CaseOutcome, results: list[StreamResult | None]) -> None:
    rule = REGISTRY["stream.id_unique"]
    outcome.applied.add(rule.id)
    ids = [r.completion_id for r in results if r is not None and r.completion_id]
    assert rule.check is not None
    for problem in rule.check(ids):
        outcome.violations.append(_violation(rule.id, problem))


def _run_rejection(case: Case, client: Client, request: dict[str, Any] | bytes) -> CaseOutcome:
    live = client.send(request)
    outcome = CaseOutcome([live], [], set(case.rules))
    for rule_id in case.rules:
        check = REGISTRY[rule_id].check
        assert check is not None, f"{rule_id} has no check function"
        for problem in check(live.exchange, live.body):
            outcome.violations.append(_violation(rule_id, problem))
    return outcome


def _violation(rule_id: str, problem: Problem) -> Violation:
    rule = REGISTRY[rule_id]
    return Violation(
        rule_id,
        rule.level,
        problem.message,
        problem.expected,
        problem.received,
        problem.event_index,
        problem.offset,
        problem.json_path,
    )
