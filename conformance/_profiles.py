"""Profiles as data: which rules and which chunk schema certify an endpoint against a contract.

A profile is a YAML file in `profiles/` (the seed doc's `alphaedge`, `openai`, `mistral`),
and it is the only place profile membership is written down:

- `chunk_schema`: the chunk schema under `schemas/`;
- `add`: rules of the profile beyond the base rules;
- `replace`: base rules the profile replaces, each with the rule that replaces it and why;
- `drop`: base rules the profile leaves out, each with why;
- `features`: the optional request features the profile `requires` or merely `allows`
  (a case file's `feature:` runs only under the profiles that name it).

The base rules are every registered rule that no profile adds: a new general rule belongs
to every profile without touching a profile file.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from conformance._model import DEFAULT_PROFILE
from conformance._registry import REGISTRY, Rule
from conformance._schemas import names as schema_names
from conformance._schemas import resource_dir

__all__ = [
    "DEFAULT_PROFILE",
    "FEATURES",
    "Profile",
    "UnknownProfileError",
    "load_profile",
    "profile_names",
]

FEATURES = frozenset(
    {"n", "stream_options.include_usage", "tools", "max_tokens", "stop", "content_parts"}
)
"""Optional request features a case can exercise (`feature:` in a case file) and the suite's
generated requests use (`x-feature` in schemas/request.json)."""

_KEYS = {"name", "title", "source", "description", "chunk_schema", "add", "replace", "drop"}
_KEYS |= {"features"}


class UnknownProfileError(ValueError):
    """A profile name with no file in `profiles/`, or a profile file that is malformed."""


@dataclass(frozen=True)
class Profile:
    """One contract an endpoint can be certified against."""

    name: str
    title: str
    source: str
    chunk_schema: str
    add: tuple[str, ...]
    replace: dict[str, tuple[str, str]]
    drop: dict[str, str]
    required_features: frozenset[str]
    allowed_features: frozenset[str]

    @property
    def excluded(self) -> dict[str, str]:
        """Base rules this profile leaves out, each with why (replaced or dropped)."""
        replaced = {old: f"replaced by {new} ({why})" for old, (new, why) in self.replace.items()}
        return {**replaced, **self.drop}

    @functools.cached_property
    def rule_ids(self) -> frozenset[str]:
        """The ids of every rule of this profile."""
        own = set(self.add) | {new for new, _ in self.replace.values()}
        return frozenset((base_rule_ids() - set(self.excluded)) | own)

    def includes(self, rule: Rule[Any]) -> bool:
        """Whether `rule` is part of this profile."""
        return rule.id in self.rule_ids

    def rules(self) -> list[Rule[Any]]:
        """Every rule of this profile, in registration order."""
        return [rule for rule in REGISTRY if rule.id in self.rule_ids]

    def requires(self, feature: str) -> bool:
        """Whether an endpoint of this profile must support `feature` (not merely may)."""
        return feature in self.required_features

    def documents(self, feature: str) -> bool:
        """Whether the profile names `feature` at all (requires it or allows it)."""
        return feature in self.required_features | self.allowed_features

    def runs(self, feature: str | None) -> bool:
        """Whether a case exercising `feature` (None: no optional feature) is part of it."""
        return feature is None or feature in self.required_features | self.allowed_features


def profile_names() -> list[str]:
    """The names of every profile file, sorted."""
    return sorted(path.stem for path in resource_dir("profiles").glob("*.yaml"))


@functools.cache
def base_rule_ids() -> frozenset[str]:
    """Every registered rule that no profile adds: the rules all profiles start from."""
    import conformance.rules  # noqa: F401  (registers every rule)

    added: set[str] = set()
    for name in profile_names():
        profile = load_profile(name)
        added |= set(profile.add) | {new for new, _ in profile.replace.values()}
    return frozenset(rule.id for rule in REGISTRY) - added


@functools.cache
def load_profile(name: str = DEFAULT_PROFILE) -> Profile:
    """The profile called `name` (cached)."""
    if name not in profile_names():
        raise UnknownProfileError(
            f"unknown profile {name!r}; known profiles: {', '.join(profile_names())}"
        )
    path = resource_dir("profiles") / f"{name}.yaml"
    return _parse(path.name, name, profile_document(path))


def profile_document(path: Path) -> Any:
    """The content of a profile file, kept once parsed as JSON under `__pycache__/` beside
    it, the way Python keeps bytecode: importing PyYAML and compiling its regular
    expressions was a tenth of a one-file `conformance check`. The JSON stands for the file
    while the file has the size and modification time it was made from. It is written where
    the folder can be written and Python writes bytecode (not under `-B` or
    PYTHONDONTWRITEBYTECODE), and only for data JSON holds unchanged."""
    stat = path.stat()
    kept = path.parent / "__pycache__" / f"{path.stem}.{stat.st_mtime_ns}-{stat.st_size}.json"
    with contextlib.suppress(OSError, ValueError):  # none kept, or not readable as JSON
        return orjson.loads(kept.read_bytes())
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's: ten times faster
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    if not sys.dont_write_bytecode:
        _keep(kept, path.stem, document)
    return document


def _keep(kept: Path, stem: str, document: Any) -> None:
    with contextlib.suppress(OSError, TypeError):  # a folder not writable; data JSON lacks
        data = orjson.dumps(document)
        if orjson.loads(data) != document:  # a date, say: it would come back as a string
            return
        kept.parent.mkdir(exist_ok=True)
        for stale in kept.parent.glob(f"{glob.escape(stem)}.*.json"):  # not "p.x"'s for "p"
            if stale != kept and re.fullmatch(r"\d+-\d+\.json", stale.name[len(stem) + 1 :]):
                stale.unlink(missing_ok=True)
        written = kept.with_name(f"{kept.name}.{os.getpid()}")  # whole or not at all
        try:
            written.write_bytes(data)
            os.replace(written, kept)
        finally:
            written.unlink(missing_ok=True)  # a disk that filled up leaves no part behind


def _parse(file: str, name: str, document: Any) -> Profile:
    if not isinstance(document, dict) or set(document) - _KEYS or document.get("name") != name:
        raise UnknownProfileError(f"{file}: expected the keys {sorted(_KEYS)} and name {name!r}")
    schema = str(document.get("chunk_schema", "chunk"))
    if schema not in schema_names():
        raise UnknownProfileError(f"{file}: unknown chunk schema {schema!r}")
    features = document.get("features") or {}
    required = frozenset(features.get("required") or ())
    allowed = frozenset(features.get("allows") or ())
    if (required | allowed) - FEATURES:
        unknown = sorted((required | allowed) - FEATURES)
        raise UnknownProfileError(f"{file}: unknown features {unknown}")
    replace = {
        str(old): (str(spec["by"]), str(spec.get("why", "")))
        for old, spec in (document.get("replace") or {}).items()
    }
    drop = {str(k): str(v) for k, v in (document.get("drop") or {}).items()}
    add = tuple(str(rule_id) for rule_id in document.get("add") or ())
    _known(file, [*add, *replace, *(new for new, _ in replace.values()), *drop])
    return Profile(
        name,
        str(document.get("title", name)),
        str(document.get("source", "")),
        schema,
        add,
        replace,
        drop,
        required,
        allowed,
    )


def _known(file: str, ids: list[str]) -> None:
    import conformance.rules  # noqa: F401  (registers every rule)

    unknown = sorted(set(ids) - {rule.id for rule in REGISTRY})
    if unknown:
        raise UnknownProfileError(f"{file}: unknown rule ids {', '.join(unknown)}")
