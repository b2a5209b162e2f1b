"""The schemas in `schemas/` and `conformance._schemas` (loading, validation, rule attribution)."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from conformance import _schemas
from conformance._schemas import SchemaChecker, SchemaError

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
SHAPE_SCHEMAS = ("chunk", "choice", "delta", "request")
SCHEMA_RULES = {
    "chunk.id",
    "chunk.object",
    "chunk.created",
    "chunk.model",
    "chunk.choices",
    "choice.index",
    "choice.delta",
    "choice.finish_reason",
    "delta.content",
    "delta.role",
}

# The seed doc's response example and the two `data:` lines of its SSE example, verbatim.
SEED_EXAMPLE = """{
  "id": "chat-abc123",
  "object": "chat.completion.chunk",
  "created": 1234567890,
  "model": "alphaedge-large-3-2512",
  "choices": [
    {
      "index": 0,
      "delta": {
        "content": "Hello"
      },
      "finish_reason": null
    }
  ]
}"""
SEED_EVENTS = [
    '{"id":"chat-abc123","object":"chat.completion.chunk","created":1234567890,'
    '"model":"alphaedge-large-3-2512","choices":[{"index":0,"delta":{"content":"Hello"},'
    '"finish_reason":null}]}',
    '{"id":"chat-abc123","object":"chat.completion.chunk","created":1234567890,'
    '"model":"alphaedge-large-3-2512","choices":[{"index":0,"delta":{"content":"!"},'
    '"finish_reason":null}]}',
]


def typical_chunk() -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "alphaedge-large-3-2512",
        "choices": [{"index": 0, "delta": {"content": "Hello"}, "finish_reason": None}],
    }


@pytest.fixture(scope="module")
def chunk() -> SchemaChecker:
    return SchemaChecker("chunk")


def walk(node: Any) -> Iterator[Any]:
    """Every dict and list inside `node`, `node` first."""
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    for child in children:
        yield from walk(child)


def property_maps(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for node in walk(document):
        if isinstance(node, dict) and isinstance(node.get("properties"), dict):
            yield from node["properties"].items()


# -- the schema documents ----------------------------------------------------------------


def test_the_expected_schemas_exist() -> None:
    assert {"chunk", "choice", "delta", "request", "error"} <= set(_schemas.names())


@pytest.mark.parametrize("name", _schemas.names())
def test_schema_is_valid_2020_12(name: str) -> None:
    document = _schemas.load(name)
    assert document["$schema"] == DRAFT_2020_12
    Draft202012Validator.check_schema(document)
    assert jsonschema_rs.meta.is_valid(document)


@pytest.mark.parametrize("name", _schemas.names())
def test_schema_id_matches_its_file(name: str) -> None:
    assert _schemas.load(name)["$id"] == _schemas.uri(name)
    assert _schemas.uri(name) == f"https://streaming-conformance.invalid/schemas/{name}.json"


@pytest.mark.parametrize("name", _schemas.names())
def test_every_ref_is_relative_and_resolves(name: str) -> None:
    resolver = _schemas.registry().resolver(base_uri=_schemas.uri(name))
    refs = [n["$ref"] for n in walk(_schemas.load(name)) if isinstance(n, dict) and "$ref" in n]
    for ref in refs:
        assert "://" not in ref, f"{name}: $ref {ref!r} should be relative"
        resolver.lookup(ref)  # raises Unresolvable otherwise


@pytest.mark.parametrize("name", _schemas.names())
def test_examples_are_valid(name: str) -> None:
    checker = SchemaChecker(name)
    for example in _schemas.load(name).get("examples", []):
        assert checker.is_valid(example)
        assert checker.errors(example) == []


@pytest.mark.parametrize("name", SHAPE_SCHEMAS)
def test_every_property_has_a_description(name: str) -> None:
    properties = list(property_maps(_schemas.load(name)))
    assert properties
    for prop, subschema in properties:
        assert isinstance(subschema.get("description"), str), f"{name}: {prop}"
        assert subschema["description"].strip(), f"{name}: {prop}"


def test_chunk_descriptions_quote_the_seed_doc() -> None:
    properties = _schemas.load("chunk")["properties"]
    assert properties["id"]["description"] == "A unique identifier for the completion."
    assert properties["choices"]["description"] == "The list of completion choices."


def test_x_rules_are_the_schema_rules_on_property_subschemas() -> None:
    found: dict[str, str] = {}
    for name in (n for n in _schemas.names() if "/" not in n):  # profiles: test_profiles.py
        for prop, subschema in property_maps(_schemas.load(name)):
            if "x-rule" in subschema:
                assert subschema["x-rule"] not in found, "an x-rule is used twice"
                found[subschema["x-rule"]] = f"{name}.{prop}"
    assert set(found) == SCHEMA_RULES
    assert all(rule == where for rule, where in found.items())


def test_request_schema() -> None:
    request = SchemaChecker("request")
    properties = _schemas.load("request")["properties"]
    assert properties["model"]["default"] == "alphaedge-large-3-2512"
    assert properties["stream"]["default"] is True
    assert _schemas.load("request")["required"] == ["messages"]
    assert request.is_valid({"messages": [{"role": "developer", "content": None}], "top_p": 1})
    assert request.is_valid({"messages": [{"role": "user", "content": [{"type": "text"}]}]})
    assert not request.is_valid({"model": "alphaedge-large-3-2512", "stream": True})
    assert not request.is_valid({"messages": [{"role": "user", "content": 5}]})


def test_error_schema() -> None:
    error = SchemaChecker("error")
    assert error.is_valid({"error": {"message": "bad", "type": None, "param": None, "code": 400}})
    assert not error.is_valid({"detail": "bad"})
    assert [e.json_path for e in error.errors({"error": {}})] == ["$.error.message"]


# -- loading -------------------------------------------------------------------------------


def test_resource_dir_prefers_the_packaged_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "conformance"
    (package / "schemas").mkdir(parents=True)
    monkeypatch.setattr(_schemas, "__file__", str(package / "_schemas.py"))
    assert _schemas.resource_dir("schemas") == package / "schemas"
    assert _schemas.resource_dir("cases") == tmp_path / "cases"


def test_resource_dir_in_the_repository() -> None:
    repository = Path(__file__).resolve().parent.parent
    assert _schemas.resource_dir("schemas") == repository / "schemas"
    assert _schemas.resource_dir("cases") == repository / "cases"


def test_resource_dir_rejects_other_names() -> None:
    with pytest.raises(ValueError, match="unknown resource directory"):
        _schemas.resource_dir("reports")


@pytest.mark.parametrize("name", ["", "../pyproject", "/etc/passwd", "chunk.json"])
def test_load_rejects_bad_names(name: str) -> None:
    with pytest.raises(ValueError, match="bad schema name"):
        _schemas.load(name)


def test_load_is_cached_and_shared_with_the_registry() -> None:
    assert _schemas.load("chunk") is _schemas.load("chunk")
    resolved = _schemas.registry().resolver().lookup(_schemas.uri("chunk"))
    assert resolved.contents is _schemas.load("chunk")


# -- the seed doc's examples and legal chunks -------------------------------------------------


@pytest.mark.parametrize("text", [SEED_EXAMPLE, *SEED_EVENTS])
def test_seed_doc_examples_are_valid(chunk: SchemaChecker, text: str) -> None:
    instance = json.loads(text)
    assert chunk.is_valid(instance)
    assert chunk.errors(instance) == []


def set_choice(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda c: c["choices"][0].__setitem__(key, value)


def set_delta(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda c: c["choices"][0]["delta"].__setitem__(key, value)


LEGAL: dict[str, Callable[[dict[str, Any]], Any]] = {
    "unknown top-level fields": lambda c: c.update(system_fingerprint="fp_1", x_extra={"a": 1}),
    "unknown choice field": set_choice("logprobs", None),
    "unknown delta field": set_delta("reasoning_content", "think"),
    "empty delta": set_choice("delta", {}),
    "delta with only role": set_choice("delta", {"role": "assistant"}),
    "role with empty content": set_delta("role", "assistant"),
    "content null": set_delta("content", None),
    "content empty string": set_delta("content", ""),
    "tool_calls in the delta": set_choice(
        "delta", {"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "f"}}]}
    ),
    "refusal in the delta": set_delta("refusal", "no"),
    "finish_reason missing": lambda c: c["choices"][0].pop("finish_reason"),
    "finish_reason stop": set_choice("finish_reason", "stop"),
    "finish_reason unknown string": set_choice("finish_reason", "content_filter"),
    "usage chunk with no choices": lambda c: c.update(
        choices=[], usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    ),
    "several choices": lambda c: c["choices"].append({"index": 1, "delta": {"content": "x"}}),
    "created as integral float": lambda c: c.update(created=1700000000.0),
    "non-ascii content": set_delta("content", "héllo 😀"),
}


@pytest.mark.parametrize("mutate", LEGAL.values(), ids=LEGAL.keys())
def test_legal_chunks_pass(chunk: SchemaChecker, mutate: Callable[[dict[str, Any]], Any]) -> None:
    instance = typical_chunk()
    mutate(instance)
    assert chunk.is_valid(instance)
    assert chunk.errors(instance) == []


# -- each rule fails, and is attributed --------------------------------------------------------


ILLEGAL: list[tuple[str, Callable[[dict[str, Any]], Any], str, str]] = [
    ("id missing", lambda c: c.pop("id"), "chunk.id", "$.id"),
    ("id empty", lambda c: c.update(id=""), "chunk.id", "$.id"),
    ("id number", lambda c: c.update(id=1), "chunk.id", "$.id"),
    ("object wrong", lambda c: c.update(object="chat.completion"), "chunk.object", "$.object"),
    ("object missing", lambda c: c.pop("object"), "chunk.object", "$.object"),
    ("created string", lambda c: c.update(created="123"), "chunk.created", "$.created"),
    ("created float", lambda c: c.update(created=1.5), "chunk.created", "$.created"),
    ("created missing", lambda c: c.pop("created"), "chunk.created", "$.created"),
    ("model empty", lambda c: c.update(model=""), "chunk.model", "$.model"),
    ("model null", lambda c: c.update(model=None), "chunk.model", "$.model"),
    ("choices object", lambda c: c.update(choices={}), "chunk.choices", "$.choices"),
    ("choices missing", lambda c: c.pop("choices"), "chunk.choices", "$.choices"),
    ("choice not object", lambda c: c.update(choices=[1]), "chunk.choices", "$.choices[0]"),
    ("index string", set_choice("index", "0"), "choice.index", "$.choices[0].index"),
    ("index negative", set_choice("index", -1), "choice.index", "$.choices[0].index"),
    (
        "index missing",
        lambda c: c["choices"][0].pop("index"),
        "choice.index",
        "$.choices[0].index",
    ),
    ("delta string", set_choice("delta", "x"), "choice.delta", "$.choices[0].delta"),
    (
        "delta missing",
        lambda c: c["choices"][0].pop("delta"),
        "choice.delta",
        "$.choices[0].delta",
    ),
    ("content number", set_delta("content", 5), "delta.content", "$.choices[0].delta.content"),
    ("content list", set_delta("content", ["a"]), "delta.content", "$.choices[0].delta.content"),
    ("role user", set_delta("role", "user"), "delta.role", "$.choices[0].delta.role"),
    ("role null", set_delta("role", None), "delta.role", "$.choices[0].delta.role"),
    (
        "finish_reason number",
        set_choice("finish_reason", 1),
        "choice.finish_reason",
        "$.choices[0].finish_reason",
    ),
    (
        "finish_reason false",
        set_choice("finish_reason", False),
        "choice.finish_reason",
        "$.choices[0].finish_reason",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "rule_id", "json_path"),
    [case[1:] for case in ILLEGAL],
    ids=[case[0] for case in ILLEGAL],
)
def test_each_rule_fails_at_its_path(
    chunk: SchemaChecker, mutate: Callable[[dict[str, Any]], Any], rule_id: str, json_path: str
) -> None:
    instance = typical_chunk()
    mutate(instance)
    assert not chunk.is_valid(instance)
    [error] = chunk.errors(instance)
    assert (error.rule_id, error.json_path) == (rule_id, json_path)


def test_every_schema_rule_has_a_failing_case() -> None:
    assert {case[2] for case in ILLEGAL} == SCHEMA_RULES


def test_error_fields_for_a_wrong_value(chunk: SchemaChecker) -> None:
    instance = typical_chunk() | {"object": "chat.completion"}
    assert chunk.errors(instance) == [
        SchemaError(
            rule_id="chunk.object",
            json_path="$.object",
            message='$.object should be const "chat.completion.chunk" but is "chat.completion".',
            expected='const "chat.completion.chunk"',
            received='"chat.completion"',
        )
    ]


def test_error_fields_for_a_missing_property(chunk: SchemaChecker) -> None:
    instance = typical_chunk()
    del instance["choices"][0]["delta"]
    [error] = chunk.errors(instance)
    assert error.expected == 'required property "delta"'
    assert error.received == "missing"
    assert error.message == "$.choices[0].delta is a required property but is missing."


@pytest.mark.parametrize(
    ("mutate", "expected", "received"),
    [
        (lambda c: c.update(created="123"), "type integer", '"123"'),
        (lambda c: c.update(id=""), "a string of at least 1 character", '""'),
        (set_delta("content", 5), "type string or null", "5"),
        (set_choice("index", -1), "a number >= 0", "-1"),
    ],
)
def test_expected_and_received(
    chunk: SchemaChecker, mutate: Callable[[dict[str, Any]], Any], expected: str, received: str
) -> None:
    instance = typical_chunk()
    mutate(instance)
    [error] = chunk.errors(instance)
    assert (error.expected, error.received) == (expected, received)


def test_received_is_short(chunk: SchemaChecker) -> None:
    instance = typical_chunk() | {"id": ["x" * 1000]}
    [error] = chunk.errors(instance)
    assert len(error.received) < 100
    assert error.received.startswith('["xxx')


def test_several_leaves_are_reported_together(chunk: SchemaChecker) -> None:
    instance = typical_chunk()
    del instance["id"], instance["model"]
    instance["choices"].append({"index": "1", "delta": {"role": "user", "content": 5}})
    found = {(e.rule_id, e.json_path) for e in chunk.errors(instance)}
    assert found == {
        ("chunk.id", "$.id"),
        ("chunk.model", "$.model"),
        ("choice.index", "$.choices[1].index"),
        ("delta.role", "$.choices[1].delta.role"),
        ("delta.content", "$.choices[1].delta.content"),
    }


def test_not_an_object_falls_back_to_the_schema_rule(chunk: SchemaChecker) -> None:
    [error] = chunk.errors([])
    assert (error.rule_id, error.json_path, error.expected) == ("chunk.schema", "$", "type object")


def test_refs_are_followed_by_the_compiled_validator(chunk: SchemaChecker) -> None:
    deep = typical_chunk()
    deep["choices"][0]["delta"]["role"] = "user"
    assert not chunk._compiled.is_valid(deep)
    assert chunk._compiled.is_valid(typical_chunk())


def test_non_json_input_is_judged_by_the_rich_validator(chunk: SchemaChecker) -> None:
    assert chunk.is_valid(typical_chunk() | {1: "int key"}) is True
    assert chunk.is_valid(typical_chunk() | {1: "int key", "id": ""}) is False


# -- other schemas: subdirectories, anyOf, unresolvable refs -----------------------------------


@pytest.fixture
def schema_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A `schemas/` of choice, delta and `openai/chunk` in a temporary directory."""
    root = tmp_path / "schemas"
    (root / "openai").mkdir(parents=True)
    for name in ("choice", "delta"):
        shutil.copy(_schemas.resource_dir("schemas") / f"{name}.json", root)
    monkeypatch.setattr(_schemas, "resource_dir", lambda name: tmp_path / name)
    _schemas.clear_caches()
    yield root
    _schemas.clear_caches()


def write_schema(root: Path, name: str, body: dict[str, Any]) -> None:
    document = {"$schema": DRAFT_2020_12, "$id": _schemas.uri(name), **body}
    (root / f"{name}.json").write_text(json.dumps(document), encoding="utf-8")


OPENAI_CHUNK = {
    "type": "object",
    "required": ["choices"],
    "properties": {
        "choices": {
            "x-rule": "chunk.choices",
            "type": "array",
            "items": {"$ref": "../choice.json"},
        },
        "usage": {
            "x-rule": "chunk.usage",
            "anyOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "required": ["total_tokens"],
                    "properties": {"total_tokens": {"x-rule": "usage.total", "type": "integer"}},
                },
            ],
        },
    },
}


def test_subdirectory_schema_with_parent_refs(schema_dir: Path) -> None:
    write_schema(schema_dir, "openai/chunk", OPENAI_CHUNK)
    assert "openai/chunk" in _schemas.names()
    checker = SchemaChecker("openai/chunk")
    good = {"choices": [{"index": 0, "delta": {}}], "usage": None}
    bad = {"choices": [{"index": 0, "delta": {"role": "user"}}]}
    assert checker.is_valid(good)
    assert not checker.is_valid(bad)
    [error] = checker.errors(bad)
    assert (error.rule_id, error.json_path) == ("delta.role", "$.choices[0].delta.role")


def test_any_of_reports_the_best_branch(schema_dir: Path) -> None:
    write_schema(schema_dir, "openai/chunk", OPENAI_CHUNK)
    checker = SchemaChecker("openai/chunk")
    [error] = checker.errors({"choices": [], "usage": {"total_tokens": "3"}})
    assert (error.rule_id, error.json_path) == ("usage.total", "$.usage.total_tokens")
    [error] = checker.errors({"choices": [], "usage": {}})
    assert (error.rule_id, error.json_path) == ("usage.total", "$.usage.total_tokens")


def test_any_of_with_no_matching_type_lists_the_alternatives(schema_dir: Path) -> None:
    write_schema(schema_dir, "openai/chunk", OPENAI_CHUNK)
    [error] = SchemaChecker("openai/chunk").errors({"choices": [], "usage": 5})
    assert (error.rule_id, error.json_path) == ("chunk.usage", "$.usage")
    assert error.expected == "type null or type object"


def test_a_rule_less_schema_falls_back_to_its_name(schema_dir: Path) -> None:
    write_schema(schema_dir, "openai/case", {"required": ["description"]})
    [error] = SchemaChecker("openai/case").errors({})
    assert (error.rule_id, error.json_path) == ("openai/case.schema", "$.description")


def test_an_unresolvable_ref_fails_offline(schema_dir: Path) -> None:
    write_schema(schema_dir, "broken", {"properties": {"a": {"$ref": "missing.json"}}})
    with pytest.raises(ValueError, match=r"missing\.json"):
        SchemaChecker("broken")


# -- the two validators agree ------------------------------------------------------------------

JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["", "chat.completion.chunk", "chat.completion", "assistant", "user"])
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
KEYS = st.sampled_from(["id", "object", "created", "model", "choices", "index", "delta"])
KEYS = KEYS | st.sampled_from(["finish_reason", "content", "role", "usage"]) | st.text(max_size=6)

DELTAS = st.fixed_dictionaries(
    {},
    optional={
        "role": st.just("assistant"),
        "content": st.none() | st.text(max_size=8),
        "tool_calls": st.lists(st.fixed_dictionaries({"index": st.integers(0, 3)}), max_size=2),
    },
)
CHOICES = st.fixed_dictionaries(
    {"index": st.integers(0, 5), "delta": DELTAS},
    optional={"finish_reason": st.none() | st.sampled_from(["stop", "length", "tool_calls"])},
)
CHUNKS = st.fixed_dictionaries(
    {
        "id": st.text(min_size=1, max_size=12),
        "object": st.just("chat.completion.chunk"),
        "created": st.integers(0, 2**40),
        "model": st.text(min_size=1, max_size=12),
        "choices": st.lists(CHOICES, max_size=3),
    },
    optional={"usage": st.none() | st.dictionaries(st.text(max_size=6), st.integers(), max_size=3)},
)


def containers(node: Any) -> list[Any]:
    return [n for n in walk(node) if isinstance(n, dict | list)]


def mutate(data: st.DataObject, instance: dict[str, Any]) -> None:
    """Delete, replace or add one member somewhere inside `instance`."""
    target = data.draw(st.sampled_from(containers(instance)))
    if isinstance(target, list):
        if len(target) > 0 and data.draw(st.booleans()):
            target[data.draw(st.integers(0, len(target) - 1))] = data.draw(JSON_VALUES)
        else:
            target.append(data.draw(JSON_VALUES))
        return
    key = data.draw(st.sampled_from(sorted(target)) | KEYS if target else KEYS)
    if key in target and data.draw(st.booleans()):
        del target[key]
    else:
        target[key] = data.draw(JSON_VALUES)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=CHUNKS, data=st.data())
def test_validators_agree(chunk: SchemaChecker, base: dict[str, Any], data: st.DataObject) -> None:
    instance = copy.deepcopy(base)
    for _ in range(data.draw(st.integers(0, 3))):
        mutate(data, instance)
    valid = chunk.is_valid(instance)
    errors = chunk.errors(instance)
    assert valid == Draft202012Validator(
        _schemas.load("chunk"), registry=_schemas.registry()
    ).is_valid(instance)
    assert valid == (errors == [])
    assert {e.rule_id for e in errors} <= SCHEMA_RULES
    assert all(e.json_path.startswith("$") and e.message and e.expected for e in errors)


@settings(max_examples=100, deadline=None)
@given(base=CHUNKS)
def test_drawn_valid_chunks_pass(chunk: SchemaChecker, base: dict[str, Any]) -> None:
    assert chunk.is_valid(base)
    assert chunk.errors(base) == []
