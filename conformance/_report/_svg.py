"""An inline SVG chart of the time to first byte and to first content of each stream: two
labelled series of dots against the stream's number. No script, no network."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 30, 40
TICKS = 4
SERIES = (("time to first byte", "#0b4fb3", "circle"), ("time to first content", "#a01010", "rect"))
"""Each series: its label, its colour (contrast >= 4.5 on white) and its marker."""

Point = tuple[float | None, float | None]
Scale = Callable[[float], float]


def timing_chart(points: Sequence[Point]) -> str:
    """Per stream (x: its number, from 1), the milliseconds to the first byte and to the
    first content event (y), with a legend naming both series."""
    y_max = max((v for point in points for v in point if v is not None), default=0.0) or 1.0
    count = max(len(points), 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(number: int) -> float:
        return LEFT + (number - 0.5) / count * plot_w

    def y(value: float) -> float:
        return TOP + plot_h - value / y_max * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="time to first byte and first '
        'content per stream">',
        *_axes(y, y_max, count),
        *_legend(),
    ]
    for series, (_, colour, marker) in enumerate(SERIES):
        for number, point in enumerate(points, 1):
            value = point[series]
            if value is not None:
                title = f"stream {number}: {value:.1f} ms"
                parts.append(_mark(marker, colour, x(number), y(value), title))
    parts.append("</svg>")
    return "".join(parts)


def _mark(marker: str, colour: str, cx: float, cy: float, title: str = "") -> str:
    label = f"<title>{escape(title)}</title>" if title else ""
    if marker == "circle":
        return f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3.5" fill="{colour}">{label}</circle>'
    return (
        f'<rect x="{cx - 3:.1f}" y="{cy - 3:.1f}" width="6" height="6" fill="none" '
        f'stroke="{colour}" stroke-width="1.5">{label}</rect>'
    )


def _axes(y: Scale, y_max: float, count: int) -> list[str]:
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    out = [
        f'<line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#333"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="#333"/>',
    ]
    for i in range(TICKS + 1):
        value = y_max * i / TICKS
        at = y(value)
        out.append(
            f'<text x="{LEFT - 6}" y="{at + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#333">{_number(value)}</text>'
        )
    out.append(
        f'<text x="{(LEFT + right) / 2:.1f}" y="{HEIGHT - 8}" font-size="12" '
        f'text-anchor="middle" fill="#333">stream 1 to {count}, in test order</text>'
    )
    out.append(
        f'<text x="14" y="{(TOP + bottom) / 2:.1f}" font-size="12" text-anchor="middle" '
        f'fill="#333" transform="rotate(-90 14 {(TOP + bottom) / 2:.1f})">milliseconds</text>'
    )
    return out


def _legend() -> list[str]:
    out = []
    for n, (label, colour, marker) in enumerate(SERIES):
        left = LEFT + 10 + n * 200
        out.append(_mark(marker, colour, left, 14))
        out.append(
            f'<text x="{left + 10}" y="18" font-size="12" fill="#333">{escape(label)}</text>'
        )
    return out


def _number(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"
