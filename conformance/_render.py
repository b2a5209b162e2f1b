"""Plain-text rendering of findings: the failure text pytest, JUnit and the CLI print.

Findings are grouped by rule: the first finding of a rule in full, then how many more were
alike, so one broken rule reads as one block however many streams showed it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from conformance._model import Finding
from conformance.rules import REGISTRY

if TYPE_CHECKING:
    from conformance._outcome import Outcome


def render_finding(finding: Finding, *, source: bool = True) -> str:
    """One finding as a short block: rule, message, location, expected vs received."""
    rule = REGISTRY.get(finding.rule_id)
    title = f" - {rule.title}" if rule else ""
    lines = [
        f"[{finding.level}] {finding.rule_id}{title}",
        f"  {finding.message}",
        f"  at: {finding.location()}",
    ]
    if finding.expected:
        lines.append(f"  expected: {finding.expected}")
    if finding.received:
        lines.append(f"  received: {finding.received}")
    if finding.excerpt:
        lines.append(f"  event: {finding.excerpt}")
    if rule and source:
        lines.append(f"  source: {rule.source}: {rule.sentence}")
    return "\n".join(lines)


def group_by_rule(
    located: Iterable[tuple[int | None, Finding]],
) -> dict[str, list[tuple[int | None, Finding]]]:
    """Findings by rule id, in the order each rule was first found."""
    groups: dict[str, list[tuple[int | None, Finding]]] = {}
    for number, finding in located:
        groups.setdefault(finding.rule_id, []).append((number, finding))
    return groups


def render_group(group: Sequence[tuple[int | None, Finding]], exchanges: int) -> str:
    """The first finding of a rule in full, then a count of the others."""
    number, first = group[0]
    block = render_finding(first)
    if number is not None and exchanges > 1:
        block = block.replace("\n  at: ", f"\n  in: request {number + 1} of {exchanges}\n  at: ", 1)
    rest = group[1:]
    if rest:
        where = sorted({n + 1 for n, _ in rest if n is not None})
        listed = ", ".join(map(str, where[:10])) + ("..." if len(where) > 10 else "")
        shown = f" (request{'s' if len(where) > 1 else ''} {listed})"
        block += f"\n  ... and {len(rest)} more like this{shown if where else ''}"
    return block


def render_brief(failing: Sequence[tuple[int | None, Finding]]) -> str:
    """One line per failing rule: level, id, the first message, how many findings."""
    lines = []
    for rule_id, group in group_by_rule(failing).items():
        first = group[0][1]
        count = f" ({len(group)} findings)" if len(group) > 1 else ""
        lines.append(f"[{first.level}] {rule_id}: {first.message}{count}")
    return "\n".join(lines)


def render_failure(outcome: Outcome, failing: Sequence[tuple[int | None, Finding]]) -> str:
    """The findings that fail a test, one block per rule, then the line that reproduces the
    request of the first of them."""
    groups = group_by_rule(failing)
    count = len(failing)
    head = (
        f"{count} conformance finding{'s' if count != 1 else ''} "
        f"({len(groups)} rule{'s' if len(groups) != 1 else ''}):"
    )
    total = len(outcome.exchanges)
    blocks = [head, *(render_group(group, total) for group in groups.values())]
    first = next((n for n, _ in failing if n is not None), None)
    if first is not None:
        blocks.append(f"Reproduce with:\n  {outcome.exchanges[first].curl}")
    return "\n\n".join(blocks)
