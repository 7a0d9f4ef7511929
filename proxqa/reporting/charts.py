"""Line charts as inline SVG, readable without a script: one point per run along the x axis, axes with units,
the target as a dashed line, points that miss it in red, and the value written above each point."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 540, 280
LEFT, RIGHT, TOP, BOTTOM = 62, 24, 48, 70
MAX_X_LABELS = 10           # more runs than this: every n-th run is labelled (all keep a tooltip)
MAX_VALUE_LABELS = 15       # more points than this: values only in the tooltips
MET, MISSED, LINE, TARGET, GRID, INK = "#1a7f37", "#cf222e", "#0969da", "#cf222e", "#d0d7de", "#24292f"


@dataclass(frozen=True)
class Chart:
    key: str                        # stable name for the page and its tests: "stage-1", "sla-pod-startup"
    title: str
    y_label: str                    # axis title, with the unit: "pass rate (%)"
    unit: str                       # written after values: "%", "s"
    runs: Sequence[str]             # x-axis label per run
    run_ids: Sequence[str]
    values: Sequence[float | None]  # None: the run has no value (nothing executed, not measured)
    target: float
    target_label: str               # "target 95 %"
    lower_is_better: bool = False
    y_max: float | None = None      # fixed top of the y axis (100 for rates); else from the data

    def met(self, value: float) -> bool:
        return value < self.target if self.lower_is_better else value >= self.target


def svg(chart: Chart) -> str:
    """The chart as an <svg> element."""
    measured = [v for v in chart.values if v is not None]
    top = chart.y_max or nice_top(max([*measured, chart.target]) * 1.15)
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slots = max(len(chart.values), 1)

    def x(index: int) -> float:
        return LEFT + plot_width * (index + 0.5) / slots

    def y(value: float) -> float:
        return TOP + plot_height * (1 - min(value, top) / top)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{escape(chart.key)}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
             f'aria-label="{escape(chart.title)}">',
             f"<title>{escape(chart.title)}</title>",
             f'<text x="{LEFT}" y="22" font-size="14" font-weight="bold" fill="{INK}">{escape(chart.title)}</text>']
    parts += _y_axis(top, y, chart.y_label)
    parts += _x_axis(chart.runs, x)
    target_y = y(chart.target)
    label_y = target_y + 14 if target_y < TOP + plot_height / 2 else target_y - 5   # on the side with more room
    parts.append(f'<line class="target" data-value="{chart.target:g}" x1="{LEFT}" x2="{WIDTH - RIGHT}" '
                 f'y1="{target_y:.1f}" y2="{target_y:.1f}" stroke="{TARGET}" stroke-width="1.5" '
                 f'stroke-dasharray="6 4"/>')
    parts.append(f'<text class="target-label" x="{WIDTH - RIGHT}" y="{label_y:.1f}" text-anchor="end" '
                 f'font-size="11" fill="{TARGET}">{escape(chart.target_label)}</text>')
    for segment in _segments(chart.values):
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in segment)
        parts.append(f'<polyline points="{points}" fill="none" stroke="{LINE}" stroke-width="2"/>')
    for index, value in enumerate(chart.values):
        if value is not None:
            parts += _point(chart, index, value, x(index), y(value), label=len(chart.values) <= MAX_VALUE_LABELS)
    parts.append("</svg>")
    return "\n".join(parts)


def nice_top(value: float) -> float:
    """The smallest of 1, 2, 2.5 and 5 times a power of ten that is at least value: a round top for an axis."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= value)


def number(value: float) -> str:
    """A value as the charts write it: at most three significant digits after the point."""
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3g}"


def _y_axis(top: float, y, label: str) -> list[str]:
    parts = []
    for step in range(6):
        value = top * step / 5
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                     f'stroke="{GRID}" stroke-width="1"/>')
        parts.append(f'<text class="y-tick" x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11" '
                     f'fill="{INK}">{value:g}</text>')
    middle = TOP + (HEIGHT - TOP - BOTTOM) / 2
    parts.append(f'<text class="y-label" x="16" y="{middle:.1f}" transform="rotate(-90 16 {middle:.1f})" '
                 f'text-anchor="middle" font-size="12" fill="{INK}">{escape(label)}</text>')
    return parts


def _x_axis(runs: Sequence[str], x) -> list[str]:
    base = HEIGHT - BOTTOM
    parts = [f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{base}" y2="{base}" stroke="{INK}" stroke-width="1"/>',
             f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{base}" stroke="{INK}" stroke-width="1"/>']
    every = math.ceil(len(runs) / MAX_X_LABELS) or 1
    for index, run in enumerate(runs):
        if index % every == 0 or index == len(runs) - 1:
            parts.append(f'<text class="x-tick" x="{x(index):.1f}" y="{base + 14}" text-anchor="end" font-size="10" '
                         f'fill="{INK}" transform="rotate(-30 {x(index):.1f} {base + 14})">{escape(run)}</text>')
    parts.append(f'<text class="x-label" x="{LEFT + (WIDTH - LEFT - RIGHT) / 2:.1f}" y="{HEIGHT - 6}" '
                 f'text-anchor="middle" font-size="12" fill="{INK}">run (finished, UTC)</text>')
    return parts


def _point(chart: Chart, index: int, value: float, px: float, py: float, *, label: bool) -> list[str]:
    met = chart.met(value)
    text = f"{number(value)} {chart.unit}"
    tooltip = f"{chart.run_ids[index]}: {text} ({'meets' if met else 'misses'} {chart.target_label})"
    parts = [f'<circle class="point {"met" if met else "missed"}" data-run="{escape(chart.run_ids[index])}" '
             f'data-value="{value:g}" cx="{px:.1f}" cy="{py:.1f}" r="4.5" fill="{MET if met else MISSED}">'
             f"<title>{escape(tooltip)}</title></circle>"]
    if label:
        parts.append(f'<text class="value" x="{px:.1f}" y="{py - 9:.1f}" text-anchor="middle" font-size="10" '
                     f'fill="{MET if met else MISSED}">{escape(number(value))}</text>')
    return parts


def _segments(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """Runs of consecutive values: a run without a value breaks the line."""
    segments: list[list[tuple[int, float]]] = [[]]
    for index, value in enumerate(values):
        if value is None:
            segments.append([])
        else:
            segments[-1].append((index, value))
    return [segment for segment in segments if segment]
