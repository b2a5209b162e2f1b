"""The client matrix: one row per client library and entry point, as plain data, and its
text rendering (`conformance check --clients`). Reports render the same rows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from conformance._model import ClientReading
from conformance._registry import Scope
from conformance.rules import REGISTRY
from conformance.rules.clients import constructs_phrase, differ


def _rule_ids() -> dict[str, str]:
    return {r.library: r.id for r in REGISTRY.of(Scope.CLIENT) if r.library}


def client_matrix(readings: Iterable[ClientReading]) -> list[dict[str, Any]]:
    """One row per library and entry point, in the order first read: name, version,
    runtime, the rule that judges it, whether it is available (else why not), how many
    streams it read and how many of them it read exactly, with all content, tool calls
    intact, finish reasons seen and without raising; and each mismatch (the stream's label,
    what differed, the constructs in the stream, what caused it when diagnosed)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    rules = _rule_ids()
    for reading in readings:
        row = rows.setdefault((reading.library, reading.entry), _row(reading, rules))
        if reading.got is None:
            continue
        row["streams"] += 1
        differences = differ(reading.sent, reading.got, first_choice_only=reading.first_choice_only)
        _count(row, {d.aspect for d in differences})
        if differences:
            row["mismatches"].append(
                {
                    "stream": reading.stream,
                    "differences": [d.words for d in differences],
                    "constructs": list(reading.constructs),
                    "cause": reading.cause or None,
                }
            )
        else:
            row["exact"] += 1
    return list(rows.values())


def _row(reading: ClientReading, rules: dict[str, str]) -> dict[str, Any]:
    return {
        "library": reading.library,
        "entry": reading.entry,
        "version": reading.version or None,
        "runtime": reading.runtime,
        "rule": rules.get(reading.library),
        "available": reading.got is not None,
        "unavailable": reading.unavailable or None,
        "first_choice_only": reading.first_choice_only,
        "streams": 0,
        "exact": 0,
        "content_read": 0,
        "tool_calls_intact": 0,
        "finish_reason_seen": 0,
        "raised": 0,
        "mismatches": [],
    }


def _count(row: dict[str, Any], aspects: set[str]) -> None:
    whole = "choice" not in aspects
    row["content_read"] += whole and "content" not in aspects
    row["tool_calls_intact"] += whole and "tool_calls" not in aspects
    row["finish_reason_seen"] += whole and "finish_reason" not in aspects
    row["raised"] += "error" in aspects


def render_matrix(rows: list[dict[str, Any]]) -> str:
    """The matrix as text for people: a line per library and entry, then its mismatches."""
    if not rows:
        return "client replay: no client library was asked for"
    lines = ["client replay (does each client library read the stream exactly?):"]
    for row in rows:
        name = f"{row['library']} {row['version'] or ''}".strip()
        head = f"  {name} [{row['runtime']}] {row['entry']}"
        if not row["available"]:
            lines.append(f"{head}: {row['unavailable']}")
            continue
        lines.append(
            f"{head}: {row['exact']}/{row['streams']} read exactly (content "
            f"{row['content_read']}, tool calls {row['tool_calls_intact']}, finish reason "
            f"{row['finish_reason_seen']}, raised {row['raised']})"
        )
        for mismatch in row["mismatches"]:
            cause = mismatch.get("cause") or constructs_phrase(tuple(mismatch["constructs"]))
            lines.append(f"    {mismatch['stream']}: {'; '.join(mismatch['differences'])}")
            lines.append(f"      {cause}")
    return "\n".join(lines)
