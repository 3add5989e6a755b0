"""SVG drawn on the server for the console's work screens: a field team's route on a plain
coordinate map, and line charts (vintage curves). No tiles and no script: the route map is the
stops projected into the picture's box (equirectangular, the longitude scaled by the cosine of
the middle latitude so a kilometre is about as long east-west as north-south at city scale),
numbered in visit order, with the base as a square. Every chart has a `<title>` and the page
lists the same numbers in a table."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

LINE_COLOURS = ("#0b4f8a", "#a61b1b", "#1d6b35", "#7a4b00", "#5b2d8e", "#00606b",
                "#8a2c5b", "#3d3d3d")
"""Dark enough for 3:1 against white (graphics contrast, WCAG 1.4.11); series also differ
by dash pattern so colour is not the only cue."""
DASHES = ("", "6 3", "2 3", "8 3 2 3")


def project(points: Sequence[tuple[float, float]], width: float, height: float,
            margin: float) -> list[tuple[float, float]]:
    """(latitude, longitude) → (x, y) inside the box, north up, one scale for both axes."""
    if not points:
        return []
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    shrink = math.cos(math.radians((min(lats) + max(lats)) / 2))
    xs = [lon * shrink for lon in lons]
    span_x = max(xs) - min(xs)
    span_y = max(lats) - min(lats)
    scale = min((width - 2 * margin) / span_x if span_x else math.inf,
                (height - 2 * margin) / span_y if span_y else math.inf)
    if math.isinf(scale):
        scale = 1.0
    left = margin + (width - 2 * margin - span_x * scale) / 2
    top = margin + (height - 2 * margin - span_y * scale) / 2
    return [(round(left + (x - min(xs)) * scale, 1),
             round(top + (max(lats) - lat) * scale, 1)) for x, lat in zip(xs, lats, strict=True)]


def route_map(base: tuple[float, float] | None,
              stops: Sequence[tuple[int, float, float, int]], title: str, css_id: str
              ) -> Markup:
    """The day's route: the base, then stops (sequence, lat, lon, case id) in order."""
    width, height, margin = 560.0, 380.0, 36.0
    points = ([base] if base else []) + [(lat, lon) for _, lat, lon, _ in stops]
    xy = project(points, width, height, margin)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:g} {height:g}" '
             f'role="img" aria-labelledby="{css_id}-title" class="chart route" '
             f'id="{css_id}"><title id="{css_id}-title">{escape(title)}</title>'
             f'<rect x="0" y="0" width="{width:g}" height="{height:g}" class="route-bg"/>']
    if len(xy) > 1:
        path = " ".join(f"{x},{y}" for x, y in xy)
        parts.append(f'<polyline points="{path}" class="route-line"/>')
    offset = 0
    if base and xy:
        x, y = xy[0]
        parts.append(f'<rect x="{x - 9}" y="{y - 9}" width="18" height="18" class="route-base">'
                     f'<title>base</title></rect>')
        offset = 1
    for (sequence, lat, lon, case_id), (x, y) in zip(stops, xy[offset:], strict=True):
        label = f"{sequence}: case {case_id} ({lat:.4f}, {lon:.4f})"
        parts.append(f'<g class="stop" data-sequence="{sequence}"><title>{escape(label)}</title>'
                     f'<circle cx="{x}" cy="{y}" r="13"/>'
                     f'<text x="{x}" y="{y + 5}" text-anchor="middle">{sequence}</text></g>')
    if not stops:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">—</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(series: Sequence[tuple[str, Sequence[float]]], title: str, css_id: str,
               x_label: str, y_max: float | None = None) -> Markup:
    """Lines over x = 1, 2, …: each series (name, values); y as a share (0–1) in percent."""
    width, height = 640.0, 340.0
    left, right, top, bottom = 56.0, 150.0, 16.0, 40.0
    longest = max((len(v) for _, v in series), default=0)
    peak = max((max(v) for _, v in series if v), default=0.0)
    top_value = y_max if y_max is not None else _nice(peak)
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(i: int) -> float:
        return left + (plot_w * (i - 1) / (longest - 1) if longest > 1 else plot_w / 2)

    def py(value: float) -> float:
        return top + plot_h * (1 - (value / top_value if top_value else 0))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:g} {height:g}" '
             f'role="img" aria-labelledby="{css_id}-title" class="chart lines" id="{css_id}">'
             f'<title id="{css_id}-title">{escape(title)}</title>']
    for k in range(6):  # fifths of a round top: whole or one-decimal percentages
        value = top_value * k / 5
        y = py(value)
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'class="grid"/><text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{value * 100:.1f}%</text>')
    step = max(1, math.ceil(longest / 12))
    for i in range(1, longest + 1, step):
        parts.append(f'<text x="{px(i):.1f}" y="{top + plot_h + 18}" text-anchor="middle">'
                     f'{i}</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle">'
                 f'{escape(x_label)}</text>')
    for n, (name, values) in enumerate(series):
        colour = LINE_COLOURS[n % len(LINE_COLOURS)]
        dash = DASHES[(n // len(LINE_COLOURS) + n) % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        if len(values) == 1:
            parts.append(f'<circle cx="{px(1):.1f}" cy="{py(values[0]):.1f}" r="3" '
                         f'fill="{colour}"/>')
        elif values:
            path = " ".join(f"{px(i + 1):.1f},{py(v):.1f}" for i, v in enumerate(values))
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                         f'stroke-width="2"{dash_attr}><title>{escape(name)}</title></polyline>')
        ly = top + 14 + 18 * n
        if ly < height - bottom:
            parts.append(f'<line x1="{width - right + 10}" x2="{width - right + 34}" '
                         f'y1="{ly - 4}" y2="{ly - 4}" stroke="{colour}" stroke-width="2"'
                         f'{dash_attr}/><text x="{width - right + 40}" y="{ly}">'
                         f'{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _nice(peak: float) -> float:
    """A round top for the y axis above `peak` (a share)."""
    if peak <= 0:
        return 0.05
    for top in (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0):
        if peak <= top:
            return top
    return 1.0
