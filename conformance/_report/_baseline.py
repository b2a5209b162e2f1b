"""Baselines: known-failing rule ids a run may fail without failing, and that cannot rot."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from conformance._report._collect import FAILED, PASSED, WARNED


class BaselineError(ValueError):
    """A baseline file that cannot be read or names unknown rules."""


def load_baseline(path: Path, known: Iterable[str]) -> list[str]:
    """The rule ids of a baseline: a YAML list, or one id per line (`#` starts a comment)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"baseline {path}: cannot read it: {exc}") from exc
    ids = _ids(text, path)
    unknown = sorted(set(ids) - set(known))
    if unknown:
        raise BaselineError(f"baseline {path}: unknown rule ids: {', '.join(unknown)}")
    return sorted(set(ids))


def _ids(text: str, path: Path) -> list[str]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        document = None
    if isinstance(document, list):
        if not all(isinstance(item, str) for item in document):
            raise BaselineError(f"baseline {path}: a YAML baseline is a list of rule ids")
        return [item.strip() for item in document]
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line.removeprefix("- ").strip() for line in lines if line]


def judge_baseline(ids: list[str], rules: list[dict[str, Any]]) -> dict[str, Any]:
    """Failures within the baseline pass; a baseline id that now passes is stale (fails)."""
    status = {rule["id"]: rule["status"] for rule in rules}
    failed = sorted(rule_id for rule_id, s in status.items() if s == FAILED)
    stale = sorted(i for i in ids if status.get(i) in (PASSED, WARNED))
    new = sorted(set(failed) - set(ids))
    return {
        "rules": ids,
        "known_failures": sorted(set(failed) & set(ids)),
        "new_failures": new,
        "stale": stale,
        "unexercised": sorted(i for i in ids if status.get(i) not in (FAILED, PASSED, WARNED)),
        "passed": not new and not stale,
    }
