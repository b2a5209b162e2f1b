"""YAML cases: load and validate case files, and run one case against a client."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from conformance._client import Client, LiveResult
from conformance._dispatch import Context, Dispatcher, Reach
from conformance._model import Expectation, Mistake
from conformance._outcome import Outcome
from conformance._profiles import Profile, load_profile
from conformance._schemas import SchemaChecker, resource_dir
from conformance.rules.framing import error_message

MODEL_PLACEHOLDER = "$model"


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
    mistake: Mistake | None = None  # 4xx: the client mistake the request makes
    accepts: str | None = None  # 200: the acceptance rule that judges the answer's head
    outcome_rule: str | None = None  # 200: the outcome rule that judges the completion
    expect: Expectation = field(default_factory=Expectation)
    repeat: int = 1
    feature: str | None = None  # the optional request feature the case exercises
    headers: dict[str, str | None] | None = None  # replacing the usual ones; None: left out


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
    outcome = expect.get("outcome", {})
    mistake = expect.get("mistake")
    return Case(
        file,
        group["description"],
        test["description"],
        test.get("spec", group.get("spec", "")),
        test["request"],
        expect["status"],
        Mistake(mistake) if mistake else None,
        expect.get("accepts"),
        outcome.get("rule"),
        Expectation(outcome.get("finish_reason"), outcome.get("excludes")),
        test.get("repeat", 1),
        test.get("feature"),
        test["request"].get("headers"),
    )


def reach(case: Case) -> Reach:
    """What the case can give rules to judge."""
    if case.mistake is not None:
        return Reach(mistakes=frozenset({case.mistake}))
    return Reach(
        streams=True, sessions=case.repeat > 1, accepts=case.accepts, outcome=case.outcome_rule
    )


def referenced_rules(case: Case) -> list[str]:
    """Every rule id a case names explicitly."""
    return [rule_id for rule_id in (case.accepts, case.outcome_rule) if rule_id]


def request_body(case: Case, model: str) -> dict[str, Any] | bytes:
    """The request to send: the JSON body with `$model` filled in, or the raw bytes."""
    if "raw" in case.request:
        return str(case.request["raw"]).replace(MODEL_PLACEHOLDER, model).encode()
    return _fill(case.request["body"], model)  # type: ignore[no-any-return]


def _fill(value: Any, model: str) -> Any:
    if value == MODEL_PLACEHOLDER:
        return model
    if isinstance(value, dict):
        return {k: _fill(v, model) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, model) for v in value]
    return value


def run_case(case: Case, client: Client) -> Outcome:
    """Send the case's request(s) and judge the answers."""
    request = request_body(case, client.target.model)
    if case.mistake is not None:
        return Outcome([client.reject(request, case.mistake, headers=case.headers)])
    return _run_stream(case, client, request)


def _run_stream(case: Case, client: Client, request: dict[str, Any] | bytes) -> Outcome:
    profile = load_profile(client.target.profile)
    outcome = Outcome()
    for _ in range(case.repeat):
        live = client.stream(
            request, accepts=case.accepts, keep_text=bool(case.outcome_rule), headers=case.headers
        )
        outcome.add(live)
        outcome.unsupported = unsupported(case, live, profile)
        if outcome.unsupported:
            return outcome
        if case.outcome_rule:
            _judge_outcome(case, live, profile)
        if live.unanswered:  # no further request to a target that failed to answer one
            break
    ids = [live.result.completion_id for live in outcome.exchanges if live.result]
    judge_session(outcome, [i for i in ids if i], profile)
    return outcome


def judge_session(outcome: Outcome, ids: list[str], profile: Profile) -> None:
    """Judge the completions of one test together (the session rules)."""
    dispatch = Dispatcher(profile, Context(live=True, request=True))
    dispatch.session(ids)
    outcome.take(dispatch)


def _judge_outcome(case: Case, live: LiveResult, profile: Profile) -> None:
    result = live.result
    if result is None or result.state is None or not case.outcome_rule:
        return
    dispatch = Dispatcher(profile, Context(live=True, request=True))
    dispatch.outcome(case.outcome_rule, result.state, case.expect)
    live.take(dispatch)


def unsupported(case: Case, live: LiveResult, profile: Profile) -> str | None:
    """Why the case is skipped: the target answered an optional feature with a clean 4xx
    (a JSON error body), and the profile does not require the feature."""
    status = live.exchange.status
    if case.feature is None or status is None or not 400 <= status < 500:
        return None
    if profile.requires(case.feature):
        return None
    try:
        body = orjson.loads(live.body)
    except orjson.JSONDecodeError:
        return None
    message = error_message(body) if isinstance(body, dict) else str(body)
    return f"not supported: {case.feature} (HTTP {status}: {message[:200]})"
