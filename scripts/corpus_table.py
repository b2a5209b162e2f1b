"""The README table "what real providers get wrong", generated from tests/corpus_expectations.yaml.

python scripts/corpus_table.py           # print the table
python scripts/corpus_table.py --write   # replace it in README.md, between its markers
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
EXPECTATIONS = ROOT / "tests" / "corpus_expectations.yaml"
README = ROOT / "README.md"
PROFILES = ("alphaedge", "openai", "mistral")
BEGIN, END = "<!-- corpus-table -->", "<!-- /corpus-table -->"


def load(path: Path = EXPECTATIONS) -> dict[str, dict[str, Any]]:
    """The captures of the expectations file."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))["captures"]  # type: ignore[no-any-return]


def _must(verdict: Any) -> list[str]:
    return [] if verdict == "conformant" else list(verdict["must"])


def _should(verdict: Any) -> list[str]:
    return [] if verdict == "conformant" else list(verdict.get("should", []))


def _cell(verdict: Any) -> str:
    must, should = _must(verdict), _should(verdict)
    text = "pass" if not must else "**fail**: " + ", ".join(f"`{r}`" for r in must)
    return text + (f" (SHOULD: {', '.join(f'`{r}`' for r in should)})" if should else "")


def render(captures: dict[str, dict[str, Any]]) -> str:
    """The markdown: a count per profile, the most common failures, and every failing capture."""
    lines = [
        f"{len(captures)} real captures; conformant (no MUST failure) per profile: "
        + ", ".join(f"{p} {sum(not _must(c[p]) for c in captures.values())}" for p in PROFILES)
        + ".",
        "",
        "| rule | " + " | ".join(PROFILES) + " |",
        "| --- |" + " --- |" * len(PROFILES),
    ]
    counts = {p: Counter(r for c in captures.values() for r in _must(c[p])) for p in PROFILES}
    for rule in sorted(
        set().union(*counts.values()), key=lambda r: (-sum(counts[p][r] for p in PROFILES), r)
    ):
        lines.append(
            f"| `{rule}` | " + " | ".join(str(counts[p][rule] or "") for p in PROFILES) + " |"
        )
    lines += [
        "",
        "| capture | provider | " + " | ".join(PROFILES) + " |",
        "| --- | --- |" + " --- |" * len(PROFILES),
    ]
    for name, entry in sorted(captures.items()):
        if any(_must(entry[p]) or _should(entry[p]) for p in PROFILES):
            mark = " (reconstructed: payloads only)" if entry["framing"] == "reconstructed" else ""
            lines.append(
                f"| {name.removesuffix('.sse')}{mark} | {entry['provider']} | "
                + " | ".join(_cell(entry[p]) for p in PROFILES)
                + " |"
            )
    clean = [
        n.removesuffix(".sse")
        for n, e in sorted(captures.items())
        if not any(_must(e[p]) or _should(e[p]) for p in PROFILES)
    ]
    lines += ["", f"Conformant under all three profiles: {', '.join(clean)}."]
    return "\n".join(lines)


def replace(readme: str, table: str) -> str:
    """`readme` with the text between the table markers replaced by `table`."""
    head, _, rest = readme.partition(BEGIN)
    _, _, tail = rest.partition(END)
    if not rest:
        raise ValueError(f"README.md has no {BEGIN} marker")
    return f"{head}{BEGIN}\n{table}\n{END}{tail}"


def main(argv: list[str]) -> int:
    table = render(load())
    if "--write" in argv:
        README.write_text(replace(README.read_text(encoding="utf-8"), table), encoding="utf-8")
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
