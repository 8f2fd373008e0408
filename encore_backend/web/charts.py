"""Small server-side SVG charts (bars and a line), drawn by hand: no chart library.

Each chart is an accessible image (role="img", a title and a description) with a tooltip per
point; the page also offers the numbers as a table. Coordinates are in a fixed viewBox that
scales to the container's width.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 480, 200
LEFT, RIGHT, TOP, BOTTOM = 34, 8, 10, 26
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


@dataclass(frozen=True)
class Point:
    """One x position: its axis label, its value (None = no data) and its tooltip."""

    label: str
    value: float | None
    tip: str


def _x(i: int, n: int) -> float:
    """Centre of slot i of n."""
    return LEFT + PLOT_W * (i + 0.5) / max(n, 1)


def _y(value: float, low: float, high: float) -> float:
    span = (high - low) or 1.0
    return TOP + PLOT_H * (1 - (value - low) / span)


def _frame(chart_id: str, title: str, desc: str, body: list[str]) -> Markup:
    head = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" preserveAspectRatio="xMidYMid meet">'
        f'<title id="{chart_id}-t">{escape(title)}</title>'
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>'
    )
    return Markup(head + "".join(body) + "</svg>")


def _grid(ticks: Sequence[float], low: float, high: float, fmt: str) -> list[str]:
    parts = []
    for tick in ticks:
        y = _y(tick, low, high)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">'
            f"{fmt.format(tick)}</text>"
        )
    return parts


def _x_labels(points: Sequence[Point]) -> list[str]:
    """First, middle and last labels: enough to read dates without crowding a phone."""
    n = len(points)
    picks = sorted({0, n // 2, n - 1}) if n else []
    return [
        f'<text class="axis" x="{_label_x(i, n):.1f}" y="{HEIGHT - 8}" '
        f'text-anchor="{_anchor(i, n)}">{escape(points[i].label)}</text>'
        for i in picks
    ]


def _label_x(i: int, n: int) -> float:
    """Edge labels start at the plot's edge; the rest are centred on their slot."""
    if n > 2 and i == 0:
        return float(LEFT)
    return float(WIDTH - RIGHT) if n > 2 and i == n - 1 else _x(i, n)


def _anchor(i: int, n: int) -> str:
    """Edge labels grow inwards so they are never cut off."""
    if n > 2 and i == 0:
        return "start"
    return "end" if n > 2 and i == n - 1 else "middle"


def nice_max(value: float) -> float:
    """A round axis top at or above `value`, at least 1 (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    step = 1.0
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def bar_chart(chart_id: str, points: Sequence[Point], *, title: str, desc: str) -> Markup:
    """Vertical bars from zero, one per point."""
    top = nice_max(max((p.value or 0 for p in points), default=0))
    n, width = len(points), PLOT_W / max(len(points), 1) * 0.7
    body = _grid((0, top / 2, top), 0, top, "{:g}")
    for i, p in enumerate(points):
        value = p.value or 0
        y = _y(value, 0, top)
        body.append(
            f'<rect class="bar" x="{_x(i, n) - width / 2:.1f}" y="{y:.1f}" '
            f'width="{width:.1f}" height="{max(TOP + PLOT_H - y, 0):.1f}">'
            f"<title>{escape(p.tip)}</title></rect>"
        )
    return _frame(chart_id, title, desc, body + _x_labels(points))


def line_chart(
    chart_id: str, points: Sequence[Point], *, title: str, desc: str, low: float, high: float
) -> Markup:
    """A line through the points with values; a missing value breaks the line."""
    n = len(points)
    body = _grid([low + (high - low) * k / 4 for k in range(5)], low, high, "{:g}")
    dots: list[str] = []
    segment: list[str] = []
    for i, p in enumerate([*points, Point("", None, "")]):
        if p.value is None:
            if len(segment) > 1:
                body.append(f'<polyline class="line" points="{" ".join(segment)}"/>')
            segment = []
            continue
        x, y = _x(i, n), _y(p.value, low, high)
        segment.append(f"{x:.1f},{y:.1f}")
        dots.append(
            f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="3">'
            f"<title>{escape(p.tip)}</title></circle>"
        )
    return _frame(chart_id, title, desc, body + dots + _x_labels(points))
