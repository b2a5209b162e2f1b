"""Strict, incremental parser for `text/event-stream` bodies (WHATWG HTML 9.2.6).

Two layers, as in httpx-sse: bytes are cut into lines (CRLF, LF or a lone CR; a CR that ends
one chunk waits for the next in case an LF follows), then lines are interpreted as fields that
build events. Unlike a client library the parser also records, as `Observation`s in the order
the bytes arrive, everything a lenient client hides.

Four tiers give the same events and observations; they differ only in speed:

- `_single`: a feed that is exactly one `data: ...` event (a live stream, a read an event);
- `_bulk`: a run of ordinary `data: ...` events is checked and cut with C-level bytes
  methods and its events built in C-level passes (`map`), a feed at a time;
- `_blocks`: a block that is a single data line is dispatched by a short loop;
- `_line`: everything else, one line at a time, recording what it sees; a run of identical
  lines (blank lines, keep-alive comments, a repeated field) is interpreted once and
  counted, so a flood of tiny lines costs about what the same bytes of events cost.

Lines are cut on bytes and decoded one line (or one run) at a time: a line break is ASCII and
never part of a multi-byte sequence, so this equals decoding first, and the byte offsets of
events and of invalid UTF-8 come for free.
"""

from __future__ import annotations

from itertools import accumulate, groupby, islice, repeat, starmap
from operator import contains

from conformance._model import Event, Observation, excerpt
from conformance._model import ObservationKind as Kind

__all__ = ["SSEParser"]

_BOM = b"\xef\xbb\xbf"
_DETAIL = 80  # characters of a comment, name or value kept in an observation
_CAP = 1000  # observations of one kind kept before a summary (a keep-alive flood stays small)
_CAPS = {Kind.INVALID_UTF8: 10}
_STYLE = {b"\n": "LF", b"\r\n": "CRLF", b"\r": "CR"}
_DATA = b"data: "

_Row = tuple[int, str, int, int, str, str | None, int]  # Event's fields, in order


def _newline(text: bytes) -> bytes | None:
    """The one line ending `text` uses, or None when it mixes them.

    A final CR is left out: it may be the first half of a CRLF split across two feeds.
    """
    stop = len(text) - text.endswith(b"\r")
    if text.find(b"\r", 0, stop) < 0:
        return b"\n"
    crs = text.count(b"\r", 0, stop)
    lfs = text.count(b"\n", 0, stop)
    if not lfs:
        return b"\r"
    return b"\r\n" if crs == lfs == text.count(b"\r\n", 0, stop) else None


def _style_of(line: bytes) -> str:
    """Line ending of a line from `bytes.splitlines(keepends=True)`."""
    if line.endswith(b"\r\n"):
        return "CRLF"
    return "LF" if line.endswith(b"\n") else "CR"


def _retry_detail(value: str) -> str:
    """Observation detail of a `retry:` field: the value, and whether a client ignores it."""
    if value.isascii() and value.isdigit():
        return value
    return f"ignored (not only ASCII digits): {excerpt(value, _DETAIL)}"


def _value(text: str) -> str:
    """The value of a field line: after the first colon, one leading space dropped."""
    value = text.partition(":")[2]
    return value[1:] if value[:1] == " " else value


def _comment_detail(text: str) -> str:
    return excerpt(text[1:], _DETAIL)


def _observed(name: str, value: str) -> tuple[str, str]:
    """The observation (kind, detail) of a field line other than `data`."""
    if name == "event":
        return Kind.EVENT_NAME, excerpt(value, _DETAIL)
    if name == "id":
        return Kind.ID_FIELD, _id_detail(value)
    if name == "retry":
        return Kind.RETRY_FIELD, _retry_detail(value)
    return Kind.UNKNOWN_FIELD, excerpt(name, _DETAIL)


def _id_detail(value: str) -> str:
    """Observation detail of an `id:` field: the value, and whether a client ignores it."""
    shown = excerpt(value.replace("\0", "\\0"), _DETAIL)
    return f"ignored (contains NUL): {shown}" if "\0" in value else shown


class SSEParser:
    """Incremental WHATWG event-stream parser that records what a lenient client hides.

    `feed` bytes split anywhere, then `close` at the end of the body. Offsets are byte
    offsets in the body, a leading BOM included.
    """

    def __init__(self, *, max_line: int = 1 << 20, max_event: int = 2 << 20) -> None:
        self.max_line = max_line
        self.max_event = max_event
        self.observations: list[Observation] = []
        self.bytes_seen = 0
        self.line_endings: dict[str, int] = {"LF": 0, "CRLF": 0, "CR": 0}
        self.pending: Event | None = None
        self.over_limit: Observation | None = None
        self._small = min(max_line, max_event)  # a line this short breaks no limit
        self._head: bytes | None = b""  # first bytes, until a BOM is ruled in or out
        self._buf = bytearray()  # the partial line, maybe ending in a CR that awaits an LF
        self._pos = 0  # offset of _buf[0] in the body
        self._stopped = False  # over a limit, or closed: later bytes are not parsed
        self._count = 0  # events dispatched
        self._last_id: str | None = None  # WHATWG "last event ID buffer"
        self._styles: set[str] = set()
        self._tally: dict[str, int] = {}
        self._rows: list[_Row] = []
        self._out: list[Event] = []
        self._reset()

    def _reset(self) -> None:
        """Forget the pending event (after a blank line)."""
        self._start = -1  # offset of the pending event's first line, -1 when none
        self._data = bytearray()  # the data lines, UTF-8, joined by LF (no object per line)
        self._data_lines = 0
        self._data_bytes = 0
        self._type = ""
        self._fields = 0  # non-comment field lines

    # -- public surface ---------------------------------------------------------------

    def feed(self, data: bytes) -> list[Event]:
        """Parse the next bytes of the body; return the events they dispatch, in order."""
        self.bytes_seen += len(data)
        if self._stopped or not data:
            return []
        text = self._take(data)
        if not text:
            return []
        if self._start < 0:
            single = self._single(text)
            if single is not None:
                return single
        self._parse(text)
        return self._drain()

    @property
    def pending_start(self) -> int | None:
        """Offset of the first byte of what has not yet been dispatched or dropped (an open
        event or line), or None when every byte fed is accounted for."""
        if self._start >= 0:
            return self._start
        return self._pos if self._buf or self._head else None

    def close(self) -> list[Event]:
        """End of the body: parse a last CR-ended line, record an unterminated event.

        Per WHATWG an event without its blank line is not dispatched: it is kept in
        `pending` and recorded. The events returned are those a final lone CR dispatches.
        """
        if self._stopped:
            return []
        self._stopped = True
        tail = self._head if self._head is not None else bytes(self._buf)
        self._buf = bytearray()
        if tail.endswith(b"\r"):
            self._close_cr_line(tail[:-1])
            tail = b""
        if tail or self._fields:
            self._unterminated(tail)
        return self._drain()

    def _single(self, data: bytes) -> list[Event] | None:
        """The event of a feed that is exactly one `data: ` line and a blank line, else None.

        Live streams often arrive an event a read: this skips the general machinery.
        """
        newline = b"\r\n" if data.endswith(b"\r\n\r\n") else b"\n"
        cut = len(data) - 2 * len(newline)
        if (
            not data.endswith(newline + newline)
            or data.find(b"\n") != cut + len(newline) - 1
            or data.find(b"\r", 0, cut) >= 0
            or not data.startswith(_DATA)
            or len(data) > self._small
            or _STYLE[newline] not in self._styles
        ):
            return None
        try:
            value = data[len(_DATA) : cut].decode()
        except UnicodeDecodeError:
            return None
        self.line_endings[_STYLE[newline]] += 2
        offset, self._pos = self._pos, self._pos + len(data)
        self._count += 1
        return [Event(self._count - 1, value, offset, self._pos, "", self._last_id, 1)]

    # -- bytes to lines ---------------------------------------------------------------

    def _take(self, data: bytes) -> bytes:
        """The bytes to parse now, partial line first; b"" while a line is still open."""
        if self._head is not None:
            data = self._strip_bom(self._head + data)
        buf = self._buf
        if buf[-1:] != b"\r" and b"\n" not in data and b"\r" not in data:
            self._hold(data)
            return b""
        if not buf:
            return data
        self._buf = bytearray()
        return b"".join((buf, data))

    def _strip_bom(self, head: bytes) -> bytes:
        """Drop one BOM at the very start of the body (WHATWG "UTF-8 decode")."""
        if len(head) < 3 and _BOM.startswith(head):
            self._head = head
            return b""
        self._head = None
        if not head.startswith(_BOM):
            return head
        self._observe(Kind.BOM, 0, "U+FEFF")
        self._pos = 3
        return head[3:]

    def _hold(self, data: bytes) -> None:
        """Add `data` to the open line, or stop if that line exceeds `max_line` bytes."""
        if len(self._buf) + len(data) - data.endswith(b"\r") > self.max_line:
            detail = f"a line exceeds {self.max_line} bytes"
            self._stop(Kind.LINE_TOO_LONG, self._pos, detail)
        else:
            self._buf += data

    def _parse(self, text: bytes) -> None:
        """Parse the complete lines of `text` and keep its partial last line."""
        base = self._pos
        done = self._bulk_first(text, base) if self._start < 0 else 0
        rest = text[done:] if done else text
        newline = _newline(rest)
        if newline is None:
            done += self._mixed(rest, base + done)
        else:
            done += self._uniform(rest, base + done, newline)
        if self._stopped:
            return
        self._pos = base + done
        if done < len(text):
            self._hold(text[done:])

    def _bulk_first(self, text: bytes, base: int) -> int:
        """Try `_bulk` before checking that all line endings agree (it checks its own run)."""
        stop = len(text) - text.endswith(b"\r")
        cr = text.find(b"\r", 0, stop)
        newline = b"\n" if cr < 0 else b"\r\n" if text.startswith(b"\n", cr + 1) else b"\r"
        if _STYLE[newline] not in self._styles:  # its first use is observed line by line
            return 0
        return self._bulk(text, 0, stop, base, newline)

    def _uniform(self, text: bytes, base: int, newline: bytes) -> int:
        """Parse lines that all end in `newline`; return the bytes consumed."""
        stop = len(text) - text.endswith(b"\r")
        end = text.rfind(newline, 0, stop) + len(newline)
        if end < len(newline):
            return 0
        start = 0 if _STYLE[newline] in self._styles else self._first_line(text, base, newline)
        if self._start >= 0 and not self._stopped:  # finish the pending event first
            start = self._finish_event(text, start, end, base, newline)
        if self._start < 0 and not self._stopped:
            start += self._bulk(text, start, end, base, newline)
        if start < end and not self._stopped:
            self._blocks(text[start:end], base + start, newline)
        return end

    def _first_line(self, text: bytes, base: int, newline: bytes) -> int:
        """Parse the first line alone, so a new line ending is observed in byte order."""
        cut = text.find(newline)
        after = cut + len(newline)
        self._line(text[:cut], base, base + after)
        self.line_endings[_STYLE[newline]] += 1
        self._ending(_STYLE[newline], base + cut)
        return after

    def _finish_event(self, text: bytes, start: int, end: int, base: int, newline: bytes) -> int:
        """Parse the lines up to the blank line that ends the pending event; return the end."""
        if text.startswith(newline, start, end):
            stop = start + len(newline)
        else:
            found = text.find(newline + newline, start, end)
            stop = end if found < 0 else found + 2 * len(newline)
        self._blocks(text[start:stop], base + start, newline)
        return stop

    def _mixed(self, text: bytes, base: int) -> int:
        """Parse, line by line, lines with different endings; return the bytes consumed."""
        lines = text.splitlines(keepends=True)
        if not lines[-1].endswith(b"\n"):  # partial, or a CR that may start a CRLF
            lines.pop()
        pos = base
        for blank, group in groupby(lines, key=_STYLE.__contains__):
            run = list(group)
            if blank:
                self._blank_lines(run, pos)
                pos += sum(map(len, run))
                continue
            for raw, same in groupby(run):
                count = len(list(same))
                self._mixed_line(raw, count, pos)
                pos += len(raw) * count
                if self._stopped:
                    return pos - base
        return pos - base

    def _mixed_line(self, raw: bytes, count: int, pos: int) -> None:
        """`count` copies of the line `raw` (its ending included) at `pos`."""
        style = _style_of(raw)
        size = 2 if style == "CRLF" else 1
        self._line(raw[:-size], pos, pos + len(raw))
        self.line_endings[style] += count
        self._ending(style, pos + len(raw) - size)
        if count > 1 and not self._stopped:
            self._again(raw[:-size], count - 1, pos + len(raw), len(raw))

    def _blank_lines(self, run: list[bytes], pos: int) -> None:
        """A run of blank lines of any endings at `pos`: the first may dispatch an event, the
        others find nothing pending; each ending is counted, a new style observed."""
        self._line(b"", pos, pos + len(run[0]))
        firsts = []
        for ending, style in _STYLE.items():
            count = run.count(ending)
            self.line_endings[style] += count
            if count and style not in self._styles:
                at = run.index(ending)
                firsts.append((at, style, pos + sum(map(len, run[:at]))))
        for _, style, offset in sorted(firsts):
            self._ending(style, offset)

    def _ending(self, style: str, offset: int) -> None:
        """Observe the first use of each line-ending style."""
        if style not in self._styles:
            self._styles.add(style)
            self._observe(Kind.LINE_ENDING, offset, style)

    # -- fast tiers -------------------------------------------------------------------

    def _bulk(self, text: bytes, start: int, end: int, base: int, newline: bytes) -> int:
        """Dispatch a run of one-line `data: ` events at `start`; return its length."""
        blank = newline + newline
        cut = text.rfind(blank, start, end) + len(blank)
        if (
            cut < start + len(_DATA) + len(blank)
            or not text.startswith(_DATA, start)
            or text.find(newline, start) != text.find(blank, start)  # first block: one line
            or (newline == b"\r" and text.startswith(b"\n", cut))  # the last CR starts a CRLF
        ):
            return 0
        payload = text[start + len(_DATA) : cut - len(blank)]
        try:
            values = payload.decode().split((blank + _DATA).decode())
        except UnicodeDecodeError:
            return 0
        if any(map(contains, values, repeat("\n"))):  # a block of several lines
            return 0
        if newline != b"\n" and any(map(contains, values, repeat("\r"))):
            return 0
        sizes = self._bulk_sizes(values, payload, blank + _DATA)
        if sizes is None:
            return 0
        self.line_endings[_STYLE[newline]] += 2 * len(values)
        self._bulk_events(values, sizes, base + start, len(_DATA) + len(blank))
        return cut - start

    def _bulk_sizes(self, values: list[str], payload: bytes, sep: bytes) -> list[int] | None:
        """Byte sizes of the values of a bulk run, or None when one breaks a limit."""
        sizes = list(map(len, values))
        if sum(sizes) + len(sep) * (len(sizes) - 1) != len(payload):  # not all ASCII
            sizes = list(map(len, payload.split(sep)))
        if len(_DATA) + len(payload) <= self._small:  # no line, no value can be longer
            return sizes
        largest = max(sizes)
        if largest + len(_DATA) > self.max_line or largest + 1 > self.max_event:
            return None
        return sizes

    def _bulk_events(self, values: list[str], sizes: list[int], offset: int, extra: int) -> None:
        """Append the events of a bulk run, each `extra` bytes longer than its value."""
        self._flush()
        ends = list(accumulate(map(extra.__add__, sizes), initial=offset))
        first, count = self._count, len(values)
        columns = (range(first, first + count), values, ends, islice(ends, 1, None))
        constants = (repeat(""), repeat(self._last_id), repeat(1))
        self._out += map(Event, *columns, *constants)
        self._count = first + count

    def _blocks(self, region: bytes, base: int, newline: bytes) -> None:
        """Parse complete lines; a block that is one data line and a blank goes fast."""
        size = len(newline)
        self.line_endings[_STYLE[newline]] += region.count(newline)
        blocks = region.split(newline + newline)
        tail = blocks.pop()
        pos = base
        for block, run in groupby(blocks):
            count = len(list(run))
            if block:  # an empty block: two more blank lines, and nothing is pending
                self._block_run(block, count, pos, newline)
                if self._stopped:
                    return
            pos += (len(block) + 2 * size) * count
        if tail:
            self._lines(tail[:-size].split(newline), pos, size)

    def _block_run(self, block: bytes, count: int, pos: int, newline: bytes) -> None:
        """`count` copies of a block of lines, each followed by a blank line."""
        size = len(newline)
        step = len(block) + 2 * size
        for number in range(count):
            start = pos + number * step
            if self._start < 0 and self._quick(block, start, start + step, newline):
                continue
            events, seen, tally = self._count, len(self.observations), dict(self._tally)
            self._lines([*block.split(newline), b""], start, size)
            if self._stopped:
                return
            if self._count == events and len(self.observations) == seen:
                # no event, and every observation past its cap: the rest are only counted
                for kind, total in self._tally.items():
                    self._tally[kind] = total + (total - tally.get(kind, 0)) * (count - number - 1)
                return

    def _quick(self, block: bytes, offset: int, end: int, newline: bytes) -> bool:
        """Dispatch `block` if it is a single valid data line; say whether it was."""
        if block[:5] != b"data:" or newline in block or len(block) > self._small:
            return False
        try:
            value = block[6 if block[5:6] == b" " else 5 :].decode()
        except UnicodeDecodeError:
            return False
        self._rows.append((self._count, value, offset, end, "", self._last_id, 1))
        self._count += 1
        return True

    # -- lines to events (WHATWG "interpret an event stream") ------------------------

    def _lines(self, lines: list[bytes], pos: int, size: int) -> None:
        """Parse lines that each end in a `size`-byte line ending, the first at `pos`."""
        for line, run in groupby(lines):
            count = len(list(run))
            after = pos + len(line) + size
            self._line(line, pos, after)
            if count > 1 and not self._stopped:
                self._again(line, count - 1, after, len(line) + size)
            if self._stopped:
                return
            pos += (len(line) + size) * count

    def _again(self, line: bytes, count: int, offset: int, step: int) -> None:
        """`count` more copies of the line just parsed, the first at `offset`, each `step`
        bytes after the last: what `_line` would do to each, done once for them all."""
        if not line:  # a blank line right after a blank line: nothing pending, nothing to do
            return
        try:
            text = line.decode()
        except UnicodeDecodeError:
            text = ""
        name = text.partition(":")[0]
        if name == "data" and text:
            value = _value(text)
            self._data_run(value, len(line) - len(text) + len(value), offset, step, count)
            return
        if not text:  # invalid UTF-8: each copy is observed (up to the cap)
            for number in range(count):
                start = offset + number * step
                self._line(line, start, start + step)
                if self._stopped:
                    return
            return
        if text[0] == ":":
            self._observe_run(Kind.COMMENT, _comment_detail(text), offset, step, count)
            return
        self._fields += count  # event, id, retry or unknown: the same value again
        self._observe_run(*_observed(name, _value(text)), offset, step, count)

    def _line(self, line: bytes, offset: int, after: int) -> None:
        """Interpret one line: blank, comment or field."""
        if not line:
            self._blank(after)
            return
        if len(line) > self.max_line:
            self._stop(Kind.LINE_TOO_LONG, offset, f"a line exceeds {self.max_line} bytes")
            return
        if self._start < 0:
            self._start = offset
        text = self._decode(line, offset)
        if text[0] == ":":
            self._observe(Kind.COMMENT, offset, _comment_detail(text))
            return
        name = text.partition(":")[0]
        value = _value(text)
        self._fields += 1
        self._field(name, value, offset, len(line) - len(text) + len(value))

    def _field(self, name: str, value: str, offset: int, size: int) -> None:
        """Process one field; `size` is the value's length in bytes."""
        if name == "data":
            self._add_data(value, offset, size)
            return
        if name == "event":
            self._type = value
        elif name == "id" and "\0" not in value:
            self._last_id = value
        kind, detail = _observed(name, value)
        self._observe(kind, offset, detail)

    def _add_data(self, value: str, offset: int, size: int) -> None:
        """Append a data line to the data buffer, minding `max_event`."""
        if self._data_lines:
            self._data += b"\n"
        self._data += value.encode()
        self._data_lines += 1
        self._data_bytes += size + 1
        if self._data_bytes > self.max_event:
            detail = f"the data of an event exceeds {self.max_event} bytes"
            self._stop(Kind.EVENT_TOO_LARGE, self._start, detail, self._count)
        elif self._data_lines == 2:
            self._observe(Kind.MULTILINE_DATA, offset, "", self._count)

    def _data_run(self, value: str, size: int, offset: int, step: int, count: int) -> None:
        """`_add_data` of `count` copies of one data line, the first at `offset`."""
        before = self._data_lines
        fit = min(count, (self.max_event - self._data_bytes) // (size + 1))
        if before < 2 <= before + fit:
            self._observe(Kind.MULTILINE_DATA, offset + (1 - before) * step, "", self._count)
        self._data += (b"\n" + value.encode()) * fit
        self._data_lines += fit
        self._data_bytes += fit * (size + 1)
        if fit < count:
            detail = f"the data of an event exceeds {self.max_event} bytes"
            self._stop(Kind.EVENT_TOO_LARGE, self._start, detail, self._count)

    def _blank(self, end: int) -> None:
        """A blank line: dispatch the pending event if its data buffer is not empty."""
        if self._data_lines:
            self._rows.append(self._row(end))
            self._count += 1
        elif self._fields:
            detail = f"no data line (event type {self._type!r})" if self._type else "no data line"
            self._observe(Kind.EMPTY_EVENT, self._start, detail)
        self._reset()

    def _row(self, end: int) -> _Row:
        """The fields of the pending event, were it dispatched with `end`."""
        joined = self._data.decode()
        return (self._count, joined, self._start, end, self._type, self._last_id, self._data_lines)

    def _decode(self, line: bytes, offset: int) -> str:
        """UTF-8 decode with replacement, observing where the bytes are invalid."""
        try:
            return line.decode()
        except UnicodeDecodeError:
            self._observe_invalid(line, offset)
            return line.decode(errors="replace")

    def _observe_invalid(self, line: bytes, offset: int) -> None:
        """Observe each invalid sequence of `line` until the cap is reached."""
        pos = 0
        while self._tally.get(Kind.INVALID_UTF8, 0) <= _CAPS[Kind.INVALID_UTF8]:
            try:
                line[pos:].decode()
            except UnicodeDecodeError as exc:
                bad = pos + exc.start
                detail = f"invalid UTF-8 byte 0x{line[bad]:02x} ({exc.reason})"
                self._observe(Kind.INVALID_UTF8, offset + bad, detail)
                pos += exc.end
            else:
                return

    # -- end of stream ----------------------------------------------------------------

    def _close_cr_line(self, line: bytes) -> None:
        """The body ended in a CR: the line before it is complete."""
        after = self._pos + len(line) + 1
        self._line(line, self._pos, after)
        self.line_endings["CR"] += 1
        self._ending("CR", after - 1)
        self._pos = after

    def _unterminated(self, tail: bytes) -> None:
        """Record the event (or partial line) the body ended in, and keep it in `pending`."""
        start = self._start if self._start >= 0 else self._pos
        if tail:  # parsed as a lenient client would, to show what was lost
            self._line(tail, self._pos, self._pos + len(tail))
        if self._data_lines:
            self.pending = Event(*self._row(self.bytes_seen))
            what = f"an event with {self._data_lines} data line(s)"
        else:
            what = f"a partial line of {len(tail)} bytes" if tail else "an event without data"
        detail = f"the body ends without the blank line that dispatches: {what} dropped"
        self._observe(Kind.UNTERMINATED_EVENT, start, detail)

    # -- bookkeeping ------------------------------------------------------------------

    def _observe(
        self, kind: str, offset: int, detail: str = "", event_index: int | None = None
    ) -> None:
        """Record an observation; past a kind's cap only one summary is kept."""
        seen = self._tally.get(kind, 0) + 1
        self._tally[kind] = seen
        cap = _CAPS.get(kind, _CAP)
        if seen <= cap:
            self.observations.append(Observation(kind, offset, detail, event_index))
        elif seen == cap + 1:
            detail = f"more than {cap} {kind} observations: later ones are not recorded"
            self.observations.append(Observation(kind, offset, detail))

    def _observe_run(self, kind: str, detail: str, offset: int, step: int, count: int) -> None:
        """`_observe` of `count` copies of one line, the first at `offset`, each `step` bytes
        on; the same observations, but the work is that of those kept, not of the copies."""
        seen = self._tally.get(kind, 0)
        cap = _CAPS.get(kind, _CAP)
        kept = max(0, min(count, cap - seen))
        self.observations += [Observation(kind, offset + k * step, detail) for k in range(kept)]
        if seen <= cap < seen + count:
            detail = f"more than {cap} {kind} observations: later ones are not recorded"
            self.observations.append(Observation(kind, offset + (cap - seen) * step, detail))
        self._tally[kind] = seen + count

    def _stop(self, kind: str, offset: int, detail: str, event_index: int | None = None) -> None:
        """Record an over-limit, drop the buffers and refuse further bytes."""
        observation = Observation(kind, offset, detail, event_index)
        self.observations.append(observation)
        self.over_limit = observation
        self._stopped = True
        self._buf = bytearray()
        self._data, self._data_lines = bytearray(), 0

    def _flush(self) -> None:
        """Turn the rows dispatched so far into events."""
        if self._rows:
            self._out += starmap(Event, self._rows)
            self._rows = []

    def _drain(self) -> list[Event]:
        """The events dispatched since the last call."""
        self._flush()
        out, self._out = self._out, []
        return out
