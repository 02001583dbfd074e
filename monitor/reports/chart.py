"""The trend chart: an SVG drawn here (no network, no plotting library)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

COLORS = {"neg": "#c62828", "neu": "#9e9e9e", "pos": "#2e7d32"}
LABELS = {"neg": "负向", "neu": "中性", "pos": "正向"}


def trend_svg(
    days: Sequence[str], series: dict[str, Sequence[int]], width: int = 640, height: int = 220
) -> str:
    """Lines per sentiment over the days; y from 0 to the maximum, labelled."""
    left, right, top, bottom = 44, 90, 14, 28
    w, h = width - left - right, height - top - bottom
    peak = max([1, *(v for vals in series.values() for v in vals)])
    n = max(len(days), 1)

    def x(i: int) -> float:
        return left + (w * i / (n - 1) if n > 1 else w / 2)

    def y(v: int) -> float:
        return top + h - h * v / peak

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11" role="img">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>',
        f'<line x1="{left}" y1="{top + h}" x2="{left + w}" y2="{top + h}" stroke="#999"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + h}" stroke="#999"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{peak}</text>',
        f'<text x="{left - 6}" y="{top + h}" text-anchor="end">0</text>',
    ]
    step = max(1, n // 7)
    for i, d in enumerate(days):
        if i % step == 0 or i == n - 1:
            parts.append(
                f'<text x="{x(i):.1f}" y="{height - 10}" text-anchor="middle">{escape(d[5:])}</text>'
            )
    for k, (name, vals) in enumerate(series.items()):
        color = COLORS.get(name, "#1565c0")
        pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(vals))
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{pts}"/>')
        for i, v in enumerate(vals):
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{color}"/>')
        ly = top + 14 + 16 * k
        parts.append(f'<rect x="{left + w + 12}" y="{ly - 9}" width="12" height="10" fill="{color}"/>')
        parts.append(f'<text x="{left + w + 28}" y="{ly}">{escape(LABELS.get(name, name))}</text>')
    parts.append("</svg>")
    return "".join(parts)
