"""The size/accuracy report of a package's variants: a table for the terminal and a self-contained
HTML page with an inline SVG plot of size against error (no scripts, no CDN).

Rows come from the manifest alone: kept artifacts (with their parity checks and measured latency) and
the variants the build tried and dropped (`manifest["quantization"]["variants"]`), so a package shows
why it holds what it holds long after it was built.
"""

from __future__ import annotations

import html
import math
from typing import Any

from ...parity.profiles import profile_for
from ...runtime.manifest import artifact_size
from ...runtime.table import render_table

COLORS = {"float32": "#1f5fbf", "kept": "#1a8a3a", "dropped": "#c0392b"}


def variant_rows(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """One dict per artifact or tried variant: format, id, precision, size, ratio, agreement, error,
    latency, status, reason. Agreement and error are the worse of the sample and holdout checks."""
    parity: dict[str, dict[str, dict[str, Any]]] = {}
    for check in manifest.get("parity", []):
        parity.setdefault(check["artifact"], {})[check["data"]] = check.get("metrics", {})
    arts = manifest["artifacts"]
    base_size = {a["id"]: artifact_size(a) for a in arts if not a.get("variant_of")}
    rows = []
    for a in arts:
        base = a.get("variant_of")
        status = "float32" if not base else "kept"
        size0 = base_size.get(base or a["id"])
        rows.append({"format": a["format"], "id": a["id"], "precision": a.get("precision", "float32"),
                     "size": artifact_size(a), "ratio": artifact_size(a) / size0 if size0 else None,
                     **_worst(parity.get(a["id"], {})), "latency": a.get("latency"),
                     "status": status + (" (default)" if a.get("default") else ""), "reason": ""})
    tried = (manifest.get("quantization") or {}).get("variants", [])
    why = {v["id"]: v["reason"] for v in tried}
    for row in rows:
        row["reason"] = why.get(row["id"], "")
    kept = {a["id"] for a in arts}
    for v in tried:
        if v["id"] in kept:
            continue
        rows.append({"format": v["format"], "id": v["id"], "precision": v.get("precision"), "size": v.get("size"),
                     "ratio": v.get("size_ratio"), **_worst(v.get("metrics", {})), "latency": None,
                     "status": v["status"], "reason": v["reason"]})
    order = {f: i for i, f in enumerate(dict.fromkeys(r["format"] for r in rows))}
    rows.sort(key=lambda r: (order[r["format"]], not r["status"].startswith("float32"), r["size"] is None,
                             -(r["size"] or 0)))
    return rows


def _worst(by_data: dict[str, dict[str, Any]]) -> dict[str, Any]:
    agreement, error = None, None
    for metrics in by_data.values():
        if "label_agreement" in metrics:
            agreement = metrics["label_agreement"] if agreement is None else min(agreement, metrics["label_agreement"])
        e = metrics.get("max_probability_error", metrics.get("max_scaled_error"))
        if e is not None:
            error = e if error is None else max(error, e)
    return {"agreement": agreement, "error": error, "checked_on": ", ".join(by_data) or None}


def render_variants(manifest: dict[str, Any]) -> str:
    """The terminal table: per format and variant, size, size relative to float32, agreement, error, latency."""
    out = []
    for fmt in dict.fromkeys(r["format"] for r in variant_rows(manifest)):
        rows = []
        for r in (r for r in variant_rows(manifest) if r["format"] == fmt):
            lat = latency_columns(r["latency"])
            rows.append([r["id"], r["precision"], r["size"], None if r["ratio"] is None else round(100 * r["ratio"], 1),
                         r["agreement"], r["error"], *lat, r["status"], r["reason"]])
        out.append(render_table(["variant", "precision", "bytes", "% of float32", "agreement", "max error",
                                 "runtime", "ms/row", "ms/batch", "ms/call start-up", "status", "why"], rows,
                                title=f"{fmt} variants"))
    q = manifest.get("quantization")
    if q:
        between = q.get("interpolated_rows", 0)
        out.append(f"agreement and error: worst of the sample, {q['holdout_rows']} held-out rows and "
                   + (f"{between} rows interpolated between them" if between else
                      "no interpolated rows (too few held-out rows, or the model refused them)")
                   + f" (calibration used {q['calibration_rows']}); ms/batch: {_batch_rows(manifest)} rows; "
                   "bytes count every file of an artifact; latencies are medians in the named runtime, "
                   "with the fixed cost of a call (a process start for node, a browser) apart in ms/call start-up")
    else:
        out.append("this package was built without --quantize: only its float32 artifacts are listed")
    return "\n\n".join(out)


def latency_columns(latency: dict[str, Any] | None) -> list[Any]:
    """[runtime, ms/row, ms/batch, ms/call start-up] from a measured latency (variants/latency.py).

    A call's time is a fixed cost (starting a process for node or a browser, a session's overhead in
    process) plus a cost per row. From the median 1-row call and the median batch call of N rows:
    per row = (batch - single) / (N - 1), start-up = single - per row. ms/row is the 1-row latency
    without the start-up, so a runtime run in a subprocess is not shown as slow per row."""
    if not latency:
        return [None, None, None, None]
    single, batch, n = latency.get("single_row_ms"), latency.get("batch_ms"), latency.get("batch_rows") or 1
    if single is None or batch is None or n < 2:
        return [latency.get("runtime"), single, batch, None]
    per_row = max(0.0, (batch - single) / (n - 1))
    startup = max(0.0, single - per_row)
    return [latency.get("runtime"), round(single - startup, 4), batch, round(startup, 4)]


def _batch_rows(manifest: dict[str, Any]) -> Any:
    return next((a["latency"]["batch_rows"] for a in manifest["artifacts"] if a.get("latency")), "-")


def variants_html(manifest: dict[str, Any]) -> str:
    """A self-contained HTML page: the table and one SVG plot of size against error per format."""
    name = html.escape(f"{manifest['model']['name']} {manifest['model']['version']}")
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{name}: variants</title>",
             "<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}td.n{text-align:right}</style></head><body>",
             f"<h1>{name}: size against error of each variant</h1>"]
    profiles = manifest.get("tolerance_profiles", {})
    rows = variant_rows(manifest)
    for fmt in dict.fromkeys(r["format"] for r in rows):
        mine = [r for r in rows if r["format"] == fmt]
        parts.append(f"<h2>{html.escape(fmt)}</h2>")
        parts.append(size_error_svg(mine, profiles))
        parts.append(_html_table(mine))
    parts.append("<p>Error: the largest absolute probability difference (classifiers) or scaled value error "
                 "(regressors) against the source model, worst of the sample, held-out and interpolated rows. Dashed lines: "
                 "the tolerance profile limit of each precision.</p></body></html>")
    return "\n".join(parts)


def _limits(points: list[dict[str, Any]], profiles: dict[str, dict[str, Any]]) -> list[tuple[str, float]]:
    """(precisions, error limit) for the quantized precisions plotted: the manifest's profile, else the default."""

    by_limit: dict[float, list[str]] = {}
    for precision in dict.fromkeys(r["precision"] for r in points if r["precision"] not in (None, "float32")):
        p = profile_for(precision, {"tolerance_profiles": profiles})
        classifier = any(r["agreement"] is not None for r in points)
        limit = p.get("max_probability_error" if classifier else "max_value_error")
        if limit is not None:
            by_limit.setdefault(float(limit), []).append(precision)
    return [("/".join(names), limit) for limit, names in sorted(by_limit.items())]


def _html_table(rows: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("variant", "precision", "bytes", "% of float32", "agreement",
                                              "max error", "runtime", "ms/row", "ms/batch", "ms/call start-up",
                                              "status", "why"))
    body = []
    for r in rows:
        cells = [r["id"], r["precision"] or "-", r["size"], None if r["ratio"] is None else f"{100 * r['ratio']:.1f}",
                 r["agreement"], None if r["error"] is None else f"{r['error']:.3g}", *latency_columns(r["latency"]),
                 r["status"], r["reason"]]
        body.append("<tr>" + "".join(
            f"<td class='n'>{html.escape(str(c))}</td>" if isinstance(c, (int, float)) else
            f"<td>{html.escape('-' if c is None else str(c))}</td>" for c in cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def size_error_svg(rows: list[dict[str, Any]], profiles: dict[str, dict[str, Any]], width: int = 640,
                   height: int = 360) -> str:
    """Scatter of size (x, bytes) against max error (y, log scale); one labelled point per checked variant."""
    points = [r for r in rows if r["size"] is not None and r["error"] is not None]
    left, right, top, bottom = 70, 20, 20, 50
    pw, ph = width - left - right, height - top - bottom
    if not points:
        return "<p>No checked variants to plot.</p>"
    xmax = max(r["size"] for r in points) * 1.1
    limits = _limits(points, profiles)
    errs = [max(r["error"], 1e-9) for r in points] + [v for _, v in limits]
    lo, hi = math.floor(math.log10(min(errs))), math.ceil(math.log10(max(errs)))
    hi = max(hi, lo + 1)

    def x(v: float) -> float:
        return left + pw * v / xmax

    def y(v: float) -> float:
        return top + ph * (hi - math.log10(max(v, 1e-9))) / (hi - lo)

    svg = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' font-size='11' "
           f"font-family='sans-serif'><rect x='{left}' y='{top}' width='{pw}' height='{ph}' fill='none' stroke='#999'/>"]
    for e in range(lo, hi + 1):
        svg.append(f"<line x1='{left}' x2='{left + pw}' y1='{y(10**e):.1f}' y2='{y(10**e):.1f}' stroke='#eee'/>"
                   f"<text x='{left - 6}' y='{y(10**e) + 4:.1f}' text-anchor='end'>1e{e}</text>")
    for i in range(5):
        v = xmax * i / 4
        svg.append(f"<text x='{x(v):.1f}' y='{top + ph + 16}' text-anchor='middle'>{v / 1024:.0f} KiB</text>")
    for names, limit in limits:
        svg.append(f"<line x1='{left}' x2='{left + pw}' y1='{y(limit):.1f}' y2='{y(limit):.1f}' stroke='#888' "
                   f"stroke-dasharray='4 3'/><text x='{left + pw - 4}' y='{y(limit) - 3:.1f}' text-anchor='end' "
                   f"fill='#666'>{html.escape(names)} limit {limit:g}</text>")
    placed: list[tuple[float, float]] = []
    for r in sorted(points, key=lambda r: (r["size"], r["error"])):
        color = COLORS.get(r["status"].split(" ")[0], "#c0392b")
        cx, cy = x(r["size"]), y(r["error"])
        lx, ly = cx + 7, cy - 6
        while any(abs(lx - px) < 110 and abs(ly - py) < 12 for px, py in placed):
            ly += 13  # stack labels of nearby points instead of printing them over each other
        placed.append((lx, ly))
        svg.append(f"<circle cx='{cx:.1f}' cy='{cy:.1f}' r='5' fill='{color}'><title>{html.escape(r['id'])}: "
                   f"{r['size']} bytes, error {r['error']:.3g}, {html.escape(r['status'])}</title></circle>"
                   f"<text x='{lx:.1f}' y='{ly:.1f}'>{html.escape(r['id'])}</text>")
    svg.append(f"<text x='{left + pw / 2}' y='{height - 8}' text-anchor='middle'>size</text>"
               f"<text transform='translate(14 {top + ph / 2}) rotate(-90)' text-anchor='middle'>max error (log)</text>")
    legend = " ".join(f"<tspan fill='{c}'>&#9679; {k}</tspan>" for k, c in COLORS.items())
    svg.append(f"<text x='{left + 6}' y='{top + 14}'>{legend}</text></svg>")
    return "".join(svg)
