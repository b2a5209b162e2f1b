"""An inline SVG chart of event arrival times: one line per stream, no script, no network."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 60, 16, 14, 42
TICKS = 5
PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
)

Scale = Callable[[float], float]


@dataclass(frozen=True, slots=True)
class Series:
    """One stream: its label and its events' arrival times in milliseconds."""

    label: str
    arrivals_ms: Sequence[float]


def color(index: int) -> str:
    """The line colour of the `index`-th series."""
    return PALETTE[index % len(PALETTE)]


def arrival_chart(series: Sequence[Series]) -> str:
    """Cumulative events (y) against arrival time since the request (x), per stream."""
    t_max = max((max(s.arrivals_ms) for s in series if s.arrivals_ms), default=0.0) or 1.0
    n_max = max((len(s.arrivals_ms) for s in series), default=0) or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + t / t_max * plot_w

    def y(n: float) -> float:
        return TOP + plot_h - n / n_max * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="cf-chart" width="{WIDTH}" '
        f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img">',
        "<title>Event arrival times per stream</title>",
        *_axes(x, y, t_max, n_max),
    ]
    for index, item in enumerate(series):
        parts.append(_line(item, color(index), x, y))
    parts.append("</svg>")
    return "\n".join(parts)


def _axes(x: Scale, y: Scale, t_max: float, n_max: int) -> list[str]:
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    out = [
        f'<line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#333"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="#333"/>',
    ]
    for i in range(TICKS + 1):
        t, n = t_max * i / TICKS, n_max * i / TICKS
        out.append(
            f'<text x="{x(t):.1f}" y="{bottom + 16}" font-size="11" '
            f'text-anchor="middle">{_number(t)}</text>'
        )
        out.append(
            f'<text x="{LEFT - 6}" y="{y(n) + 4:.1f}" font-size="11" '
            f'text-anchor="end">{_number(n)}</text>'
        )
    out.append(
        f'<text x="{(LEFT + right) / 2:.1f}" y="{HEIGHT - 6}" font-size="12" '
        'text-anchor="middle">milliseconds since the request was sent</text>'
    )
    out.append(
        f'<text x="14" y="{(TOP + bottom) / 2:.1f}" font-size="12" '
        f'text-anchor="middle" transform="rotate(-90 14 {(TOP + bottom) / 2:.1f})">'
        "events received</text>"
    )
    return out


def _line(item: Series, stroke: str, x: Scale, y: Scale) -> str:
    points = " ".join(f"{x(t):.1f},{y(i + 1):.1f}" for i, t in enumerate(item.arrivals_ms))
    if len(item.arrivals_ms) == 1:
        t = item.arrivals_ms[0]
        return (
            f'<circle cx="{x(t):.1f}" cy="{y(1):.1f}" r="3" fill="{stroke}">'
            f"<title>{escape(item.label)}</title></circle>"
        )
    return (
        f'<polyline fill="none" stroke="{stroke}" stroke-width="1.5" points="{points}">'
        f"<title>{escape(item.label)}</title></polyline>"
    )


def _number(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"
