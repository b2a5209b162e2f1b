"""Plain-text rendering of violations: the failure text pytest and the CLI print."""

from __future__ import annotations

from conformance._model import Violation
from conformance._registry import REGISTRY


def render_violation(violation: Violation) -> str:
    """One violation as a short block: rule, message, location, expected vs received."""
    rule = REGISTRY.get(violation.rule_id)
    title = f" - {rule.title}" if rule else ""
    lines = [
        f"[{violation.level}] {violation.rule_id}{title}",
        f"  {violation.message}",
        f"  at: {violation.location()}",
    ]
    if violation.expected:
        lines.append(f"  expected: {violation.expected}")
    if violation.received:
        lines.append(f"  received: {violation.received}")
    if violation.event_excerpt:
        lines.append(f"  event: {violation.event_excerpt}")
    if rule:
        lines.append(f"  source: {rule.source}: {rule.sentence}")
    return "\n".join(lines)


def render_violations(violations: list[Violation], curl: str = "") -> str:
    """Every violation of a test, then the line that reproduces the request."""
    count = len(violations)
    head = f"{count} conformance violation{'s' if count != 1 else ''}:"
    blocks = [head, *(render_violation(v) for v in violations)]
    if curl:
        blocks.append(f"Reproduce with:\n  {curl}")
    return "\n\n".join(blocks)
