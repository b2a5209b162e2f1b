"""What the terminal shows at the end of a run: one block per failed rule and per warned rule
(its first finding in full, then how many more), then the verdict line naming every failed
and warned rule. Plain text, ASCII in what the suite adds; what a target sent is kept as far as
the terminal's encoding can show it and escaped beyond."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conformance._report._collect import FAILED, WARNED, short_id

_FIELDS = ("location", "expected", "received")
_LABELS = {"location": "at", "expected": "expected", "received": "received"}


def first_finding(result: dict[str, Any]) -> str:
    """A rule's first finding (from its certificate entry) as an indented block, with where
    it was found, the offending event and the line that reproduces it."""
    findings = result["findings"]
    if not findings:
        return f"  {result['why'] or 'no finding kept'}"
    first = findings[0]
    lines = [f"  {first['message']}", f"  test: {short_id(first['test'])}"]
    lines += [f"  {_LABELS[key]}: {first[key]}" for key in _FIELDS if first[key]]
    if first["excerpt"]:
        lines.append(f"  event: {first['excerpt']}")
    if first.get("curl"):
        curl = first["curl"].replace("\n", "\n  ")
        lines.append(f"  reproduce with:\n    {curl.replace(chr(10) + '  ', chr(10) + '    ')}")
    return "\n".join(lines)


def rule_block(result: dict[str, Any]) -> str:
    """One failed or warned rule: headline, its first finding, the count of the others."""
    word = "FAILED" if result["status"] == FAILED else "WARNED"
    head = f"{word} [{result['level']}] {result['id']} - {result['title']}"
    counts = result["counts"]
    more = counts["findings"] - 1
    tests = counts["failing_tests"]
    where = f", in {tests} tests" if tests > 1 else ""
    tail = f"\n  ... and {more} more like this{where}" if more > 0 else ""
    return f"{head}\n{first_finding(result)}{tail}"


def blocks(certificate: dict[str, Any]) -> Iterator[str]:
    """The failed rules' blocks, then the warned ones'."""
    for status in (FAILED, WARNED):
        for result in certificate["rules"]:
            if result["status"] == status:
                yield rule_block(result)


def verdict_line(certificate: dict[str, Any]) -> str:
    """`VERDICT: counts`, naming the rules that failed and those with warnings."""
    from conformance._report._page import counts_line

    named = []
    for status, what in ((FAILED, "failed"), (WARNED, "with warnings")):
        ids = [r["id"] for r in certificate["rules"] if r["status"] == status]
        if ids:
            named.append(f"{what}: {', '.join(ids)}")
    extra = f" ({'; '.join(named)})" if named else ""
    return f"{certificate['verdict']}: {counts_line(certificate)}{extra}"


def encodable(text: str, encoding: str | None) -> str:
    """`text` as the terminal's encoding can show it: what it cannot, backslash-escaped."""
    codec = encoding or "utf-8"
    try:
        return text.encode(codec, "backslashreplace").decode(codec)
    except LookupError:
        return text.encode("ascii", "backslashreplace").decode("ascii")
