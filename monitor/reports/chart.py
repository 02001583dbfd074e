"""The report charts: SVG drawn here (no network, no plotting library), narrow enough for a phone.

Every label that can come from a page (a SKU, a platform code) is escaped; charts carry no links."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

COLORS = {"neg": "#c62828", "neu": "#9e9e9e", "pos": "#2e7d32", "n": "#1565c0", "rate": "#c62828"}
LABELS = {"neg": "负向", "neu": "中性", "pos": "正向", "n": "评价量", "rate": "差评率"}
MAX_X_LABELS = 6  # x labels on a 360 px wide chart without overlapping


def _open(width: int, height: int, title: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11" role="img" '
        f'aria-label="{escape(title)}" style="max-width:100%;height:auto">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>',
    ]


def trend_svg(
    days: Sequence[str],
    series: dict[str, Sequence[int]],
    width: int = 360,
    height: int = 200,
    title: str = "评价趋势",
) -> str:
    """Lines per series over the days; y from 0 to the maximum; at most ``MAX_X_LABELS`` x labels."""
    left, right, top, bottom = 34, 8, 14, 44
    w, h = width - left - right, height - top - bottom
    peak = max([1, *(v for vals in series.values() for v in vals)])
    n = max(len(days), 1)

    def x(i: int) -> float:
        return left + (w * i / (n - 1) if n > 1 else w / 2)

    def y(v: int) -> float:
        return top + h - h * v / peak

    parts = _open(width, height, title)
    parts += [
        f'<line x1="{left}" y1="{top + h}" x2="{left + w}" y2="{top + h}" stroke="#999"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + h}" stroke="#999"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{peak}</text>',
        f'<text x="{left - 4}" y="{top + h}" text-anchor="end">0</text>',
    ]
    step = max(1, -(-n // MAX_X_LABELS))
    for i, d in enumerate(days):
        if (n - 1 - i) % step == 0:  # always the last day; then every step-th day back
            # the edge labels are anchored inside the chart, so none is cut off
            anchor = "end" if i == n - 1 and n > 1 else ("start" if i == 0 and n > 1 else "middle")
            parts.append(
                f'<text x="{x(i):.1f}" y="{top + h + 14}" text-anchor="{anchor}">{escape(d[5:])}</text>'
            )
    for k, (name, vals) in enumerate(series.items()):
        color = COLORS.get(name, "#1565c0")
        pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(vals))
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{pts}"/>')
        for i, v in enumerate(vals):
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{color}"/>')
        lx = left + 70 * k
        parts.append(f'<rect x="{lx}" y="{height - 16}" width="12" height="10" fill="{color}"/>')
        parts.append(f'<text x="{lx + 16}" y="{height - 7}">{escape(LABELS.get(name, name))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bars_svg(
    rows: Sequence[tuple[str, dict[str, float]]],
    title: str,
    width: int = 360,
    label_width: int = 96,
    fmt: str = "{:g}",
) -> str:
    """Horizontal bars, one per row, stacked by series (``neg``/``neu``/``pos`` or one ``n``/``rate``)."""
    bar, gap, top = 16, 6, 6
    keys = list(dict.fromkeys(k for _, vals in rows for k in vals)) or ["n"]
    legend = 22 if len(keys) > 1 else 0
    height = top + max(len(rows), 1) * (bar + gap) + legend + 4
    peak = max([1e-9, *(sum(vals.values()) for _, vals in rows)])
    w = width - label_width - 44
    parts = _open(width, height, title)
    if not rows:
        parts.append(f'<text x="{width / 2}" y="{top + 12}" text-anchor="middle" fill="#777">无数据</text>')
    for i, (label, vals) in enumerate(rows):
        y = top + i * (bar + gap)
        text = label if len(label) <= 8 else label[:7] + "…"
        parts.append(f'<text x="{label_width - 4}" y="{y + 12}" text-anchor="end">{escape(text)}</text>')
        x = float(label_width)
        for k in keys:
            v = vals.get(k, 0)
            bw = w * v / peak
            if bw > 0:
                color = COLORS.get(k, "#1565c0")
                parts.append(f'<rect x="{x:.1f}" y="{y}" width="{bw:.1f}" height="{bar}" fill="{color}"/>')
            x += bw
        total = sum(vals.values())
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 12}">{escape(fmt.format(total))}</text>')
    if legend:
        ly = height - 14
        for j, name in enumerate(keys):
            lx = label_width + 64 * j
            parts.append(
                f'<rect x="{lx}" y="{ly}" width="12" height="10" fill="{COLORS.get(name, "#1565c0")}"/>'
            )
            parts.append(f'<text x="{lx + 16}" y="{ly + 9}">{escape(LABELS.get(name, name))}</text>')
    parts.append("</svg>")
    return "".join(parts)
