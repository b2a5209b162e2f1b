"""Removing a content coding (gzip, deflate) from a body, in bounded pieces.

Each piece of output is at most `PIECE` bytes, however far the input inflates, so a
compression bomb never costs more memory than one piece. Standard library only.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

PIECE = 64 * 1024
IDENTITY = ("identity", "")
SUPPORTED = ("gzip", "x-gzip", "deflate")


class CodingError(ValueError):
    """A content coding that cannot be removed: unsupported, or a corrupt body."""


class Truncated(CodingError):
    """The compressed body ends before its compressed stream does: it was cut short."""


def normalise(coding: str | None) -> str:
    """The Content-Encoding value as compared here."""
    return (coding or "identity").strip().lower()


def decoded(body: Iterator[bytes], coding: str | None) -> Iterator[bytes]:
    """`body` with its content coding removed; the iterator itself when there is none."""
    name = normalise(coding)
    if name in IDENTITY:
        return body
    if name not in SUPPORTED:
        raise CodingError(f"unsupported Content-Encoding {name!r}")
    return _inflate(
        body, zlib.decompressobj(16 + zlib.MAX_WBITS if "gzip" in name else zlib.MAX_WBITS)
    )


def _inflate(body: Iterator[bytes], inflater: zlib._Decompress) -> Iterator[bytes]:
    try:
        for compressed in body:
            data = compressed
            while data:
                out = inflater.decompress(data, PIECE)
                data = inflater.unconsumed_tail
                if out:
                    yield out
        tail = inflater.flush()
        if tail:
            yield tail
    except zlib.error as exc:
        raise CodingError(f"the compressed body is corrupt: {exc}") from exc
    if not inflater.eof:
        raise Truncated("the compressed body is truncated: it ends before its compressed stream")
