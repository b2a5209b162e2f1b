"""The SSE parser: WHATWG HTML 9.2.6 edge cases, observations, limits, byte-split properties."""

from __future__ import annotations

import itertools
import re
import time
import tracemalloc
from dataclasses import astuple, dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance._model import Event, Observation
from conformance._model import ObservationKind as Kind
from conformance._sse import SSEParser

BOM = b"\xef\xbb\xbf"
ENDINGS = {"LF": b"\n", "CRLF": b"\r\n", "CR": b"\r"}


def run(pieces: list[bytes] | bytes, **limits: int) -> tuple[list[Event], SSEParser]:
    """Feed `pieces` (or one body), close, and return every event and the parser."""
    parser = SSEParser(**limits)
    events: list[Event] = []
    for piece in [pieces] if isinstance(pieces, bytes) else pieces:
        events += parser.feed(piece)
    events += parser.close()
    return events, parser


def split(body: bytes, cuts: list[int]) -> list[bytes]:
    """`body` cut at the given offsets."""
    bounds = [0, *sorted({c for c in cuts if 0 < c < len(body)}), len(body)]
    return [body[a:b] for a, b in itertools.pairwise(bounds)]


def bytewise(body: bytes) -> list[bytes]:
    """`body` one byte at a time."""
    return [body[i : i + 1] for i in range(len(body))]


def kinds(parser: SSEParser, kind: str) -> list[Observation]:
    """The parser's observations of one kind."""
    return [o for o in parser.observations if o.kind == kind]


# -- ordinary streams ------------------------------------------------------------------


def test_ordinary_events_with_offsets() -> None:
    body = b'data: {"a":1}\n\ndata: [DONE]\n\n'
    events, parser = run(body)
    assert events == [
        Event(0, '{"a":1}', 0, 15, "", None, 1),
        Event(1, "[DONE]", 15, 29, "", None, 1),
    ]
    assert parser.bytes_seen == len(body)
    assert parser.line_endings == {"LF": 4, "CRLF": 0, "CR": 0}
    assert parser.observations == [Observation(Kind.LINE_ENDING, 13, "LF")]
    assert parser.pending is None
    assert parser.over_limit is None


@pytest.mark.parametrize("style", ENDINGS)
def test_each_line_ending(style: str) -> None:
    eol = ENDINGS[style]
    body = b"data: a" + eol + eol + b"data: b" + eol + b"data: c" + eol + eol
    size = len(eol)
    events, parser = run(body)
    assert [e.data for e in events] == ["a", "b\nc"]
    assert [(e.offset, e.end) for e in events] == [(0, 7 + 2 * size), (7 + 2 * size, len(body))]
    assert parser.line_endings[style] == 5
    assert kinds(parser, Kind.LINE_ENDING) == [Observation(Kind.LINE_ENDING, 7, style)]


@pytest.mark.parametrize("style", ENDINGS)
def test_many_events_in_one_feed_and_byte_by_byte(style: str) -> None:
    eol = ENDINGS[style]
    body = b"".join(b"data: \xc3\xa9v%d" % i + eol + eol for i in range(500))
    whole, _ = run(body)
    assert [e.data for e in whole] == [f"év{i}" for i in range(500)]
    assert whole[-1].end == len(body)
    assert all(a.end == b.offset for a, b in itertools.pairwise(whole))
    assert run(bytewise(body))[0] == whole
    assert run(split(body, list(range(0, len(body), 997))))[0] == whole


@pytest.mark.parametrize("eol", [b"\n", b"\r\n"])
def test_an_event_a_feed_gives_the_same_events(eol: bytes) -> None:
    reads = [b"data: %d" % i + eol + eol for i in range(20)]
    events, parser = run(reads)
    assert events == run(b"".join(reads))[0]
    assert [(e.index, e.data, e.offset) for e in events[:2]] == [
        (0, "0", 0),
        (1, "1", 7 + 2 * len(eol)),
    ]
    assert parser.line_endings[{b"\n": "LF", b"\r\n": "CRLF"}[eol]] == 40


def test_events_of_every_tier_are_events() -> None:
    reads = [
        b"data: a\n\n",  # first line ending: line by line
        b"data: b\n\n" * 20,  # a run of one-line events: bulk
        b"data: c\nid: 1\n\n" + b"data: d\n\n" * 3,  # line by line, then one block at a time
        b"data: e\n\n",  # exactly one event
    ]
    events, _ = run(reads)
    assert [e.data for e in events] == ["a", *"b" * 20, "c", *"ddd", "e"]
    for event in events:
        assert type(event) is Event
        assert event == Event(*astuple(event))


@pytest.mark.parametrize(
    "pieces",
    [
        [b"data: a\nd", b"ata: \n\n"],  # a feed that ends like an event but does not end one
        [b"data: e\r\rd", b"ata: e\r\r\n"],  # a run of CR events whose last CR starts a CRLF
        [b"data: a\n\nda", b"ta: b\r\n\r\ndata: c\n\n"],  # the first ending is not the rest's
    ],
)
def test_fast_paths_defer_to_line_by_line(pieces: list[bytes]) -> None:
    events, parser = run(pieces)
    whole, whole_parser = run(b"".join(pieces))
    assert events == whole == _Reference(b"".join(pieces)).events
    assert parser.observations == whole_parser.observations


def test_data_without_space_and_with_two_spaces() -> None:
    events, _ = run(b"data:a\n\ndata:  b\n\ndata:\tc\n\n")
    assert [e.data for e in events] == ["a", " b", "\tc"]


# -- line breaks -----------------------------------------------------------------------


def test_crlf_split_between_cr_and_lf_is_one_line_ending() -> None:
    events, parser = run([b"data: a\r", b"\n\r", b"\n"])
    assert events == [Event(0, "a", 0, 11, "", None, 1)]
    assert parser.line_endings == {"LF": 0, "CRLF": 2, "CR": 0}


def test_cr_at_end_of_feed_followed_by_other_byte_is_a_cr() -> None:
    events, parser = run([b"data: a\r", b"\r", b"data: b\r", b"\r"])
    assert [(e.data, e.offset, e.end) for e in events] == [("a", 0, 9), ("b", 9, 18)]
    assert parser.line_endings == {"LF": 0, "CRLF": 0, "CR": 4}


def test_final_cr_dispatches_at_close() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\r\r") == []  # the last CR might start a CRLF
    assert parser.close() == [Event(0, "a", 0, 9, "", None, 1)]
    assert parser.pending is None
    assert kinds(parser, Kind.UNTERMINATED_EVENT) == []


def test_mixed_line_endings_observed_once_each_in_order() -> None:
    events, parser = run(b"data: a\ndata: b\r\ndata: c\rdata: d\n\n")
    assert [e.data for e in events] == ["a\nb\nc\nd"]
    assert kinds(parser, Kind.LINE_ENDING) == [
        Observation(Kind.LINE_ENDING, 7, "LF"),
        Observation(Kind.LINE_ENDING, 15, "CRLF"),
        Observation(Kind.LINE_ENDING, 24, "CR"),
    ]
    assert parser.line_endings == {"LF": 3, "CRLF": 1, "CR": 1}


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c"])
def test_unicode_and_other_breaks_are_not_line_breaks(char: str) -> None:
    events, _ = run(f"data: a{char}b\n\n".encode())
    assert [e.data for e in events] == [f"a{char}b"]


# -- BOM -------------------------------------------------------------------------------


def test_one_leading_bom_is_stripped_and_counted_in_offsets() -> None:
    for pieces in ([BOM + b"data: a\n\n"], bytewise(BOM + b"data: a\n\n")):
        events, parser = run(pieces)
        assert events == [Event(0, "a", 3, 12, "", None, 1)]
        assert parser.observations[0] == Observation(Kind.BOM, 0, "U+FEFF")


def test_second_bom_is_part_of_the_field_name() -> None:
    events, parser = run(BOM + BOM + b"data: a\n\n")
    assert events == []
    assert kinds(parser, Kind.UNKNOWN_FIELD) == [Observation(Kind.UNKNOWN_FIELD, 3, "\ufeffdata")]


def test_bom_later_in_the_stream_is_kept() -> None:
    events, parser = run(b"data: \xef\xbb\xbfa\n\n" + BOM + b"data: b\n\n")
    assert [e.data for e in events] == ["\ufeffa"]
    assert kinds(parser, Kind.BOM) == []
    assert kinds(parser, Kind.UNKNOWN_FIELD)[0].detail == "\ufeffdata"


def test_body_shorter_than_a_bom() -> None:
    events, parser = run([b"\xef", b"\xbb"])
    assert events == []
    seen = [o.kind for o in parser.observations]
    assert seen == [Kind.INVALID_UTF8, Kind.UNKNOWN_FIELD, Kind.UNTERMINATED_EVENT]


# -- comments, fields, dispatch --------------------------------------------------------


def test_comments_before_and_between_events() -> None:
    events, parser = run(b": hello\n\ndata: a\n\n:mid\ndata: b\n\n")
    assert [(e.data, e.offset) for e in events] == [("a", 9), ("b", 18)]
    assert kinds(parser, Kind.COMMENT) == [
        Observation(Kind.COMMENT, 0, " hello"),
        Observation(Kind.COMMENT, 18, "mid"),
    ]
    assert kinds(parser, Kind.EMPTY_EVENT) == []


def test_long_comment_detail_is_truncated() -> None:
    _, parser = run(b":" + b"x" * 500 + b"\n\n")
    assert len(kinds(parser, Kind.COMMENT)[0].detail) < 120


def test_event_without_data_is_not_dispatched() -> None:
    events, parser = run(b"event: ping\n\ndata: a\n\n")
    assert [(e.index, e.data, e.type) for e in events] == [(0, "a", "")]
    assert kinds(parser, Kind.EVENT_NAME) == [Observation(Kind.EVENT_NAME, 0, "ping")]
    assert kinds(parser, Kind.EMPTY_EVENT) == [
        Observation(Kind.EMPTY_EVENT, 0, "no data line (event type 'ping')")
    ]


@pytest.mark.parametrize("line", [b"data:", b"data: ", b"data"])
def test_empty_data_field_dispatches_empty_string(line: bytes) -> None:
    events, parser = run(line + b"\n\n")
    assert events == [Event(0, "", 0, len(line) + 2, "", None, 1)]
    assert kinds(parser, Kind.EMPTY_EVENT) == []


def test_multiline_data_joined_with_lf() -> None:
    events, parser = run(b"data: a\ndata:\ndata: c\n\n")
    assert events == [Event(0, "a\n\nc", 0, 23, "", None, 3)]
    assert kinds(parser, Kind.MULTILINE_DATA) == [Observation(Kind.MULTILINE_DATA, 8, "", 0)]


def test_field_without_colon_has_empty_value() -> None:
    events, _ = run(b"event\ndata: x\n\nid\ndata: y\n\n")
    assert [(e.data, e.type, e.id) for e in events] == [("x", "", None), ("y", "", "")]


def test_unknown_fields_are_ignored_and_observed() -> None:
    events, parser = run(b"foo: bar\nData: no\ndata: x\n\n")
    assert [e.data for e in events] == ["x"]
    assert [o.detail for o in kinds(parser, Kind.UNKNOWN_FIELD)] == ["foo", "Data"]


def test_event_id_and_retry_fields() -> None:
    body = b"event: delta\nid: 7\nretry: 1000\ndata: x\n\nretry: 10s\ndata: y\n\n"
    events, parser = run(body)
    assert events == [Event(0, "x", 0, 40, "delta", "7", 1), Event(1, "y", 40, 60, "", "7", 1)]
    assert [o.detail for o in kinds(parser, Kind.ID_FIELD)] == ["7"]
    retries = [o.detail for o in kinds(parser, Kind.RETRY_FIELD)]
    assert retries == ["1000", "ignored (not only ASCII digits): 10s"]


def test_id_with_nul_is_ignored() -> None:
    events, parser = run(b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n")
    assert [e.id for e in events] == ["1", "1"]
    assert kinds(parser, Kind.ID_FIELD)[1].detail == "ignored (contains NUL): 2\\03"


def test_blank_lines_between_events_are_harmless() -> None:
    events, parser = run(b"\n\n\ndata: a\n\n\n\ndata: b\n\n")
    assert [(e.data, e.offset) for e in events] == [("a", 3), ("b", 14)]
    assert kinds(parser, Kind.EMPTY_EVENT) == []


# -- end of stream ---------------------------------------------------------------------


def test_unterminated_last_event_is_dropped_and_kept_in_pending() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\n\nevent: e\ndata: b\ndata: c") == [Event(0, "a", 0, 9)]
    assert parser.close() == []
    assert parser.pending == Event(1, "b\nc", 9, 33, "e", None, 2)
    (seen,) = kinds(parser, Kind.UNTERMINATED_EVENT)
    assert seen.offset == 9
    assert "2 data line" in seen.detail


def test_complete_line_without_blank_line_is_unterminated() -> None:
    _, parser = run(b"data: a\n")
    assert parser.pending == Event(0, "a", 0, 8)
    assert len(kinds(parser, Kind.UNTERMINATED_EVENT)) == 1


def test_fields_without_data_at_end_are_unterminated() -> None:
    _, parser = run(b"data: a\n\nevent: x\n")
    assert parser.pending is None
    assert "an event without data" in kinds(parser, Kind.UNTERMINATED_EVENT)[0].detail


def test_partial_comment_at_end_is_recorded_without_pending() -> None:
    events, parser = run(b"data: a\n\n: keep")
    assert len(events) == 1
    assert parser.pending is None
    assert "partial line of 6 bytes" in kinds(parser, Kind.UNTERMINATED_EVENT)[0].detail


def test_clean_end_and_close_twice() -> None:
    parser = SSEParser()
    parser.feed(b"data: a\n\n")
    assert parser.close() == []
    assert parser.close() == []
    assert parser.feed(b"data: b\n\n") == []
    assert parser.pending is None
    assert kinds(parser, Kind.UNTERMINATED_EVENT) == []


# -- UTF-8 -----------------------------------------------------------------------------


def test_invalid_utf8_offset_is_exact() -> None:
    body = b"data: ok\n\ndata: a\xffb\xc3(\n\n"
    events, parser = run(body)
    assert [e.data for e in events] == ["ok", "a\ufffdb\ufffd("]
    assert kinds(parser, Kind.INVALID_UTF8) == [
        Observation(
            Kind.INVALID_UTF8, body.index(b"\xff"), "invalid UTF-8 byte 0xff (invalid start byte)"
        ),
        Observation(
            Kind.INVALID_UTF8,
            body.index(b"\xc3"),
            "invalid UTF-8 byte 0xc3 (invalid continuation byte)",
        ),
    ]
    assert run(bytewise(body))[1].observations == parser.observations


def test_invalid_utf8_observations_are_capped() -> None:
    _, parser = run(b"data: " + b"\xff" * 50 + b"\n\n" + b"data: \xfe\n\n")
    seen = kinds(parser, Kind.INVALID_UTF8)
    assert [o.offset for o in seen] == list(range(6, 17))
    assert "not recorded" in seen[-1].detail


def test_character_split_across_feeds_is_valid() -> None:
    body = "data: é€😀\n\n".encode()
    events, parser = run(bytewise(body))
    assert [e.data for e in events] == ["é€😀"]
    assert kinds(parser, Kind.INVALID_UTF8) == []


def test_incomplete_character_at_close_is_invalid() -> None:
    _, parser = run([b"data: a\n\ndata: b\xe2", b"\x82"])
    assert [o.offset for o in kinds(parser, Kind.INVALID_UTF8)] == [16]
    assert parser.pending is not None
    assert parser.pending.data == "b\ufffd"


# -- limits ----------------------------------------------------------------------------


def test_line_over_max_line_is_recorded_once_and_memory_stays_bounded() -> None:
    block = b"x" * (64 << 10)
    parser = SSEParser(max_line=1 << 20)
    tracemalloc.start()
    try:
        assert parser.feed(b"data: ") == []
        for _ in range(16 * 16):  # 16 MiB without a line break
            assert parser.feed(block) == []
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20
    assert kinds(parser, Kind.LINE_TOO_LONG) == [parser.over_limit]
    assert parser.over_limit is not None
    assert parser.over_limit.offset == 0
    assert parser.close() == []


def test_one_huge_feed_without_line_break_is_not_kept() -> None:
    parser = SSEParser(max_line=1000)
    assert parser.feed(b"data: " + b"x" * (5 << 20)) == []
    assert parser.over_limit is not None
    assert parser.over_limit.kind == Kind.LINE_TOO_LONG
    assert len(parser._buf) == 0
    assert parser.feed(b"\n\ndata: a\n\n") == []


def test_long_complete_line_stops_after_earlier_events() -> None:
    body = b"data: a\n\ndata: " + b"y" * 200 + b"\n\ndata: b\n\n"
    for pieces in ([body], split(body, [20, 100, 150])):
        events, parser = run(pieces, max_line=100)
        assert [e.data for e in events] == ["a"]
        assert parser.over_limit == Observation(Kind.LINE_TOO_LONG, 9, "a line exceeds 100 bytes")


def test_long_line_in_bulk_run_is_found() -> None:
    body = b"data: a\n\n" * 50 + b"data: " + b"y" * 200 + b"\n\n" + b"data: b\n\n" * 50
    events, parser = run(body, max_line=100)
    assert len(events) == 50
    assert parser.over_limit is not None
    assert parser.over_limit.offset == 450


def test_limits_count_the_field_name_in_every_tier() -> None:
    for pieces in ([b"data: a\n\n", b"data: 1234567\n\n"], [b"data: 1234567\n\n"]):
        events, parser = run(pieces, max_line=12)
        assert [e.data for e in events] == ["a"] * (len(pieces) - 1)
        assert parser.over_limit is not None


def test_event_over_max_event_stops() -> None:
    line = b"data: " + b"z" * 40 + b"\n"
    events, parser = run(b"data: a\n\n" + line * 5 + b"\n", max_event=100)
    assert [e.data for e in events] == ["a"]
    assert parser.over_limit == Observation(
        Kind.EVENT_TOO_LARGE, 9, "the data of an event exceeds 100 bytes", 1
    )


def test_one_byte_feeds_of_a_long_line_are_not_quadratic() -> None:
    body = b"data: " + b"q" * (200 << 10) + b"\n\n"
    started = time.perf_counter()
    events, _ = run(bytewise(body))
    assert time.perf_counter() - started < 3
    assert len(events[0].data) == 200 << 10


def test_comment_flood_keeps_a_bounded_list() -> None:
    _, parser = run(b": ping\n\n" * 3000)
    comments = kinds(parser, Kind.COMMENT)
    assert len(comments) == 1001
    assert "later ones are not recorded" in comments[-1].detail


# -- properties ------------------------------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=8)


@dataclass
class _Spec:
    """One event to write: its comment, fields and data lines."""

    comment: str | None
    type: str | None
    id: str | None
    data: list[str]


_SPECS = st.builds(
    _Spec,
    st.none() | _TEXT,
    st.none() | _TEXT,
    st.none() | _TEXT.filter(lambda s: "\0" not in s),
    st.lists(_TEXT, max_size=3),
)


def _write(specs: list[_Spec], eol: bytes, bom: bool) -> tuple[bytes, list[Event]]:
    """An event-stream body for `specs`, and the events a WHATWG client dispatches."""
    body = bytearray(BOM if bom else b"")
    events: list[Event] = []
    last_id: str | None = None
    for spec in specs:
        start = len(body)
        lines = [] if spec.comment is None else [":" + spec.comment]
        lines += [] if spec.type is None else ["event: " + spec.type]
        lines += [] if spec.id is None else ["id: " + spec.id]
        lines += ["data: " + d for d in spec.data]
        body += b"".join(line.encode() + eol for line in [*lines, ""])
        last_id = last_id if spec.id is None else spec.id
        if spec.data:
            data, kind, count = "\n".join(spec.data), spec.type or "", len(spec.data)
            events.append(Event(len(events), data, start, len(body), kind, last_id, count))
    return bytes(body), events


@settings(max_examples=100, deadline=None)
@given(
    specs=st.lists(_SPECS, max_size=8),
    style=st.sampled_from(list(ENDINGS)),
    bom=st.booleans(),
    cuts=st.lists(st.integers(0, 400), max_size=12),
)
def test_any_split_gives_the_written_events(
    specs: list[_Spec], style: str, bom: bool, cuts: list[int]
) -> None:
    body, expected = _write(specs, ENDINGS[style], bom)
    whole, whole_parser = run(body)
    pieces, split_parser = run(split(body, cuts))
    assert whole == expected
    assert pieces == expected
    assert split_parser.observations == whole_parser.observations
    assert whole_parser.pending is None


_LINE = re.compile(rb"([^\r\n]*)(\r\n|\r|\n)")


class _Reference:
    """A plain whole-body reading of WHATWG 9.2.6 to compare the parser with."""

    def __init__(self, body: bytes) -> None:
        self.events: list[Event] = []
        self.last_id: str | None = None
        self.start, self.data, self.type = -1, list[str](), ""
        pos = 3 if body.startswith(BOM) else 0
        for match in _LINE.finditer(body, pos):
            self.line(match.group(1), match.start(), match.end())
            pos = match.end()
        if pos < len(body):
            self.line(body[pos:], pos, len(body))
        self.pending = self.event(len(body)) if self.data else None

    def line(self, raw: bytes, offset: int, end: int) -> None:
        if not raw:
            if self.data:
                self.events.append(self.event(end))
            self.start, self.data, self.type = -1, [], ""
            return
        self.start = offset if self.start < 0 else self.start
        name, _, value = raw.decode(errors="replace").partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self.data.append(value)
        elif name == "event":
            self.type = value
        elif name == "id" and "\0" not in value:
            self.last_id = value

    def event(self, end: int) -> Event:
        data, count = "\n".join(self.data), len(self.data)
        return Event(len(self.events), data, self.start, end, self.type, self.last_id, count)


_TOKENS = [b"data", b"data:", b"data: ", b":", b" ", b"x", b"\xc3\xa9", b"\xe2", b"\x82", b"\xff"]
_TOKENS += [b"\r", b"\n", b"\r\n", b"\n\n", b"event:", b"id:", b"retry:", b"\x00", BOM]
_TOKENS += [b"\xe2\x80\xa8", b"data: ab\n\n", b"data: cd\r\n\r\n", b"data: e\r\r", b"data:f\n\n"]
_TOKENS += [b"data: g\n\ndata: \xc3\xa9\n\ndata: h\n\n", b"data: i\r\n\r\ndata: j\r\n\r\n"]


@settings(max_examples=200, deadline=None)
@given(
    body=st.lists(st.sampled_from(_TOKENS), max_size=40).map(b"".join),
    cuts=st.lists(st.integers(0, 200), max_size=10),
)
def test_arbitrary_bytes_match_the_reference(body: bytes, cuts: list[int]) -> None:
    reference = _Reference(body)
    whole, whole_parser = run(body)
    pieces, split_parser = run(split(body, cuts))
    assert whole == reference.events
    assert whole_parser.pending == reference.pending
    assert pieces == whole
    assert split_parser.observations == whole_parser.observations
    assert split_parser.line_endings == whole_parser.line_endings
    small, small_parser = run(body, max_line=12, max_event=30)
    small_pieces, small_split_parser = run(split(body, cuts), max_line=12, max_event=30)
    assert small_pieces == small
    assert small_split_parser.over_limit == small_parser.over_limit


# -- runs of identical lines: interpreted once, the same as line by line ------------------

_RUN_LINES = [b"\n", b"\r\n", b"\r", b":", b": ping", b"x", b"id: 7", b"id:", b"event: e"]
_RUN_LINES += [b"retry: 10", b"data:", b"data: x", b"\xff", b"event:\n", b"data: y\n"]


def _same_as_line_by_line(body: bytes, **limits: int) -> None:
    """`body` fed whole parses exactly as fed a byte at a time (every line on its own)."""
    whole, whole_parser = run(body, **limits)
    single, single_parser = run(bytewise(body), **limits)
    assert whole == single
    assert whole_parser.observations == single_parser.observations
    assert whole_parser.pending == single_parser.pending
    assert whole_parser.over_limit == single_parser.over_limit
    if whole_parser.over_limit is None:  # past a limit, line endings are counted per block
        assert whole_parser.line_endings == single_parser.line_endings


@pytest.mark.parametrize(
    "unit",
    [b": ping\n", b"x\n", b"id:\n", b"retry: 1\r\n", b"event:\n\n", b"\r\n\n", b"\xff\n"],
)
def test_a_flood_past_the_observation_cap_is_the_same_as_line_by_line(unit: bytes) -> None:
    _same_as_line_by_line(b"data: a\n\n" + unit * 1100 + b"data: b\n\n")


def test_a_run_of_data_lines_stops_where_line_by_line_does() -> None:
    _same_as_line_by_line(b"data:\n" * 300 + b"\n", max_event=500)
    _same_as_line_by_line(b"data: x\r" * 40 + b"\r" * 5, max_event=100)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_RUN_LINES), st.integers(1, 40)), max_size=8))
def test_runs_of_lines_parse_as_line_by_line(runs: list[tuple[bytes, int]]) -> None:
    endings = itertools.cycle([b"\n", b"\n", b"\r\n"])
    body = b"".join((line + next(endings)) * count for line, count in runs)
    _same_as_line_by_line(body)
    _same_as_line_by_line(body, max_line=12, max_event=40)


def test_blank_line_flood_parses_at_the_speed_of_events() -> None:
    """Not a timing test: the parser does no per-line work on a run of blank lines, so it
    keeps no list per line either (a whole MiB of them is one run)."""
    tracemalloc.start()
    events, parser = run([b"\n" * (1 << 20)] * 4 + [b"data: a\n\n"])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [e.data for e in events] == ["a"]
    assert parser.line_endings["LF"] == (4 << 20) + 2
    assert peak < 40 << 20
