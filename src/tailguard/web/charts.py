"""Charts drawn as SVG on the server: bars, a grid cartogram of China's provinces, and the
colours of the roll-rate table. No JavaScript and no external library; every chart carries a
title and a text alternative, and the numbers are also in a table beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from markupsafe import Markup

PROVINCE_GRID: dict[str, tuple[int, int, str, str]] = {
    # code: (column, row, Chinese short name, English name) — a tile grid, not a projection
    "23": (7, 0, "黑龙江", "Heilongjiang"),
    "65": (0, 1, "新疆", "Xinjiang"), "15": (4, 1, "内蒙古", "Inner Mongolia"),
    "22": (7, 1, "吉林", "Jilin"),
    "62": (2, 2, "甘肃", "Gansu"), "64": (3, 2, "宁夏", "Ningxia"), "14": (4, 2, "山西", "Shanxi"),
    "11": (5, 2, "北京", "Beijing"), "21": (6, 2, "辽宁", "Liaoning"),
    "54": (0, 3, "西藏", "Tibet"), "63": (1, 3, "青海", "Qinghai"), "61": (3, 3, "陕西", "Shaanxi"),
    "13": (4, 3, "河北", "Hebei"), "12": (5, 3, "天津", "Tianjin"),
    "51": (2, 4, "四川", "Sichuan"), "50": (3, 4, "重庆", "Chongqing"),
    "41": (4, 4, "河南", "Henan"), "37": (5, 4, "山东", "Shandong"),
    "53": (2, 5, "云南", "Yunnan"), "52": (3, 5, "贵州", "Guizhou"), "42": (4, 5, "湖北", "Hubei"),
    "34": (5, 5, "安徽", "Anhui"), "32": (6, 5, "江苏", "Jiangsu"),
    "31": (7, 5, "上海", "Shanghai"),
    "45": (3, 6, "广西", "Guangxi"), "43": (4, 6, "湖南", "Hunan"), "36": (5, 6, "江西", "Jiangxi"),
    "33": (6, 6, "浙江", "Zhejiang"),
    "46": (3, 7, "海南", "Hainan"), "44": (4, 7, "广东", "Guangdong"),
    "35": (5, 7, "福建", "Fujian"),
}
"""The 31 province-level divisions of the mainland, by the first two digits of GB/T 2260."""

RISK_STEPS: tuple[tuple[float, str], ...] = (
    (0.01, "#e3f1e6"), (0.03, "#b9dcc0"), (0.05, "#f6e3a1"), (0.08, "#f2b27a"),
    (1.01, "#d9653b"),
)
"""Colour by 30+ DPD ratio: up to 1 %, 3 %, 5 %, 8 %, above; all keep dark text legible
(contrast ≥ 4.5:1 with #1a1a1a)."""
NO_DATA = "#f2f2f2"


def province_name(code: str, language: str) -> str:
    entry = PROVINCE_GRID.get(code[:2])
    if entry is None:
        return code
    return entry[2] if language == "zh" else entry[3]


def risk_colour(ratio: float | None) -> str:
    if ratio is None:
        return NO_DATA
    for limit, colour in RISK_STEPS:
        if ratio < limit:
            return colour
    return RISK_STEPS[-1][1]


def percent(ratio: float | None, places: int = 1) -> str:
    return "—" if ratio is None else f"{ratio * 100:.{places}f}%"


def province_map(figures: Mapping[str, tuple[int, float | None]], language: str,
                 title: str) -> Markup:
    """A grid cartogram: code -> (loans, 30+ DPD ratio) drawn as one square per province."""
    size, gap = 62, 4
    width, height = 8 * (size + gap), 8 * (size + gap) + 34
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'role="img" aria-labelledby="map-title" class="chart map">'
             f'<title id="map-title">{escape(title)}</title>']
    for code, (col, row, zh, en) in PROVINCE_GRID.items():
        loans, ratio = figures.get(code, (0, None))
        x, y = col * (size + gap), row * (size + gap)
        name = zh if language == "zh" else en
        label = f"{name}: {loans} · 30+ {percent(ratio)}"
        parts.append(
            f'<g><title>{escape(label)}</title>'
            f'<rect x="{x}" y="{y}" width="{size}" height="{size}" rx="6" '
            f'fill="{risk_colour(ratio if loans else None)}" stroke="#555" stroke-width="1"/>'
            f'<text x="{x + size / 2}" y="{y + 24}" text-anchor="middle" class="map-name">'
            f'{escape(zh if language == "zh" else en[:9])}</text>'
            f'<text x="{x + size / 2}" y="{y + 46}" text-anchor="middle" class="map-count">'
            f'{loans}</text></g>')
    # legend
    y = 8 * (size + gap) + 6
    previous = 0.0
    for k, (limit, colour) in enumerate(RISK_STEPS):
        x = k * 100
        text = f"<{limit * 100:.0f}%" if limit <= 1 else f"≥{previous * 100:.0f}%"
        parts.append(f'<rect x="{x}" y="{y}" width="22" height="18" fill="{colour}" '
                     f'stroke="#555"/><text x="{x + 28}" y="{y + 14}" class="legend">'
                     f'{escape(text)}</text>')
        previous = limit
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(items: Sequence[tuple[str, int, str]], title: str, css_id: str) -> Markup:
    """Horizontal bars: (label, value, text shown at the bar's end)."""
    row, label_width, bar_width = 30, 120, 300
    top = max((value for _, value, _ in items), default=0) or 1
    height = row * len(items) + 4
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 '
             f'{label_width + bar_width + 130} {height}" role="img" '
             f'aria-labelledby="{css_id}-title" class="chart bars">'
             f'<title id="{css_id}-title">{escape(title)}</title>']
    for k, (label, value, text) in enumerate(items):
        y = k * row + 2
        length = round(bar_width * value / top)
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 19}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_width}" y="{y + 4}" width="{max(length, 1)}" height="20" '
            f'class="bar"/><text x="{label_width + length + 6}" y="{y + 19}">'
            f'{escape(text)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def heat(share: float) -> str:
    """The CSS class of a roll-rate cell by share (heat-0 … heat-10; colours in style.css,
    since the content security policy allows no inline styles)."""
    return f"heat-{round(max(0.0, min(1.0, share)) * 10)}"
