"""Small server-rendered SVG charts: horizontal bars, a line, a heatmap.

Readable without colour: every bar and cell carries its figure as text, hidden
(suppressed) cells are hatched and say so, and each chart has a <title> and a
<desc> referenced by aria-labelledby. The page shows the data table beside it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

Value = int | float | None
Format = Callable[[float], str]

INK = "#1a1a1a"
MUTED = "#505a55"
BAR = "#0b5d3b"
GRID = "#d5ddd8"


def _open(chart_id: str, width: int, height: int, title: str, desc: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" class="chart">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>',
        f'<defs><pattern id="{chart_id}-hatch" width="8" height="8" '
        'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        f'<rect width="8" height="8" fill="#fff"/><line x1="0" y1="0" x2="0" y2="8" '
        f'stroke="{MUTED}" stroke-width="3"/></pattern></defs>',
    ]


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bars(
    chart_id: str,
    title: str,
    desc: str,
    items: Sequence[tuple[str, Value]],
    fmt: Format,
    hidden_text: str,
) -> str:
    """Horizontal bars, one per item; None is a hidden cell."""
    # 240 px holds 30 characters at 13 px (about 7.5 px each): longer labels are
    # shortened rather than cut off at the left edge.
    label_w, bar_w, row_h, top = 240, 320, 28, 8
    width = label_w + bar_w + 110
    height = top * 2 + row_h * max(len(items), 1)
    top_value = max((v for _l, v in items if v is not None), default=0) or 1
    out = _open(chart_id, width, height, title, desc)
    for i, (label, value) in enumerate(items):
        y = top + i * row_h
        out.append(f"<g><title>{escape(label)}: "
                   f"{escape(hidden_text if value is None else fmt(value))}</title>")
        out.append(
            f'<text x="{label_w - 8}" y="{y + 18}" text-anchor="end" font-size="13" '
            f'fill="{INK}">{escape(_short(label, 30))}</text>'
        )
        if value is None:
            out.append(f'<rect x="{label_w}" y="{y + 5}" width="40" height="{row_h - 10}" '
                       f'fill="url(#{chart_id}-hatch)" stroke="{MUTED}"/>')
            out.append(f'<text x="{label_w + 48}" y="{y + 18}" font-size="13" '
                       f'fill="{MUTED}">{escape(hidden_text)}</text>')
        else:
            w = max(1.0, bar_w * float(value) / top_value)
            out.append(f'<rect x="{label_w}" y="{y + 5}" width="{w:.1f}" height="{row_h - 10}" '
                       f'fill="{BAR}"/>')
            out.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 18}" font-size="13" '
                       f'fill="{INK}">{escape(fmt(value))}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


def line(
    chart_id: str,
    title: str,
    desc: str,
    items: Sequence[tuple[str, Value]],
    fmt: Format,
    hidden_text: str,
) -> str:
    """A line over ordered items (days, months); hidden points break the line."""
    top_value = max((v for _l, v in items if v is not None), default=0) or 1
    # Room on the left for the largest value's label ("€ 151.830,17"): about 7 px a
    # character at 12 px.
    left, right, top, bottom = max(70, len(fmt(top_value)) * 7 + 14), 24, 20, 50
    width, height = 680, 280
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(items) - 1, 1)
    out = _open(chart_id, width, height, title, desc)
    out.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
               f'stroke="{MUTED}"/>')
    out.append(f'<line x1="{left}" y1="{top}" x2="{left + plot_w}" y2="{top}" stroke="{GRID}"/>')
    out.append(f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="12" '
               f'fill="{INK}">{escape(fmt(top_value))}</text>')
    out.append(f'<text x="{left - 6}" y="{top + plot_h + 4}" text-anchor="end" font-size="12" '
               f'fill="{INK}">0</text>')
    segment: list[str] = []
    segments: list[list[str]] = []
    # As many axis labels as fit side by side (about 6.5 px a character at this
    # size, plus a gap), evenly spaced; the last one only where it has room.
    widest = max((len(_short(label, 12)) for label, _v in items), default=1) * 6.5 + 12
    step = max(1, math.ceil(widest / (plot_w / n)))
    last_labelled = (len(items) - 1) // step * step
    for i, (label, value) in enumerate(items):
        x = left + plot_w * i / n
        # The last item too, when there is room beside the label before it.
        edge = (i == len(items) - 1 and i != last_labelled
                and (i - last_labelled) * plot_w / n >= widest)
        if i % step == 0 or edge:
            out.append(f'<text x="{x:.1f}" y="{top + plot_h + 18}" text-anchor="middle" '
                       f'font-size="11" fill="{INK}">{escape(_short(label, 12))}</text>')
        if value is None:
            if segment:
                segments.append(segment)
            segment = []
            out.append(f'<g><title>{escape(label)}: {escape(hidden_text)}</title>'
                       f'<rect x="{x - 4:.1f}" y="{top + plot_h - 8}" width="8" height="8" '
                       f'fill="url(#{chart_id}-hatch)" stroke="{MUTED}"/></g>')
            continue
        y = top + plot_h - plot_h * float(value) / top_value
        segment.append(f"{x:.1f},{y:.1f}")
        out.append(f'<g><title>{escape(label)}: {escape(fmt(value))}</title>'
                   f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{BAR}"/></g>')
    if segment:
        segments.append(segment)
    for points in segments:
        if len(points) > 1:
            out.insert(5, f'<polyline points="{" ".join(points)}" fill="none" stroke="{BAR}" '
                          'stroke-width="2"/>')
    out.append("</svg>")
    return "".join(out)


def heatmap(
    chart_id: str,
    title: str,
    desc: str,
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    values: dict[tuple[int, int], Value],
    hidden_text: str,
) -> str:
    """A grid of cells with their figures written in; darker is more; hatched is hidden."""
    left, top, cell_w, cell_h = 100, 26, 40, 30
    width = left + cell_w * len(column_labels) + 10
    height = top + cell_h * len(row_labels) + 10
    top_value = max((v for v in values.values() if v is not None), default=0) or 1
    out = _open(chart_id, width, height, title, desc)
    for j, label in enumerate(column_labels):
        out.append(f'<text x="{left + j * cell_w + cell_w / 2}" y="{top - 8}" '
                   f'text-anchor="middle" font-size="12" fill="{INK}">{escape(label)}</text>')
    for i, row in enumerate(row_labels):
        y = top + i * cell_h
        out.append(f'<text x="{left - 8}" y="{y + 20}" text-anchor="end" font-size="13" '
                   f'fill="{INK}">{escape(row)}</text>')
        for j, column in enumerate(column_labels):
            x = left + j * cell_w
            if (i, j) not in values:
                continue
            value = values[(i, j)]
            if value is None:
                out.append(f'<g><title>{escape(row)} {escape(column)}: {escape(hidden_text)}'
                           f'</title><rect x="{x}" y="{y}" width="{cell_w - 2}" '
                           f'height="{cell_h - 2}" fill="url(#{chart_id}-hatch)"/></g>')
                continue
            share = float(value) / top_value
            # Light to dark green; the figure is written in, in a colour that contrasts.
            shade = int(235 - 190 * share)
            fill = f"rgb({shade - 20},{min(255, shade + 10)},{shade - 5})"
            text = "#fff" if share > 0.55 else INK
            out.append(f'<g><title>{escape(row)} {escape(column)}: {value}</title>'
                       f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" '
                       f'fill="{fill}"/><text x="{x + cell_w / 2 - 1}" y="{y + 19}" '
                       f'text-anchor="middle" font-size="12" fill="{text}">{value}</text></g>')
    out.append("</svg>")
    return "".join(out)
