"""The drift report as one self-contained HTML file: summary, alerts, per feature and output the
reference against the current histogram (shares per bin), and the largest PSI per day or device.
Inline CSS and SVG (the style of parity/report_html.py); no URL, opens offline."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from ...parity.report_html import STYLE
from .report_text import HEADERS, _rows

REF, CUR = "#9ecae9", "#e45756"


def _bin_labels(item: dict[str, Any]) -> list[str]:
    if "edges" in item:
        edges = item["edges"]
        if not edges:
            return ["all"]
        return [f"<= {edges[0]:.4g}"] + [f"{a:.4g} .. {b:.4g}" for a, b in zip(edges, edges[1:])] + [f"> {edges[-1]:.4g}"]
    return [str(c) for c in item["categories"]]


def histogram_pair(item: dict[str, Any], width: int = 420, height: int = 160) -> str:
    """Side-by-side bars per bin: the reference share (light) and the current share (red)."""
    ref, cur = item["reference_counts"], item["counts"]
    labels = _bin_labels(item)
    if "categories" in item and item.get("unseen") is not None:  # categories: unseen and missing shown too
        labels = labels + ["(unseen)"]
        ref, cur = ref + [0], cur + [round((item.get("unseen") or 0) * item["rows"])]
    rt, ct = max(sum(ref), 1), max(sum(cur), 1)
    shares = [(r / rt, c / ct) for r, c in zip(ref, cur)]
    peak = max([max(p) for p in shares] + [1e-9])
    left, top, bottom = 30, 18, 22
    plot_w, plot_h = width - left - 6, height - top - bottom
    slot = plot_w / max(len(shares), 1)
    title = f"{item['name']}: PSI {item['psi']:.3g}" if item.get("psi") is not None else item["name"]
    parts = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f'<text x="{left}" y="12" font-size="11" font-family="sans-serif">{escape(title)}</text>']
    for i, ((p, q), label) in enumerate(zip(shares, labels)):
        x = left + i * slot
        for j, (share, colour, who) in enumerate(((p, REF, "reference"), (q, CUR, "current"))):
            h = share / peak * plot_h
            parts.append(f'<rect x="{x + 1 + j * (slot - 2) / 2:.1f}" y="{top + plot_h - h:.1f}" width="{max((slot - 2) / 2 - 1, 1):.1f}" '
                         f'height="{h:.1f}" fill="{colour}"><title>{escape(label)}: {who} {100 * share:.1f} %</title></rect>')
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#333"/>')
    parts.append(f'<text x="{left - 4}" y="{top + 8}" font-size="9" text-anchor="end" font-family="sans-serif">{100 * peak:.0f}%</text>')
    parts.append(f'<text x="{left}" y="{height - 6}" font-size="9" font-family="sans-serif">{escape(labels[0])}</text>'
                 f'<text x="{left + plot_w}" y="{height - 6}" font-size="9" text-anchor="end" font-family="sans-serif">'
                 f'{escape(labels[-1])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def timeline(points: list[dict[str, Any]], limit: float | None, title: str, width: int = 520, height: int = 170) -> str:
    """The largest feature PSI (blue) and output PSI (red) per day or device, with the alert limit dashed."""
    left, right, top, bottom = 34, 8, 18, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for p in points for v in (p.get("max_feature_psi"), p.get("max_output_psi")) if v is not None]
    peak = max(values + [limit or 0, 1e-9]) * 1.1
    step = plot_w / max(len(points) - 1, 1)

    def xy(i: int, v: float) -> str:
        return f"{left + i * step:.1f},{top + plot_h - v / peak * plot_h:.1f}"

    parts = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f'<text x="{left}" y="12" font-size="11" font-family="sans-serif">{escape(title)}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#333"/>',
             f'<text x="{left - 4}" y="{top + 8}" font-size="9" text-anchor="end" font-family="sans-serif">{peak:.2g}</text>']
    for key, colour in (("max_feature_psi", "#4c78a8"), ("max_output_psi", CUR)):
        pts = [(i, p[key]) for i, p in enumerate(points) if p.get(key) is not None]
        if len(pts) > 1:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(xy(i, v) for i, v in pts)}"/>')
        for i, v in pts:
            parts.append(f'<circle cx="{xy(i, v).split(",")[0]}" cy="{xy(i, v).split(",")[1]}" r="3" fill="{colour}">'
                         f'<title>{escape(points[i]["key"])}: {key.replace("_", " ")} {v:.3g}</title></circle>')
    for i, p in enumerate(points):
        parts.append(f'<text x="{left + i * step:.1f}" y="{height - 10}" font-size="9" text-anchor="middle" '
                     f'font-family="sans-serif">{escape(str(p["key"]))}</text>')
    if limit:
        y = top + plot_h - limit / peak * plot_h
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#d62728" stroke-dasharray="4 2"/>')
    parts.append("</svg>")
    return "".join(parts)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"<td class='num'>{v:.4g}</td>"
        if isinstance(v, int):
            return f"<td class='num'>{v}</td>"
        return f"<td>{escape('-' if v is None else str(v))}</td>"

    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f"<table><tr>{head}</tr>" + "".join("<tr>" + "".join(cell(v) for v in r) + "</tr>" for r in rows) + "</table>"


def html_report(report: dict[str, Any]) -> str:
    pkg, total = report["package"], report["total"]
    s = total["summary"]
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>drift: {escape(pkg['name'])}</title>",
           f"<style>{STYLE}</style></head><body>",
           f"<h1>drift: {escape(pkg['name'])} {escape(pkg['version'])}</h1>",
           f"<p>{s['records']} records in {s['windows']} window(s) from {escape(', '.join(s['devices'] or []))}, "
           f"{escape(str(s['start']))} .. {escape(str(s['end']))}; reference: {report['profile']['rows']} rows of "
           f"{escape(str(report['profile']['source']))}. Scored {s['scored']}, rejected {s['rejected']}.</p>"]
    fired = total["alerts"] + [dict(a, where=f"{a['where']} ({report['by']} {g['key']})") for g in report["groups"] for a in g["alerts"]]
    if fired:
        out.append("<h2 class='FAIL'>alerts</h2><ul>" + "".join(
            f"<li class='FAIL'>{escape(a['alert'])} {escape(a['where'])}: {a['value']:.4g}</li>" for a in fired) + "</ul>")
    else:
        out.append(f"<p class='pass'>no alert ({escape(', '.join(report['alert_rules']))})</p>")
    perf = total.get("performance")
    if perf:
        cur, base = perf["current"], perf["build"]
        rows = []
        for key in ("auroc", "average_precision", "accuracy"):
            ci = cur.get(f"{key}_ci")
            rows.append([key, cur.get(key), f"{ci[0]:.3f} .. {ci[1]:.3f}" if ci else None, base.get(key)])
        out.append(f"<h2>performance ({cur['rows']} labelled records)</h2>" + _table(["metric", "now", "95 % interval", "build"], rows))
    limit = next((float(r.split(">")[1]) for r in report["alert_rules"] if r.startswith("psi>")), None)
    if len(report["timeline"]) > 1:
        out.append("<h2>over time</h2>" + timeline(report["timeline"], limit, "largest PSI: features (blue), outputs (red)"))
    out.append("<h2>features</h2>" + _table(HEADERS, _rows(total["features"])))
    out.append("<p>light: reference share per bin; red: current share</p><div class='plots'>"
               + "".join(histogram_pair(f) for f in total["features"]) + "</div>")
    out.append("<h2>outputs</h2>" + _table(["output"] + HEADERS[1:], _rows(total["outputs"])))
    out.append("<div class='plots'>" + "".join(histogram_pair(o) for o in total["outputs"]) + "</div>")
    if report["groups"]:
        rows = [[g["key"], g["summary"]["records"], max((f["psi"] or 0 for f in g["features"]), default=None),
                 max((o["psi"] or 0 for o in g["outputs"]), default=None), len(g["alerts"])] for g in report["groups"]]
        out.append(f"<h2>by {escape(report['by'])}</h2>" + _table([report["by"], "records", "max PSI", "max output PSI", "alerts"], rows))
    out.append("</body></html>")
    return "\n".join(out)


def write_html(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html_report(report), encoding="utf-8")
