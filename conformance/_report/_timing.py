"""Timing of one stream: time to first byte and first content, gaps between events, rate."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

ARRIVALS_KEPT = 2000
"""Arrival times kept per stream for the chart (evenly thinned beyond this)."""


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile of `values` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def thinned(values: Sequence[float], keep: int = ARRIVALS_KEPT) -> list[float]:
    """At most `keep` of `values`, evenly spaced, always keeping the last."""
    if len(values) <= keep:
        return list(values)
    step = (len(values) - 1) / (keep - 1)
    return [values[round(i * step)] for i in range(keep)]


def stream_timing(
    first_byte: float | None, arrivals: Sequence[float], total: float, first_content: int | None
) -> dict[str, Any]:
    """The timing figures of one stream, in milliseconds (None where unknown)."""
    gaps = [b - a for a, b in pairwise(arrivals)]
    content_at = (
        arrivals[first_content]
        if first_content is not None and first_content < len(arrivals)
        else None
    )
    return {
        "ttfb_ms": _ms(first_byte),
        "first_content_ms": _ms(content_at),
        "gap_p50_ms": _ms(percentile(gaps, 0.50)),
        "gap_p95_ms": _ms(percentile(gaps, 0.95)),
        "gap_max_ms": _ms(max(gaps) if gaps else None),
        "events": len(arrivals),
        "events_per_s": _rate(first_byte, arrivals),
        "total_ms": _ms(total),
        "arrivals_ms": [round(t * 1000, 3) for t in thinned(arrivals)],
    }


def _rate(first_byte: float | None, arrivals: Sequence[float]) -> float | None:
    """Events per second between the response head and the last event."""
    if not arrivals:
        return None
    span = arrivals[-1] - (first_byte or 0.0)
    return round(len(arrivals) / span, 1) if span > 0 else None
