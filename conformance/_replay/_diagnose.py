"""Which construct made a library mis-read a stream, found by replaying minimal variants of
the stream through that library: the body in one piece, the body without all of its
constructs, and the body without each construct in turn. The constructs whose removal
alone lets the library read the stream exactly are the cause (several: what trips it is
where they meet, such as an `event:` field in a block without data); when none does, but
removing all of them does, any of them trips it; when the plain form of the same events is
mis-read too, the framing is not the cause (the library mis-reads what the events say).

Bounded: only DIAGNOSED mis-read streams of each library are diagnosed (the first of each
set of constructs, then the second, ...), each
with at most two variants more than it has constructs, in one replay batch that may take
BUDGET seconds (past it, nothing is); a body whose coding cannot be removed, or inflates
past DECODED_LIMIT, is not diagnosed.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from conformance._coding import SUPPORTED, CodingError, decoded, normalise
from conformance._model import ClientReading
from conformance._replay._recorded import (
    CHARSET,
    CODING,
    CONSTRUCTS,
    EARLY_COMMENT,
    LATE_COMMENT,
    LINE_ENDINGS,
    RECORD_LIMIT,
    Kind,
    Recorded,
)

DIAGNOSED = 16
"""Mis-read streams diagnosed per library (the first ones read)."""
BUDGET = 30.0
"""Seconds the replay of all variants may take; past it, nothing is diagnosed."""
DECODED_LIMIT = 16 * RECORD_LIMIT
BOM = b"\xef\xbb\xbf"
SPLIT = "caused by where the body was split (read in one piece, the stream is read exactly)"
NOT_FRAMING = (
    "not caused by its framing (the same events in plain framing are mis-read too: the "
    "library mis-reads what they say)"
)

Line = tuple[bytes, bytes]  # a line's content and its line ending (b"" for a last, open one)
Block = list[Line]  # lines up to and including the blank line that ends them
_ENDING = re.compile(rb"\r\n|\r|\n")
_KNOWN = (b"data", b"event", b"id", b"retry")


@dataclass(slots=True)
class _Body:
    """A recorded response being changed: its head, its decoded body (without a leading
    BOM, noted apart) and its content coding."""

    headers: list[tuple[str, str]]
    body: bytes
    bom: bool
    coding: str

    def recording(self, original: Recorded, label: str, library: str) -> Recorded:
        """This body as a recording to replay through `library` alone, in one piece."""
        body = (BOM if self.bom else b"") + self.body
        if self.coding in ("gzip", "x-gzip"):
            body = gzip.compress(body)
        elif self.coding == "deflate":
            body = zlib.compress(body)
        return Recorded(
            label, original.status, list(self.headers), [body], original.sent, (), (library,)
        )


def _decode(recording: Recorded) -> _Body | None:
    """The recording's body without its content coding, or None when that is not possible
    within DECODED_LIMIT."""
    coding = normalise(
        next((v for k, v in recording.headers if k.lower() == "content-encoding"), None)
    )
    if coding not in ("identity", "") and coding not in SUPPORTED:
        return None
    pieces, size = [], 0
    try:
        for piece in decoded(iter(recording.chunks), coding):
            size += len(piece)
            if size > DECODED_LIMIT:
                return None
            pieces.append(piece)
    except CodingError:
        return None
    body = b"".join(pieces)
    bom = body.startswith(BOM)
    return _Body(list(recording.headers), body[len(BOM) :] if bom else body, bom, coding)


# -- removing one construct ---------------------------------------------------------------


def _lines(body: bytes) -> list[Line]:
    out, start = [], 0
    for match in _ENDING.finditer(body):
        out.append((body[start : match.start()], match.group()))
        start = match.end()
    if start < len(body):
        out.append((body[start:], b""))
    return out


def _blocks(body: bytes) -> list[Block]:
    blocks: list[Block] = []
    current: Block = []
    for line in _lines(body):
        current.append(line)
        if not line[0] and line[1]:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _join(blocks: Iterable[Block]) -> bytes:
    return b"".join(content + ending for block in blocks for content, ending in block)


def _name(line: Line) -> bytes | None:
    """The field name of a line; None for a blank line or a comment."""
    content = line[0]
    if not content or content.startswith(b":"):
        return None
    return content.split(b":", 1)[0]


def _closed(block: Block) -> bool:
    return bool(block) and not block[-1][0] and bool(block[-1][1])


def _without_lines(body: _Body, drop: Callable[[Line, bool], bool]) -> None:
    """Remove the lines `drop(line, after the first data line)` chooses; a block left with
    nothing but its blank line goes too."""
    seen_data, blocks = False, []
    for block in _blocks(body.body):
        kept = []
        for line in block:
            if drop(line, seen_data):
                continue
            seen_data = seen_data or _name(line) == b"data"
            kept.append(line)
        if len(kept) == len(block) or any(content for content, _ in kept):
            blocks.append(kept)
    body.body = _join(blocks)


def _comment(late: bool) -> Callable[[_Body], None]:
    def remove(body: _Body) -> None:
        _without_lines(body, lambda line, after: line[0][:1] == b":" and after == late)

    return remove


def _field(*names: bytes) -> Callable[[_Body], None]:
    def remove(body: _Body) -> None:
        _without_lines(body, lambda line, after: _name(line) in names)

    return remove


def _unknown_fields(body: _Body) -> None:
    _without_lines(body, lambda line, after: _name(line) not in (None, *_KNOWN))


def _blocks_without_data(body: _Body) -> None:
    def empty(block: Block) -> bool:
        names = [_name(line) for line in block]
        return _closed(block) and b"data" not in names and any(names)

    body.body = _join(b for b in _blocks(body.body) if not empty(b))


def _one_data_line(body: _Body) -> None:
    """Each event's data lines as one line (the newlines that joined them become spaces,
    which JSON reads the same)."""
    blocks = []
    for block in _blocks(body.body):
        data = [line for line in block if _name(line) == b"data"]
        if len(data) < 2:
            blocks.append(block)
            continue
        values = [re.sub(rb"^data: ?", b"", line[0]) for line in data]
        first = next(n for n, line in enumerate(block) if _name(line) == b"data")
        merged = (b"data: " + b" ".join(values), block[first][1])
        rest = [line for n, line in enumerate(block) if n != first and _name(line) != b"data"]
        blocks.append([*rest[:first], merged, *rest[first:]])
    body.body = _join(blocks)


def _unterminated(body: _Body) -> None:
    blocks = _blocks(body.body)
    if blocks and not _closed(blocks[-1]):
        blocks.pop()
    body.body = _join(blocks)


def _bom(body: _Body) -> None:
    body.bom = False


def _bare_cr(body: _Body) -> None:
    body.body = re.sub(rb"\r(?!\n)", b"\n", body.body)


def _crlf(body: _Body) -> None:
    body.body = body.body.replace(b"\r\n", b"\n")


def _invalid_utf8(body: _Body) -> None:
    body.body = body.body.decode("utf-8", "replace").encode()


def _charset(body: _Body) -> None:
    def plain(value: str) -> str:
        parts = value.split(";")
        return ";".join([parts[0], *(p for p in parts[1:] if not _is_charset(p))])

    body.headers = [(k, plain(v) if k.lower() == "content-type" else v) for k, v in body.headers]


def _is_charset(parameter: str) -> bool:
    return parameter.split("=", 1)[0].strip().lower() == "charset"


def _coding(body: _Body) -> None:
    body.headers = [(k, v) for k, v in body.headers if k.lower() != "content-encoding"]
    body.coding = "identity"


REMOVE: dict[str, Callable[[_Body], None]] = {
    CONSTRUCTS[Kind.BOM]: _bom,
    CONSTRUCTS[Kind.EMPTY_EVENT]: _blocks_without_data,
    CONSTRUCTS[Kind.MULTILINE_DATA]: _one_data_line,
    CONSTRUCTS[Kind.EVENT_NAME]: _field(b"event"),
    CONSTRUCTS[Kind.ID_FIELD]: _field(b"id"),
    CONSTRUCTS[Kind.RETRY_FIELD]: _field(b"retry"),
    CONSTRUCTS[Kind.UNKNOWN_FIELD]: _unknown_fields,
    CONSTRUCTS[Kind.INVALID_UTF8]: _invalid_utf8,
    CONSTRUCTS[Kind.UNTERMINATED_EVENT]: _unterminated,
    LINE_ENDINGS["CR"]: _bare_cr,
    LINE_ENDINGS["CRLF"]: _crlf,
    EARLY_COMMENT: _comment(late=False),
    LATE_COMMENT: _comment(late=True),
}
"""How each construct is taken out of a body, keeping what the events say."""


def remover(construct: str) -> Callable[[_Body], None] | None:
    """How `construct` is taken out of a body (None: it cannot be)."""
    prefix, _, suffix = CHARSET.partition("{}")
    if construct.startswith(prefix) and construct.endswith(suffix):
        return _charset
    if construct.endswith(CODING.partition("{}")[2]):
        return _coding
    return REMOVE.get(construct)


def variant(recording: Recorded, removed: Iterable[str], label: str, library: str) -> Recorded:
    """`recording` in one piece, without the constructs `removed` (which must be removable
    and the body decodable: see `variants`)."""
    body = _decode(recording)
    assert body is not None
    for construct in removed:
        step = remover(construct)
        assert step is not None
        step(body)
    return body.recording(recording, label, library)


# -- diagnosing -------------------------------------------------------------------------


@dataclass(slots=True)
class _Plan:
    """The variants of one mis-read stream, by what they leave out: "" the body in one piece,
    "*" all its constructs, else the one construct named."""

    recording: Recorded
    labels: dict[str, str]


def _plan(recording: Recorded, library: str, number: int, out: list[Recorded]) -> _Plan | None:
    if _decode(recording) is None:
        return None
    constructs = [c for c in recording.constructs if remover(c) is not None]
    wanted: dict[str, list[str]] = {"": []}
    if len(constructs) > 1:
        wanted["*"] = constructs
    for construct in constructs:
        wanted[construct] = [construct]
    plan = _Plan(recording, {})
    for key, removed in wanted.items():
        label = f"variant-{number:04d}-{len(plan.labels)}"
        out.append(variant(recording, removed, label, library))
        plan.labels[key] = label
    return plan


def diagnose(mis_read: list[tuple[ClientReading, Recorded]]) -> dict[int, str]:
    """The cause of each mis-reading that could be diagnosed, by its position in `mis_read`."""
    from conformance._replay._engine import replay
    from conformance.rules.clients import differ

    variants: list[Recorded] = []
    plans: dict[tuple[str, int], _Plan | None] = {}
    for reading, recording in _varied(mis_read):
        key = (reading.library, id(recording))
        mine = {k for k in plans if k[0] == reading.library}
        if key not in plans and len(mine) < DIAGNOSED:
            plans[key] = _plan(recording, reading.library, len(plans), variants)
    if not variants:
        return {}
    libraries = sorted({reading.library for reading, _ in mis_read})
    found = {
        (r.stream, r.library, r.entry): r.got
        for r in replay(variants, libraries, diagnose=False, budget=BUDGET)
        if r.got is not None
    }
    causes = {}
    for position, (reading, recording) in enumerate(mis_read):
        plan = plans.get((reading.library, id(recording)))
        if plan is None:
            continue
        exact = {}
        for left_out, label in plan.labels.items():
            got = found.get((label, reading.library, reading.entry))
            if got is None:
                break
            first = reading.first_choice_only
            exact[left_out] = not differ(recording.sent, got, first_choice_only=first)
        else:
            causes[position] = _cause(exact, len(recording.chunks) > 1)
    return causes


def _varied(
    mis_read: list[tuple[ClientReading, Recorded]],
) -> list[tuple[ClientReading, Recorded]]:
    """The mis-readings in the order they are diagnosed: per library, the first stream of
    each set of constructs before the second of any, so that a budget spent on many alike
    streams does not leave a different one undiagnosed."""
    seen: dict[tuple[str, tuple[str, ...]], list[int]] = {}
    rank = []
    for reading, recording in mis_read:
        streams = seen.setdefault((reading.library, recording.constructs), [])
        if id(recording) not in streams:
            streams.append(id(recording))
        rank.append(streams.index(id(recording)))
    order = sorted(range(len(mis_read)), key=lambda n: rank[n])
    return [mis_read[n] for n in order]


def _cause(exact: dict[str, bool], split: bool) -> str:
    """What the variants' readings say caused the mis-reading."""
    constructs = [key for key in exact if key not in ("", "*")]
    if split and exact[""]:
        return SPLIT
    if not exact.get("*", bool(constructs) and exact[constructs[0]]):
        return NOT_FRAMING
    alone = [c for c in constructs if exact[c]]
    if len(alone) == 1:
        return f"caused by {alone[0]} (replayed without it, the stream is read exactly)"
    if alone:
        return (
            f"caused by {' and '.join(alone)} (replayed without any one of them, the stream "
            "is read exactly: what trips the library is where they meet)"
        )
    return (
        f"caused by {' or '.join(constructs)} (replayed without all of them, the stream is "
        "read exactly, without any one of them it is not)"
    )


def with_causes(
    readings: list[ClientReading], recordings: list[Recorded | None]
) -> list[ClientReading]:
    """`readings` (each beside the recording it read, or None), each mis-reading with its
    cause when it could be diagnosed."""
    from conformance.rules.clients import differ

    positions, mis_read = [], []
    for position, (reading, recording) in enumerate(zip(readings, recordings, strict=True)):
        if recording is None or reading.got is None:
            continue
        if differ(reading.sent, reading.got, first_choice_only=reading.first_choice_only):
            positions.append(position)
            mis_read.append((reading, recording))
    if not mis_read:
        return readings
    causes = diagnose(mis_read)
    out = list(readings)
    for index, position in enumerate(positions):
        if index in causes:
            out[position] = replace(out[position], cause=causes[index])
    return out
