"""JSON from a target, read within bounds of nesting and of size.

Valid JSON may nest without end, and every consumer of a decoded value (the standard
library's decoder, `repr`, orjson's encoder, the schema validators) recurses: a payload
nested thousands deep would raise `RecursionError` wherever it went. And a few bytes of
JSON (`{},`) decode to a hundred bytes of objects: megabytes of them to gigabytes. Both are
measured before the text is decoded, in linear time, and for free on the short, flat
payloads of a normal stream. Standard library and orjson only.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

import orjson

__all__ = ["TooDeep", "dumps", "escape_controls", "excess", "loads", "nests_deeper"]

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_CONTROLS = re.compile("[\x7f-\x9f]")


class TooDeep(ValueError):
    """JSON nested deeper, or holding more values, than the bounds it was read with."""


def _bare(text: str) -> bytes:
    """The JSON `text` as UTF-8 without its strings, so that no bracket or comma in one is
    counted. Bytes, and C-level passes: a million small values make no million objects."""
    return _STRING.sub(b'""', text.encode("utf-8", "surrogatepass"))


def _deeper(bare: bytes, limit: int) -> bool:
    brackets = bare.translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit


def _more(bare: bytes, values: int) -> bool:
    return bare.count(b",") + bare.count(b"[") + bare.count(b"{") >= values


def _may_nest(text: str, limit: int) -> bool:
    """Whether `text` has enough characters and brackets to nest more than `limit` deep."""
    return len(text) > 2 * limit and text.count("[") + text.count("{") > limit


def _may_hold(text: str, values: int) -> bool:
    """Whether `text` has enough characters and separators to hold more than `values`."""
    return len(text) > values and text.count(",") + text.count("[") + text.count("{") >= values


def nests_deeper(text: str, limit: int) -> bool:
    """Whether the JSON `text` nests arrays and objects more than `limit` deep.

    Strings are skipped, so brackets inside them do not count. Text too short, or with too
    few brackets, to be that deep is answered at once.
    """
    return _may_nest(text, limit) and _deeper(_bare(text), limit)


def holds_more(text: str, values: int) -> bool:
    """Whether the JSON `text` holds more than `values` values (outside strings, every
    value but the first follows a comma or opens a container)."""
    return _may_hold(text, values) and _more(_bare(text), values)


def excess(text: str, depth: int, values: int) -> str | None:
    """Why the JSON `text` is beyond the bounds (None when it is not)."""
    nest, hold = _may_nest(text, depth), _may_hold(text, values)
    if not (nest or hold):
        return None
    bare = _bare(text)
    if nest and _deeper(bare, depth):
        return f"nests JSON arrays and objects deeper than the client's limit of {depth} levels"
    if hold and _more(bare, values):
        return f"holds more JSON values than the client's limit of {values:,}"
    return None


def loads(data: str | bytes, depth: int, values: int = 1 << 62) -> Any:
    """The value of the JSON `data`; raises ValueError when it is not JSON and `TooDeep`
    when it nests more than `depth` levels or holds more than `values` values. orjson
    first; the standard library for what orjson refuses but JSON allows (integers beyond
    64 bits, lone surrogate escapes)."""
    text = data if isinstance(data, str) else data.decode("utf-8", "replace")
    why = excess(text, depth, values)
    if why is not None:
        raise TooDeep(f"the JSON {why}")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(text, parse_constant=_reject_constant)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def escape_controls(text: str) -> str:
    """JSON text with DEL and each C1 control character (JSON lets them stand raw in a
    string, and some terminals act on them) written as its `\\u` escape: the same JSON
    value, safe to print. (JSON escapes the other controls itself.)"""
    return _CONTROLS.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def dumps(value: Any) -> str:
    """`value` (decoded from a target, so within the bounds) as compact JSON text, lone
    surrogates included: orjson refuses them, the standard library writes them as they are."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
