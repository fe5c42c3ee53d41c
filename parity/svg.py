"""Two small inline-SVG plots for the HTML report, no plotting library and nothing fetched.

The SVG elements carry no xmlns attribute: inside HTML5 they need none, and the report then holds no
URL at all (it opens offline and a test checks it).
"""

from __future__ import annotations

from html import escape

import numpy as np

LOW_EXP = -12  # errors below 1e-12 (and exact zeros) share the leftmost bin


def error_histogram(errors: np.ndarray, limit: float | None, title: str, width: int = 420, height: int = 150) -> str:
    """Histogram of per-row absolute errors on a log10 axis (1e-12 .. 1), with the profile's limit marked."""
    errors = np.asarray(errors, dtype=np.float64)
    errors = np.where(np.isfinite(errors), errors, 10.0)
    logs = np.clip(np.log10(np.maximum(errors, 10.0 ** LOW_EXP)), LOW_EXP, 0.999)
    edges = np.arange(LOW_EXP, 1.0 + 1e-9, 0.5)
    counts, _ = np.histogram(logs, bins=edges)
    left, right, top, bottom = 34, 8, 18, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(int(counts.max()) if counts.size else 0, 1)
    bar_w = plot_w / len(counts)

    def x_of(exp: float) -> float:
        return left + (exp - LOW_EXP) / (edges[-1] - LOW_EXP) * plot_w

    parts = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f'<text x="{left}" y="12" font-size="11" font-family="sans-serif">{escape(title)}</text>']
    for i, count in enumerate(counts):
        if count:
            h = count / peak * plot_h
            parts.append(f'<rect x="{left + i * bar_w:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 1:.1f}" '
                         f'height="{h:.1f}" fill="#4c78a8"><title>{count} rows, error 1e{edges[i]:g}..1e{edges[i + 1]:g}</title></rect>')
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#333"/>')
    for exp in range(LOW_EXP, 1, 3):
        parts.append(f'<text x="{x_of(exp):.1f}" y="{height - 8}" font-size="9" text-anchor="middle" '
                     f'font-family="sans-serif">1e{exp}</text>')
    parts.append(f'<text x="{left - 4}" y="{top + 8}" font-size="9" text-anchor="end" font-family="sans-serif">{peak}</text>')
    if limit is not None and limit > 0:
        x = x_of(float(np.clip(np.log10(limit), LOW_EXP, 1.0)))
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" stroke="#d62728" stroke-dasharray="4 2"/>'
                     f'<text x="{x + 3:.1f}" y="{top + 9}" font-size="9" fill="#d62728" font-family="sans-serif">limit</text>')
    parts.append("</svg>")
    return "".join(parts)


def agreement_bars(items: list[tuple[str, float, bool]], title: str, width: int = 520) -> str:
    """Horizontal bars, one per (label, share in 0..1, passed); the axis starts at 0 and the share is printed."""
    row_h, left, top = 20, 220, 20
    height = top + row_h * max(len(items), 1) + 8
    plot_w = width - left - 60
    parts = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f'<text x="4" y="12" font-size="11" font-family="sans-serif">{escape(title)}</text>']
    for i, (label, share, ok) in enumerate(items):
        y = top + i * row_h
        colour = "#54a24b" if ok else "#d62728"
        parts.append(f'<text x="{left - 6}" y="{y + 13}" font-size="10" text-anchor="end" font-family="sans-serif">{escape(label)}</text>'
                     f'<rect x="{left}" y="{y + 3}" width="{max(share, 0.0) * plot_w:.1f}" height="{row_h - 6}" fill="{colour}"/>'
                     f'<text x="{left + max(share, 0.0) * plot_w + 4:.1f}" y="{y + 13}" font-size="10" '
                     f'font-family="sans-serif">{100 * share:.2f} %</text>')
    parts.append("</svg>")
    return "".join(parts)
