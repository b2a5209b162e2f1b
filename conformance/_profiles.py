"""Profiles as data: which rules and which chunk schema certify an endpoint against a contract.

A profile is a YAML file in `profiles/` (the seed doc's `alphaedge`, `openai`, `mistral`):
its chunk schema under `schemas/`, the general rules it leaves out (each with the rule that
replaces it), and the optional request features it requires. A rule registered with
`profiles={...}` belongs only to the profiles it names; every other rule belongs to all.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from conformance._registry import REGISTRY, Rule
from conformance._schemas import names as schema_names
from conformance._schemas import resource_dir

DEFAULT = "alphaedge"
FEATURES = frozenset({"n", "stream_options.include_usage", "tools", "max_tokens", "stop"})
"""Optional request features a case can exercise (`feature:` in a case file)."""

_KEYS = {"name", "title", "source", "description", "chunk_schema", "exclude", "features"}


class UnknownProfileError(ValueError):
    """A profile name with no file in `profiles/`, or a profile file that is malformed."""


@dataclass(frozen=True, slots=True)
class Profile:
    """One contract an endpoint can be certified against."""

    name: str
    title: str
    source: str
    chunk_schema: str
    exclude: Mapping[str, str]
    required_features: frozenset[str]

    def includes(self, rule: Rule) -> bool:
        """Whether `rule` is part of this profile."""
        return rule.applies_to(self.name) and rule.id not in self.exclude

    def rules(self) -> list[Rule]:
        """Every registered rule of this profile, in registration order."""
        import conformance.rules  # noqa: F401  (registers every rule)

        return [rule for rule in REGISTRY if self.includes(rule)]

    def checker_options(self) -> dict[str, Any]:
        """The `StreamChecker` keyword arguments that select this profile."""
        return {
            "profile": self.name,
            "chunk_schema": self.chunk_schema,
            "exclude": frozenset(self.exclude),
        }

    def requires(self, feature: str) -> bool:
        """Whether an endpoint of this profile must support `feature` (not merely may)."""
        return feature in self.required_features


def profile_names() -> list[str]:
    """The names of every profile file, sorted."""
    return sorted(path.stem for path in resource_dir("profiles").glob("*.yaml"))


@functools.cache
def load_profile(name: str) -> Profile:
    """The profile called `name` (cached)."""
    if name not in profile_names():
        raise UnknownProfileError(
            f"unknown profile {name!r}; known profiles: {', '.join(profile_names())}"
        )
    path = resource_dir("profiles") / f"{name}.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return _parse(path.name, name, document)


def _parse(file: str, name: str, document: Any) -> Profile:
    if not isinstance(document, dict) or set(document) - _KEYS or document.get("name") != name:
        raise UnknownProfileError(f"{file}: expected the keys {sorted(_KEYS)} and name {name!r}")
    schema = str(document.get("chunk_schema", "chunk"))
    if schema not in schema_names():
        raise UnknownProfileError(f"{file}: unknown chunk schema {schema!r}")
    required = frozenset((document.get("features") or {}).get("required") or ())
    if required - FEATURES:
        raise UnknownProfileError(f"{file}: unknown features {sorted(required - FEATURES)}")
    exclude = {str(k): str(v) for k, v in (document.get("exclude") or {}).items()}
    return Profile(
        name,
        str(document.get("title", name)),
        str(document.get("source", "")),
        schema,
        exclude,
        required,
    )
