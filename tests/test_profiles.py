"""The `openai` and `mistral` profiles: each of their rules has a stream that passes it and one
that fails only it; profiles select rules and schemas as data."""

from __future__ import annotations

import copy
import datetime
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance import _schemas
from conformance._check import StreamChecker, StreamResult
from conformance._dispatch import Dispatcher
from conformance._model import Expectation
from conformance._profiles import (
    UnknownProfileError,
    base_rule_ids,
    load_profile,
    profile_document,
    profile_names,
)
from conformance._schemas import resource_dir
from conformance._state import ChoiceState, StreamState
from conformance.rules import REGISTRY
from tests.streams import chunk, completion, ok_exchange, sse

Chunks = list[dict[str, Any]]


def judge(
    chunks: Chunks,
    profile: str = "openai",
    *,
    request: dict[str, Any] | None = None,
    done: bool = True,
    keep_text: bool = False,
) -> StreamResult:
    """Check a completion made of `chunks` under `profile`."""
    checker = StreamChecker(profile=profile, request=request, keep_text=keep_text)
    if checker.check_response(ok_exchange()):
        checker.feed(sse(chunks, done=done))
    return checker.finish()


def fired(result: StreamResult) -> set[str]:
    return set(result.found)


def usage(prompt: int = 5, completion_tokens: int = 3, total: int | None = None) -> dict[str, int]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt + completion_tokens if total is None else total,
    }


def usage_chunk(**kw: Any) -> dict[str, Any]:
    return {**chunk(), "choices": [], "usage": usage(**kw)}


def changed(change: Callable[[Chunks], None], chunks: Chunks | None = None) -> Chunks:
    """A conformant completion (or `chunks`) after `change` modified a copy of it."""
    out = copy.deepcopy(chunks if chunks is not None else completion())
    change(out)
    return out


def choice_of(chunks: Chunks, at: int) -> dict[str, Any]:
    return chunks[at]["choices"][0]  # type: ignore[no-any-return]


def tool_chunks(*deltas: dict[str, Any], finish: str = "tool_calls") -> Chunks:
    """A tool-call completion: role chunk, one chunk per tool-call delta, finish chunk."""
    calls = [chunk(role=True)] + [
        {**chunk(), "choices": [{"index": 0, "delta": {"tool_calls": [d]}, "finish_reason": None}]}
        for d in deltas
    ]
    return [*calls, chunk(finish=finish)]


def call(
    index: int | None,
    arguments: str,
    *,
    first: bool = False,
    name: str = "get_weather",
    **extra: Any,
) -> dict[str, Any]:
    """One OpenAI-style tool-call delta."""
    delta: dict[str, Any] = {} if index is None else {"index": index}
    function: dict[str, Any] = {"arguments": arguments}
    if first:
        delta.update(id=f"call_{index}", type="function")
        function["name"] = name
    return {**delta, "function": function, **extra}


WEATHER = (call(0, "", first=True), call(0, '{"city": '), call(0, '"Paris"}'))
MISTRAL_WHOLE = {"id": "gSIMJiOkT", "function": {"name": "weather", "arguments": {"city": "P"}}}


def _outcome(rule_id: str, finish: str | None, text: str = "", **expect: Any) -> list[Any]:
    state = StreamState(keep_text=True)
    choice = state.choices[0] = ChoiceState(0, 0, 0, text=[text])
    choice.finish_reason = finish
    dispatch = Dispatcher(load_profile("openai"))
    dispatch.outcome(rule_id, state, Expectation(**expect))
    assert dispatch.judged[rule_id] == 1
    return dispatch.findings


def _set_choice(key: str, value: Any, at: int = 1) -> Callable[[Chunks], None]:
    def change(chunks: Chunks) -> None:
        choice_of(chunks, at)[key] = value

    return change


def _drop_finish_key(chunks: Chunks) -> None:
    del choice_of(chunks, 1)["finish_reason"]


def _created_moves(chunks: Chunks) -> None:
    chunks[2]["created"] += 1


# rule id -> (profile, a stream or outcome that breaks only that rule)
FAILING: dict[str, Callable[[], Any]] = {
    "openai.finish_reason": lambda: judge(changed(_drop_finish_key)),
    "openai.logprobs": lambda: judge(changed(_set_choice("logprobs", {"content": "Hel"}))),
    "openai.fields": lambda: judge(changed(lambda c: c[1].update(system_fingerprint=42))),
    "openai.created_consistent": lambda: judge(changed(_created_moves)),
    "openai.tool_call_deltas": lambda: judge(
        tool_chunks(*WEATHER[:2], call(0, '"Paris"}', name="get_weather", first=True))
    ),
    "openai.usage_chunk": lambda: judge(changed(lambda c: c[-1].update(usage=usage()))),
    "openai.usage_requested": lambda: judge(
        completion(), request={"stream_options": {"include_usage": True}}
    ),
    "stream.usage_totals": lambda: judge([*completion(), usage_chunk(total=99)]),
    "stream.choice_finished": lambda: judge(completion()[:-1]),
    "stream.tool_call_arguments": lambda: judge(tool_chunks(*WEATHER[:2])),
    "mistral.finish_reason": lambda: judge(
        changed(_set_choice("finish_reason", "content_filter", at=-1)), "mistral"
    ),
    "mistral.content": lambda: judge(
        changed(lambda c: choice_of(c, 1)["delta"].update(content=[{"type": "text"}])), "mistral"
    ),
    "mistral.tool_calls": lambda: judge(tool_chunks(*WEATHER), "mistral"),
    "request.max_tokens": lambda: _outcome("request.max_tokens", "stop", finish_reason="length"),
    "request.stop": lambda: _outcome(
        "request.stop", "stop", "You said", finish_reason="stop", excludes="said"
    ),
    "request.tool_choice": lambda: _outcome(
        "request.tool_choice", "stop", finish_reason="tool_calls"
    ),
}

PASSING: dict[str, Callable[[], Any]] = {
    "openai.finish_reason": lambda: judge(
        changed(_set_choice("finish_reason", "content_filter", at=-1))
    ),
    "openai.logprobs": lambda: judge(
        changed(
            _set_choice(
                "logprobs",
                {
                    "content": [
                        {
                            "token": "Hel",
                            "logprob": -0.1,
                            "bytes": [72, 101, 108],
                            "top_logprobs": [{"token": "Hel", "logprob": -0.1, "bytes": None}],
                        }
                    ],
                    "refusal": None,
                },
            )
        )
    ),
    "openai.fields": lambda: judge(
        changed(
            lambda c: c[1].update(
                system_fingerprint=None,
                service_tier="flex",
                choices=[
                    {
                        "index": 0,
                        "finish_reason": None,
                        "delta": {
                            "refusal": None,
                            "function_call": {"name": "f", "arguments": "{}"},
                        },
                    }
                ],
            )
        )
    ),
    "openai.created_consistent": lambda: judge(completion()),
    "openai.tool_call_deltas": lambda: judge(tool_chunks(*WEATHER, call(1, "{}", first=True))),
    "openai.usage_chunk": lambda: judge(
        [*completion(), usage_chunk(), {**chunk(), "choices": [], "moderation": {}}]
    ),
    "openai.usage_requested": lambda: judge(
        [*completion(), usage_chunk()], request={"stream_options": {"include_usage": True}}
    ),
    "stream.usage_totals": lambda: judge([*completion(), usage_chunk(prompt=9, total=12)]),
    "stream.choice_finished": lambda: judge(completion()),
    "stream.tool_call_arguments": lambda: judge(tool_chunks(*WEATHER)),
    "mistral.finish_reason": lambda: judge(
        changed(_set_choice("finish_reason", "model_length", at=-1)), "mistral"
    ),
    "mistral.content": lambda: judge(
        changed(
            lambda c: choice_of(c, 1)["delta"].update(
                content=[
                    {"type": "thinking", "thinking": [{"type": "text", "text": "hm"}]},
                    {"type": "text", "text": "Hel"},
                ]
            )
        ),
        "mistral",
    ),
    "mistral.tool_calls": lambda: judge(tool_chunks(MISTRAL_WHOLE), "mistral"),
    "request.max_tokens": lambda: _outcome("request.max_tokens", "length", finish_reason="length"),
    "request.stop": lambda: _outcome(
        "request.stop", "stop", "You ", finish_reason="stop", excludes="said"
    ),
    "request.tool_choice": lambda: _outcome(
        "request.tool_choice", "tool_calls", finish_reason="tool_calls"
    ),
}


def _fired(outcome: Any) -> set[str]:
    if isinstance(outcome, StreamResult):
        return fired(outcome)
    return {v.rule_id for v in outcome}


def profile_rule_ids() -> set[str]:
    """The rules some profile adds to the base rules."""
    return {r.id for r in REGISTRY} - base_rule_ids()


def test_every_profile_rule_has_a_failing_and_a_passing_example() -> None:
    assert set(FAILING) == profile_rule_ids()
    assert set(PASSING) == profile_rule_ids()


@pytest.mark.parametrize("rule_id", sorted(FAILING))
def test_rule_fires_alone_on_its_failing_example(rule_id: str) -> None:
    assert _fired(FAILING[rule_id]()) == {rule_id}


@pytest.mark.parametrize("rule_id", sorted(PASSING))
def test_rule_passes_its_passing_example(rule_id: str) -> None:
    assert _fired(PASSING[rule_id]()) == set()


@pytest.mark.parametrize(
    "reason", ["stop", "length", "tool_calls", "content_filter", "function_call"]
)
def test_every_documented_openai_finish_reason_passes(reason: str) -> None:
    assert fired(judge(changed(_set_choice("finish_reason", reason, at=-1)))) == set()


def test_an_undocumented_finish_reason_fails_openai_but_passes_the_seed_doc() -> None:
    chunks = changed(_set_choice("finish_reason", "model_length", at=-1))
    assert fired(judge(chunks)) == {"openai.finish_reason"}
    assert fired(judge(chunks, "alphaedge")) == set()


def test_usage_on_the_finish_chunk_and_twice_and_before_a_choice() -> None:
    on_finish = changed(lambda c: c[-1].update(usage=usage()))
    assert judge(on_finish).found == {"openai.usage_chunk": 1}
    twice = [*completion(), usage_chunk(), usage_chunk()]
    assert judge(twice).found == {"openai.usage_chunk": 1}
    early = [*completion()[:2], usage_chunk(), *completion()[2:]]
    assert judge(early).found == {"openai.usage_chunk": 3}  # each later choice chunk


def test_usage_sent_although_not_asked_for() -> None:
    result = judge([*completion(), usage_chunk()], request={"stream": True})
    assert fired(result) == {"openai.usage_requested"}
    assert result.judged["openai.usage_requested"] == 1


def test_usage_request_rule_is_not_applied_without_the_request() -> None:
    result = judge(completion())
    assert "openai.usage_requested" not in result.judged
    assert result.unjudged["openai.usage_requested"] == "the request is not recorded"


def test_null_usage_counts_are_not_totals() -> None:
    bad = {
        **chunk(),
        "choices": [],
        "usage": {"prompt_tokens": 4, "completion_tokens": None, "total_tokens": None},
    }
    assert fired(judge([*completion(), bad], "mistral")) == {"stream.usage_totals"}


@pytest.mark.parametrize(
    ("deltas", "why"),
    [
        ((call(0, "", first=True), call(0, "{}", id="call_0")), "repeats id"),
        (
            (
                call(0, "", first=True),
                {"index": 0, "type": "function", "function": {"arguments": "{}"}},
            ),
            "repeats type",
        ),
        ((call(1, "{}", first=True),), "numbered from 0"),
        ((call(0, "{}"),), "lacks id, type, name"),
        ((call(None, "{}", first=True),), "no index"),
    ],
)
def test_tool_call_delta_mistakes(deltas: tuple[dict[str, Any], ...], why: str) -> None:
    result = judge(tool_chunks(*deltas))
    assert fired(result) == {"openai.tool_call_deltas"}, why


@pytest.mark.parametrize(
    ("function", "shown"),
    [(7, "a number"), (True, "a boolean"), ([1, "a", None], "an array"), ("f", "a string")],
)
def test_a_function_that_is_not_an_object_is_a_finding_not_a_crash(
    function: Any, shown: str
) -> None:
    first = {"index": 0, "id": "call_0", "type": "function", "function": function}
    result = judge(tool_chunks(first, finish="length"))  # cut short: arguments not judged
    assert fired(result) == {"openai.tool_call_deltas"}  # the schema's and the rule's own
    (finding,) = [f for f in result.findings if "lacks name" in f.message]
    assert f"function {shown}, not an object" in finding.received


def test_tool_call_bookkeeping_follows_ids_without_index() -> None:
    """Calls without `index` (whole Mistral calls): a new id starts the next call, a delta
    without one continues the call started last."""
    deltas = [{"id": f"c{i}", "function": {"name": "f", "arguments": "{}"}} for i in range(3)]
    more = {"function": {"arguments": " "}}
    body = {**chunk(), "choices": [{"index": 0, "delta": {"tool_calls": [*deltas, more]}}]}
    result = judge([chunk(role=True), body, chunk(finish="tool_calls")], "mistral")
    assert result.state is not None
    tools = result.state.choices[0].tools
    assert [(k, t.id, t.deltas) for k, t in tools.items()] == [
        (0, "c0", 1),
        (1, "c1", 1),
        (2, "c2", 2),
    ]


def test_whole_tool_calls_in_one_delta_pass_openai() -> None:
    both = {
        **chunk(),
        "choices": [
            {
                "index": 0,
                "finish_reason": None,
                "delta": {
                    "tool_calls": [
                        call(0, '{"city": "Paris"}', first=True),
                        call(1, '{"city": "Oslo"}', first=True),
                    ]
                },
            }
        ],
    }
    assert fired(judge([chunk(role=True), both, chunk(finish="tool_calls")])) == set()


def test_arguments_cut_by_length_are_not_judged() -> None:
    assert fired(judge(tool_chunks(*WEATHER[:2], finish="length"))) == set()


def test_mistral_whole_calls_without_index_are_told_apart() -> None:
    second = {"id": "other", "function": {"name": "time", "arguments": '{"tz": "UTC"}'}}
    chunks = tool_chunks(MISTRAL_WHOLE, second)
    assert fired(judge(chunks, "mistral")) == set()
    result = judge(chunks, "mistral", keep_text=True)
    assert result.finish_reasons == {0: "tool_calls"}


def test_mistral_content_parts_are_kept_as_text() -> None:
    chunks = changed(
        lambda c: choice_of(c, 1)["delta"].update(
            content=[{"type": "thinking", "thinking": []}, {"type": "text", "text": "Hi"}]
        )
    )
    assert judge(chunks, "mistral", keep_text=True).texts == {0: "Hilo!"}


def test_mistral_object_and_created_are_optional_but_checked_when_present() -> None:
    def drop(chunks: Chunks) -> None:
        for c in chunks:
            del c["object"], c["created"]

    assert fired(judge(changed(drop), "mistral")) == set()
    assert fired(judge(changed(drop), "alphaedge")) == {"chunk.object", "chunk.created"}
    wrong = changed(lambda c: c[1].update(object="text_completion"))
    assert fired(judge(wrong, "mistral")) == {"chunk.object"}


def test_each_choice_of_n_finishes_once() -> None:
    two = [*completion(), *completion(index=1)]
    assert fired(judge(two, request={"n": 2})) == set()
    assert fired(judge(two[:-1], request={"n": 2})) == {"stream.choice_finished"}
    again = [*two, chunk(finish="stop", index=1)]
    assert fired(judge(again, request={"n": 2})) == {"stream.empty_after_finish"}
    other = [*two, chunk(finish="length", index=1)]
    assert fired(judge(other, request={"n": 2})) == {"stream.after_finish"}


# -- profiles as data ---------------------------------------------------------------------------


def test_the_three_profiles_exist() -> None:
    assert {"alphaedge", "openai", "mistral"} <= set(profile_names())
    assert load_profile("openai").chunk_schema == "openai/chunk"
    assert load_profile("mistral").chunk_schema == "mistral/chunk"
    assert load_profile("alphaedge").chunk_schema == "chunk"


def test_an_unknown_profile_is_refused_with_the_known_ones() -> None:
    with pytest.raises(UnknownProfileError, match="known profiles: alphaedge"):
        load_profile("claude")


@pytest.mark.parametrize("name", ["alphaedge", "openai", "mistral"])
def test_profile_selection_is_consistent(name: str) -> None:
    profile = load_profile(name)
    ids = {r.id for r in profile.rules()}
    assert set(profile.excluded) <= {r.id for r in REGISTRY}, "excludes only known rules"
    assert not set(profile.excluded) & ids
    added = set(profile.add) | {new for new, _ in profile.replace.values()}
    assert added <= ids
    assert ids == (base_rule_ids() - set(profile.excluded)) | added


def _x_rules(schema: str, pointer: str = "", seen: set[str] | None = None) -> set[str]:
    """Every x-rule reachable from `schema` at `pointer`, following $refs into other files."""
    seen = seen if seen is not None else set()
    if f"{schema}#{pointer}" in seen:
        return set()
    seen.add(f"{schema}#{pointer}")
    node: Any = _schemas.load(schema)
    for key in filter(None, pointer.split("/")):
        node = node[key]
    found: set[str] = set()
    stack: list[Any] = [node]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "x-rule" in node:
                found.add(node["x-rule"])
            ref = node.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                path, _, fragment = ref.partition("#")
                base = schema.rsplit("/", 1)[0] + "/" if "/" in schema else ""
                found |= _x_rules(_normalise(base + path), fragment, seen)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _normalise(path: str) -> str:
    parts: list[str] = []
    for part in path.removesuffix(".json").split("/"):
        if part == "..":
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)


@pytest.mark.parametrize("name", ["alphaedge", "openai", "mistral"])
def test_schema_rules_of_a_profile_are_exactly_its_schemas_x_rules(name: str) -> None:
    profile = load_profile(name)
    x_rules = _x_rules(profile.chunk_schema)
    schema_scope = {r.id for r in profile.rules() if r.scope == "schema"}
    assert schema_scope, "every profile has shape rules"
    assert schema_scope <= x_rules, "a schema rule of the profile that no schema enforces"
    assert x_rules <= {r.id for r in profile.rules()}, "an x-rule outside the profile"


def test_excluded_rules_are_neither_applied_nor_reported() -> None:
    result = judge(changed(_set_choice("finish_reason", 7, at=-1)))
    assert "choice.finish_reason" not in set(result.judged) | set(result.found)
    assert fired(result) == {"openai.finish_reason"}
    text = judge(completion()[:-1], "alphaedge")
    assert fired(text) == {"stream.finish_reason_present"}


# -- a profile file's content, kept as JSON once parsed ----------------------------------------


def _kept(folder: Path) -> list[str]:
    return sorted(p.name for p in (folder / "__pycache__").glob("*.json"))


@pytest.fixture
def writing_bytecode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python writing bytecode, as by default (this environment may say not to)."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)


@pytest.mark.usefixtures("writing_bytecode")
def test_a_parsed_profile_is_kept_and_read_back_the_same(tmp_path: Path) -> None:
    for name in profile_names():
        path = tmp_path / f"{name}.yaml"
        path.write_bytes((resource_dir("profiles") / f"{name}.yaml").read_bytes())
        parsed = profile_document(path)
        assert len([n for n in _kept(tmp_path) if n.startswith(f"{name}.")]) == 1
        assert profile_document(path) == parsed  # from the JSON this time
        assert parsed == yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.usefixtures("writing_bytecode")
def test_a_changed_profile_file_is_read_again_and_its_stale_copy_goes(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nadd: [a]\n")
    assert profile_document(path) == {"name": "p", "add": ["a"]}
    first = _kept(tmp_path)
    path.write_text("name: p\nadd: [a, b]\n")
    assert profile_document(path) == {"name": "p", "add": ["a", "b"]}
    assert len(_kept(tmp_path)) == 1
    assert _kept(tmp_path) != first


@pytest.mark.usefixtures("writing_bytecode")
def test_what_json_cannot_hold_is_not_kept_and_nothing_is_kept_under_no_bytecode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dated = tmp_path / "dated.yaml"
    dated.write_text("name: dated\nsince: 2026-11-29\n")
    assert profile_document(dated) == {"name": "dated", "since": datetime.date(2026, 11, 29)}
    assert _kept(tmp_path) == []
    assert profile_document(dated)["since"] == datetime.date(2026, 11, 29)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    plain = tmp_path / "plain.yaml"
    plain.write_text("name: plain\n")
    assert profile_document(plain) == {"name": "plain"}
    assert _kept(tmp_path) == []


@pytest.mark.usefixtures("writing_bytecode")
def test_a_copy_that_cannot_be_written_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: p\n")

    def full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    assert profile_document(path) == {"name": "p"}
    assert list((tmp_path / "__pycache__").iterdir()) == []


@pytest.mark.usefixtures("writing_bytecode")
def test_a_profile_s_copy_is_not_taken_for_that_of_a_name_it_begins(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("name: p\n")
    (tmp_path / "p.x.yaml").write_text("name: p.x\n")
    profile_document(tmp_path / "p.x.yaml")
    profile_document(tmp_path / "p.yaml")  # its stale copies are p.*, but not p.x.*
    assert [name.count(".") for name in _kept(tmp_path)] == [2, 3]
