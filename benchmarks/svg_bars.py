"""Horizontal bar panels as one standalone SVG file, for the benchmark reports (no plotting library).

    svg = bar_panels([Panel("cold start, ms", [("edgepack-score", 123.0), ...], target=(150.0, "1.3x"))])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

COLORS = ("#4c78a8", "#9e9e9e", "#bdbdbd", "#d0d0d0")


@dataclass
class Panel:
    title: str
    bars: list[tuple[str, float]]  # (label, value); the first bar is edgepack's, drawn in colour
    target: tuple[float, str] | None = None  # (value, label) drawn as a dashed line
    note: str = ""
    fmt: str = "{:,.0f}"
    stacks: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # label -> parts of its bar


def bar_panels(panels: list[Panel], width: int = 640, title: str = "") -> str:
    label_w, value_w, bar_h, gap, head = 190, 80, 16, 6, 22
    plot_w = width - label_w - value_w - 16
    parts: list[str] = []
    y = 24 if title else 4
    if title:
        parts.append(f'<text x="8" y="16" font-size="13" font-weight="bold">{escape(title)}</text>')
    for panel in panels:
        top = max([v for _, v in panel.bars] + ([panel.target[0]] if panel.target else [])) or 1.0
        scale = plot_w / (top * 1.05)
        parts.append(f'<text x="8" y="{y + 14}" font-size="12" font-weight="bold">{escape(panel.title)}</text>')
        if panel.note:
            parts.append(f'<text x="{width - 8}" y="{y + 14}" font-size="10" text-anchor="end" fill="#555">'
                         f'{escape(panel.note)}</text>')
        y += head
        first_y = y
        for i, (label, value) in enumerate(panel.bars):
            parts.append(f'<text x="{label_w - 6}" y="{y + bar_h - 4}" font-size="11" text-anchor="end">{escape(label)}</text>')
            pieces = panel.stacks.get(label) or [("", value)]
            x = float(label_w)
            for k, (piece, amount) in enumerate(pieces):
                colour = COLORS[0] if i == 0 else COLORS[1]
                opacity = 1.0 if k == 0 else 0.55
                tip = f"{piece}: {panel.fmt.format(amount)}" if piece else panel.fmt.format(amount)
                parts.append(f'<rect x="{x:.1f}" y="{y}" width="{max(amount * scale, 1):.1f}" height="{bar_h}" '
                             f'fill="{colour}" fill-opacity="{opacity}"><title>{escape(label)} {escape(tip)}</title></rect>')
                x += amount * scale
            parts.append(f'<text x="{label_w + value * scale + 4:.1f}" y="{y + bar_h - 4}" font-size="11">'
                         f'{escape(panel.fmt.format(value))}</text>')
            y += bar_h + gap
        if panel.target:
            tx = label_w + panel.target[0] * scale
            parts.append(f'<line x1="{tx:.1f}" y1="{first_y - 4}" x2="{tx:.1f}" y2="{y - gap + 4}" stroke="#d62728" '
                         f'stroke-dasharray="4 3"/>')
            anchor = "end" if tx > label_w + plot_w * 0.6 else "start"  # keep the label inside the picture
            parts.append(f'<text x="{tx + (-3 if anchor == "end" else 3):.1f}" y="{y + 8}" font-size="10" fill="#d62728" '
                         f'text-anchor="{anchor}">{escape(panel.target[1])}</text>')
            y += 12
        y += 14
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" viewBox="0 0 {width} {y}" '
            f'font-family="sans-serif">' + "".join(parts) + "</svg>\n")
