"""The JSON Schemas in `schemas/`: loading, a compiled fast path and rich, rule-attributed errors.

Every chunk goes through `SchemaChecker.is_valid` (jsonschema_rs, compiled once); only an
invalid instance pays for `SchemaChecker.errors` (jsonschema), which explains each failing
leaf and attributes it to the `x-rule` annotation of the deepest schema on its path.
`jsonschema` and `referencing` are imported only then: a run of conformant chunks never
loads them (they cost more to import than a small recording costs to check).

Schemas are named by their path under `schemas/` without `.json` ("chunk", "openai/chunk")
and identified by `SCHEMA_BASE + <path>`; both validators resolve cross-document `$ref`s
through registries holding every schema, offline.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from conformance._model import excerpt

if TYPE_CHECKING:  # imported when an error is explained (see the module docstring)
    import referencing.jsonschema
    from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]
    from referencing._core import Resolver as _Resolver  # exported only from here

    Resolver = _Resolver[referencing.jsonschema.Schema]

__all__ = [
    "SCHEMA_BASE",
    "SchemaChecker",
    "SchemaError",
    "checker",
    "clear_caches",
    "load",
    "names",
    "registry",
    "resource_dir",
    "uri",
]

SCHEMA_BASE = "https://streaming-conformance.invalid/schemas/"
"""Base URI of the schemas; a schema's `$id` is this plus its path under `schemas/`."""

RECEIVED_LIMIT = 60
"""Characters of an offending value kept in `SchemaError.received`."""

_RESOURCES = frozenset({"schemas", "cases", "profiles"})
_REF_HOPS = 32  # `$ref`s followed without progress before a schema walk gives up (cycles)

Segment = str | int


# -- files -----------------------------------------------------------------------------


def resource_dir(name: str) -> Path:
    """The `schemas`, `cases` or `profiles` directory: packaged in the wheel, else at the
    repository top."""
    if name not in _RESOURCES:
        raise ValueError(
            f"unknown resource directory {name!r}; expected one of {sorted(_RESOURCES)}"
        )
    package = Path(__file__).resolve().parent
    packaged = package / name
    return packaged if packaged.is_dir() else package.parent / name


def uri(name: str) -> str:
    """The URI under which schema `name` is registered."""
    return SCHEMA_BASE + _checked_name(name) + ".json"


def names() -> list[str]:
    """Names of every schema under `schemas/` (including subdirectories), sorted."""
    root = resource_dir("schemas")
    return sorted(
        path.relative_to(root).with_suffix("").as_posix() for path in root.rglob("*.json")
    )


@functools.cache
def load(name: str) -> dict[str, Any]:
    """The parsed schema `schemas/<name>.json` (cached and shared: do not mutate it)."""
    path = resource_dir("schemas").joinpath(*PurePosixPath(_checked_name(name)).parts)
    document = json.loads(path.with_name(path.name + ".json").read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise ValueError(f"schema {name!r} ({path}.json) is not a JSON object")
    return document


def _checked_name(name: str) -> str:
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or ".." in parts or name.endswith(".json"):
        raise ValueError(f"bad schema name {name!r}; expected e.g. 'chunk' or 'openai/chunk'")
    return name


def _resources() -> Iterator[tuple[str, dict[str, Any]]]:
    """(uri, document) for every schema, under both its file URI and its `$id` if different."""
    for name in names():
        document = load(name)
        yield uri(name), document
        declared = document.get("$id")
        if isinstance(declared, str) and declared.rstrip("#") != uri(name):
            yield declared.rstrip("#"), document


# -- registries and validators ----------------------------------------------------------


@functools.cache
def registry() -> referencing.jsonschema.SchemaRegistry:
    """A `referencing` registry holding every schema in `schemas/` (2020-12 unless declared)."""
    import referencing
    import referencing.jsonschema

    resources = [
        (key, referencing.Resource.from_contents(doc, referencing.jsonschema.DRAFT202012))
        for key, doc in _resources()
    ]
    return referencing.Registry().with_resources(resources).crawl()


@functools.cache
def _rs_registry() -> jsonschema_rs.Registry:
    return jsonschema_rs.Registry(list(_resources()), draft=jsonschema_rs.Draft202012)


def _compile(name: str) -> Any:
    return jsonschema_rs.validator_for(
        load(name),
        registry=_rs_registry(),
        base_uri=uri(name),
        validate_formats=False,  # as jsonschema does without a FormatChecker
        offline=True,  # an unresolvable $ref is an error, never a download
    )


ERRORS_LIMIT = 100
"""Schema errors explained per instance; the validation of the rest is not done."""


@dataclass(frozen=True, slots=True)
class SchemaError:
    """One failing leaf of a schema validation, attributed to a rule."""

    rule_id: str
    json_path: str
    message: str
    expected: str
    received: str


class SchemaChecker:
    """Validate instances against one schema: `is_valid` is fast, `errors` explains."""

    __slots__ = ("_compiled", "_explainer", "_root", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._root = load(name)
        self._compiled = _compile(name)
        self._explainer: tuple[Any, Resolver] | None = None

    @property
    def _rich(self) -> Any:
        """The `jsonschema` validator, built (and `jsonschema` imported) on first use."""
        return self._explaining()[0]

    @property
    def _resolver(self) -> Resolver:
        return self._explaining()[1]

    def _explaining(self) -> tuple[Any, Resolver]:
        if self._explainer is None:
            from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

            rich = Draft202012Validator(self._root, registry=registry())
            self._explainer = rich, registry().resolver(base_uri=uri(self.name))
        return self._explainer

    def __repr__(self) -> str:
        return f"SchemaChecker({self.name!r})"

    def is_valid(self, instance: object) -> bool:
        """Whether `instance` is valid (compiled validator; the rich one for non-JSON input)."""
        try:
            return bool(self._compiled.is_valid(instance))
        except (ValueError, TypeError, OverflowError):  # e.g. a dict with non-string keys
            return bool(self._rich.is_valid(instance))

    @property
    def compiled_is_valid(self) -> Callable[[object], bool]:
        """The compiled validator's own `is_valid`, for hot loops over decoded JSON.

        It raises ValueError, TypeError or OverflowError for input it cannot convert
        (e.g. an integer beyond 64 bits); `is_valid` handles those.
        """
        return self._compiled.is_valid  # type: ignore[no-any-return]

    def compiled_with(self, schemas: Sequence[dict[str, Any]]) -> Callable[[object], bool] | None:
        """A compiled `is_valid` of this schema and every one of `schemas` together (None
        when they do not compile: a value JSON Schema cannot hold, say). Same caveats as
        `compiled_is_valid`."""
        document = {"allOf": [{"$ref": uri(self.name)}, *schemas]}
        try:
            compiled = jsonschema_rs.validator_for(
                document,
                registry=_rs_registry(),
                base_uri=SCHEMA_BASE + "quiet.json",
                validate_formats=False,
                offline=True,
            )
        except Exception:  # whatever the binding raises: no fast path then
            return None
        is_valid: Callable[[object], bool] = compiled.is_valid
        return is_valid

    def errors(self, instance: object, limit: int = ERRORS_LIMIT) -> list[SchemaError]:
        """One `SchemaError` per failing leaf, the first `limit` of them (empty when
        `instance` is valid). Validation stops there: a chunk listing thousands of broken
        items costs no more than `limit` errors."""
        found: dict[SchemaError, None] = {}  # distinct, in order
        for error in _leaves(self._rich.iter_errors(instance)):
            found.update(dict.fromkeys(self._convert(error)))
            if len(found) >= limit:
                break
        return list(found)[:limit]

    def _convert(self, error: ValidationError) -> list[SchemaError]:
        nodes = self._nodes(error)
        if error.validator == "required":
            return [self._missing(error, nodes, prop) for prop in _missing(error)]
        expected = _expected(error.validator, error.validator_value)
        received = _render(error.instance)
        return [
            SchemaError(
                rule_id=self._rule(nodes),
                json_path=error.json_path,
                message=f"{error.json_path} should be {expected} but is {received}.",
                expected=expected,
                received=received,
            )
        ]

    def _missing(self, error: ValidationError, nodes: list[Any], prop: str) -> SchemaError:
        subschema = _properties(error.schema).get(prop)
        path = error.json_path + _segment(prop)
        return SchemaError(
            rule_id=self._rule([*nodes, subschema]),
            json_path=path,
            message=f"{path} is a required property but is missing.",
            expected=f"required property {_render(prop)}",
            received="missing",
        )

    def _rule(self, nodes: Iterable[Any]) -> str:
        rules = [node["x-rule"] for node in nodes if isinstance(node, dict) and "x-rule" in node]
        return str(rules[-1]) if rules else f"{self.name}.schema"

    def _nodes(self, error: ValidationError) -> list[Any]:
        """The schemas from the root to the one holding the failing keyword (`[]` if lost)."""
        segments = list(error.absolute_schema_path)
        if error.validator is not None:  # a `false` schema fails without a keyword
            segments = segments[:-1]
        return _walk(self._root, self._resolver, segments, error.schema, _REF_HOPS) or []


@functools.cache
def checker(name: str) -> SchemaChecker:
    """A shared `SchemaChecker` for `name` (compiled once per process)."""
    return SchemaChecker(name)


def clear_caches() -> None:
    """Forget loaded schemas, registries and shared checkers (after `schemas/` changed)."""
    for cached in (load, registry, _rs_registry, checker):
        cached.cache_clear()


# -- walking schema paths ---------------------------------------------------------------


def _walk(
    node: Any, resolver: Resolver, segments: Sequence[Segment], target: Any, hops: int
) -> list[Any] | None:
    """Schema nodes from `node` along `segments` to `target`.

    jsonschema leaves `$ref` out of schema paths, so a path may continue inside the schema a
    `$ref` points to; both readings are tried and the one reaching `target` wins.
    """
    if not segments and node is target:
        return [node]
    for child, child_resolver, rest, child_hops in _steps(node, resolver, segments, hops):
        found = _walk(child, child_resolver, rest, target, child_hops)
        if found is not None:
            return [node, *found]
    return None


def _steps(
    node: Any, resolver: Resolver, segments: Sequence[Segment], hops: int
) -> Iterator[tuple[Any, Resolver, Sequence[Segment], int]]:
    if segments and _has(node, segments[0]):
        child = node[segments[0]]
        if segments[0] == "$dynamicRef" and isinstance(child, str):
            yield from _follow(resolver, child, segments[1:], hops)
        else:
            yield child, _enter(resolver, child), segments[1:], _REF_HOPS
    if isinstance(node, dict) and isinstance(node.get("$ref"), str) and hops > 0:
        yield from _follow(resolver, node["$ref"], segments, hops - 1)


def _follow(
    resolver: Resolver, ref: str, segments: Sequence[Segment], hops: int
) -> Iterator[tuple[Any, Resolver, Sequence[Segment], int]]:
    import referencing.exceptions

    try:
        resolved = resolver.lookup(ref)
    except referencing.exceptions.Unresolvable:
        return
    yield resolved.contents, resolved.resolver, segments, hops


def _has(node: Any, segment: Segment) -> bool:
    if isinstance(node, dict):
        return segment in node
    return isinstance(node, list) and isinstance(segment, int) and 0 <= segment < len(node)


def _enter(resolver: Resolver, node: Any) -> Resolver:
    """The resolver inside `node`, which changes the base URI when it declares an `$id`."""
    if isinstance(node, dict) and isinstance(node.get("$id"), str):
        import referencing.jsonschema

        resource = referencing.jsonschema.DRAFT202012.create_resource(node)
        return resolver.in_subresource(resource)
    return resolver


# -- rendering errors -------------------------------------------------------------------


_SHALLOW = frozenset({"type", "const", "enum"})


def _leaves(errors: Iterable[ValidationError]) -> Iterator[ValidationError]:
    """Errors to report: an `anyOf`/`oneOf` is replaced by its best branch's errors.

    When every branch rejects the value itself (its type, const or enum), no branch is
    better than another and the `anyOf`/`oneOf` error is kept, listing the alternatives.
    """
    for error in errors:
        if error.validator in ("anyOf", "oneOf") and error.context and not _shallow(error):
            yield from _leaves(_best_branch(error))
        else:
            yield error


def _shallow(error: ValidationError) -> bool:
    return all(not e.relative_path and e.validator in _SHALLOW for e in error.context)


def _best_branch(error: ValidationError) -> list[ValidationError]:
    """The errors of the branch that came closest: deepest error, then type-matching."""
    from jsonschema.exceptions import relevance

    best = min(error.context, key=relevance)
    branch = best.relative_schema_path[0]
    return [child for child in error.context if child.relative_schema_path[0] == branch]


def _missing(error: ValidationError) -> list[str]:
    instance = error.instance
    return [prop for prop in error.validator_value if prop not in instance]


def _properties(schema: Any) -> dict[str, Any]:
    properties = schema.get("properties") if isinstance(schema, dict) else None
    return properties if isinstance(properties, dict) else {}


def _segment(name: str) -> str:
    """`name` as a JSONPath member, in the style of jsonschema's `ValidationError.json_path`."""
    if name.isidentifier() and name.isascii():
        return f".{name}"
    escaped = name.replace("\\", "\\\\").replace("'", "\\'")
    return f"['{escaped}']"


def _render(value: object) -> str:
    """A short JSON rendering of `value`."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr, separators=(",", ":"))
    except ValueError:  # circular structure
        text = repr(value)
    return excerpt(text, RECEIVED_LIMIT)


def _plural(count: Any, noun: str, nouns: str = "") -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {nouns or noun + 's'}"


def _types(value: Any) -> str:
    return " or ".join(value) if isinstance(value, list) else str(value)


def _alternatives(branches: Any) -> str:
    return " or ".join(_summary(branch) for branch in branches)


def _summary(branch: Any) -> str:
    """A branch of `anyOf`/`oneOf` by its first type-like keyword."""
    for keyword in ("const", "enum", "type"):
        if isinstance(branch, dict) and keyword in branch:
            return _expected(keyword, branch[keyword])
    return f"a value matching {_render(branch)}"


_EXPECTED: dict[str, Callable[[Any], str]] = {
    "anyOf": _alternatives,
    "oneOf": lambda v: f"exactly one of {_alternatives(v)}",
    "const": lambda v: f"const {_render(v)}",
    "enum": lambda v: "one of " + ", ".join(_render(item) for item in v),
    "type": lambda v: f"type {_types(v)}",
    "minLength": lambda v: f"a string of at least {_plural(v, 'character')}",
    "maxLength": lambda v: f"a string of at most {_plural(v, 'character')}",
    "pattern": lambda v: f"a string matching {_render(v)}",
    "minimum": lambda v: f"a number >= {v}",
    "maximum": lambda v: f"a number <= {v}",
    "exclusiveMinimum": lambda v: f"a number > {v}",
    "exclusiveMaximum": lambda v: f"a number < {v}",
    "minItems": lambda v: f"an array of at least {_plural(v, 'item')}",
    "maxItems": lambda v: f"an array of at most {_plural(v, 'item')}",
    "uniqueItems": lambda v: "an array of unique items",
    "minProperties": lambda v: f"an object of at least {_plural(v, 'property', 'properties')}",
    "additionalProperties": lambda v: "no properties other than those listed",
    "unevaluatedProperties": lambda v: "no properties other than those listed",
}


def _expected(keyword: str | None, value: Any) -> str:
    if keyword is None:
        return "nothing (the schema is false)"
    describe = _EXPECTED.get(keyword)
    return describe(value) if describe else f"{keyword} {_render(value)}"
