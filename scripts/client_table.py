"""The README table "which constructs each pinned client mis-reads", generated from a run:
each legal variation of the reference server's framing is streamed once, replayed through
every client library, and each library's reading set beside the checker's, with what
caused a mis-reading (replaying variants of the stream without each construct).

python scripts/client_table.py           # print the table
python scripts/client_table.py --write   # replace it in README.md, between its markers
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from conformance._client import Client, Target
from conformance._model import ClientReading
from conformance._replay import client_matrix, replay
from conformance._replay._spool import spooled
from conformance.rules.clients import differ
from conformance.server import VARIATIONS, ServerThread

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BEGIN, END = "<!-- client-table -->", "<!-- /client-table -->"
CONSTRUCTS = (
    "bom",
    "cr",
    "crlf",
    "field-blocks",
    "fields",
    "keep-alive-first",
    "comments",
    "charset-ascii",
    "charset-latin1",
    "multiline-data",
    "no-space",
    "byte-split",
    "gzip",
)
"""The variations of the table: the framing constructs (plain is the clean stream)."""
REQUEST = {
    "model": "alphaedge-large-3-2512",
    "messages": [{"role": "user", "content": "Hi"}],
    "stream": True,
}


def readings(names: tuple[str, ...] = CONSTRUCTS) -> list[ClientReading]:
    """Stream each variation (and the plain server) once and replay them in one batch."""
    with ServerThread() as server, tempfile.TemporaryDirectory() as spool:
        urls = {"plain": server.base_url, **{n: server.url(variation=n) for n in names}}
        recordings = []
        for label, url in urls.items():
            with Client(Target(url, replay=spool)) as client:
                client.stream(REQUEST)
            found, _ = spooled(spool)
            recordings.append(found[-1])
            recordings[-1].label = label
            for path in Path(spool).iterdir():
                path.unlink()
    return replay(recordings)


def _cell(reading: ClientReading) -> str:
    if reading.got is None:
        return "not available"
    differences = differ(reading.sent, reading.got, first_choice_only=reading.first_choice_only)
    if not differences:
        return "exact"
    if reading.got.error is not None:
        what = f"**raises** `{reading.got.error.split(':')[0]}`"
    else:
        aspects = sorted({d.aspect for d in differences} - {"choice"})
        what = "**mis-reads**: " + ", ".join(a.replace("_", " ") for a in aspects)
    cause = reading.cause.partition(" (")[0]
    return f"{what} ({cause})" if cause else what


def render(found: list[ClientReading]) -> str:
    """The markdown: a row per variation, a column per library and entry point."""
    rows = client_matrix(found)
    columns = [(r["library"], r["entry"]) for r in rows]
    heads = [f"{r['library']} {r['version'] or ''} `{r['entry']}`".strip() for r in rows]
    cells: dict[str, dict[tuple[str, str], str]] = {}
    for reading in found:
        cells.setdefault(reading.stream, {})[(reading.library, reading.entry)] = _cell(reading)
    lines = [
        "| variation | " + " | ".join(heads) + " |",
        "| --- |" + " --- |" * len(heads),
    ]
    for name in ["plain", *CONSTRUCTS]:
        what = "plain stream" if name == "plain" else VARIATIONS[name].description
        row = [cells.get(name, {}).get(column, "not available") for column in columns]
        lines.append(f"| `{name}`: {what} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def replace(readme: str, table: str) -> str:
    """`readme` with the text between the table markers replaced by `table`."""
    head, _, rest = readme.partition(BEGIN)
    _, _, tail = rest.partition(END)
    if not rest:
        raise ValueError(f"README.md has no {BEGIN} marker")
    return f"{head}{BEGIN}\n{table}\n{END}{tail}"


def main(argv: list[str]) -> int:
    table = render(readings())
    if "--write" in argv:
        README.write_text(replace(README.read_text(encoding="utf-8"), table), encoding="utf-8")
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
