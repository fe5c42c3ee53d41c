"""One self-contained HTML file: summary table, plots (error distribution per artifact, agreement per
runtime) and the failures with their explanations and worst rows. Inline CSS and SVG; opens offline."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from .compare import failure_text
from .report_text import MARK, jsonable, main_error
from .results import PairResult, ParityReport
from .svg import agreement_bars, error_histogram

STYLE = """body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}td.num{text-align:right}
.pass{color:#2a7d2a}.FAIL,.ERROR{color:#c00;font-weight:bold}.unavailable{color:#888}
.plots{display:flex;flex-wrap:wrap;gap:1em}img.input{width:96px;image-rendering:pixelated;border:1px solid #ccc}
pre{background:#f6f6f6;padding:.5em;font-size:12px;overflow:auto}"""


def _limit(r: PairResult, scale: float) -> float | None:
    if "max_probability_error" in r.profile and "label_agreement" in r.metrics:
        return float(r.profile["max_probability_error"])
    if "max_value_error" in r.profile:
        return float(r.profile["max_value_error"]) * scale
    return None


def agreement(r: PairResult, scale: float) -> float:
    """Label agreement for classifiers; for regressors, the share of rows within the profile's error limit."""
    if "label_agreement" in r.metrics:
        return float(r.metrics["label_agreement"])
    limit = _limit(r, scale)
    return float(np.mean(r.row_error <= limit)) if limit is not None and r.row_error.size else 0.0


def agreement_passes(r: PairResult, scale: float) -> bool:
    """Whether the metric the agreement bar shows passes on its own (a pair can fail on its error while
    every label agrees: that bar is not painted red)."""
    if "label_agreement" in r.metrics:
        return float(r.metrics["label_agreement"]) >= float(r.profile.get("min_label_agreement", 1.0))
    return agreement(r, scale) >= 1.0


def html_report(report: ParityReport, scale: float = 1.0) -> str:
    ran = [r for r in report.results if r.row_error.size]
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>parity: {escape(report.package)}</title>",
           f"<style>{STYLE}</style></head><body>",
           f"<h1>Parity of {escape(report.package)} {escape(report.version)}</h1>",
           f"<p>{escape(report.when)}. Data: {escape(report.data)}. Reference: "
           f"{escape(Path(report.reference).name) if report.reference else 'the golden vectors stored by the build'}.</p>",
           "<p><b>" + ("PASSED" if report.exit_code == 0 else "FAILED") + "</b></p>"]
    out += [f"<p>note: {escape(n)}</p>" for n in report.notes]
    if report.reference_check is not None:
        out.append(f"<p>Reference model against the golden vectors: {escape(report.reference_check.summary())}.</p>")
    out.append("<table><tr><th>artifact</th><th>runtime</th><th>precision</th><th>rows</th><th>agreement</th>"
               "<th>max error</th><th>result</th><th>why</th></tr>")
    for r in report.results:
        why = "; ".join(failure_text(f) for f in r.failures) or (r.reason or "")
        out.append(f"<tr><td>{escape(r.artifact)}</td><td>{escape(r.runtime)}</td><td>{escape(r.precision)}</td>"
                   f"<td class=num>{r.rows if r.status in ('pass', 'fail') else '-'}</td><td class=num>{_fmt(r.metrics.get('label_agreement'))}</td>"
                   f"<td class=num>{_fmt(main_error(r))}</td><td class='{MARK[r.status]}'>{MARK[r.status]}</td>"
                   f"<td>{escape(why)}</td></tr>")
    out.append("</table>")
    out.append("<h2>Agreement per runtime</h2>")
    items = [(f"{r.artifact} x {r.runtime}", agreement(r, scale), agreement_passes(r, scale)) for r in ran]
    out.append(agreement_bars(items, "label agreement (classification) or rows within tolerance (regression)"))
    out.append("<h2>Error distribution per artifact</h2>")
    for artifact in dict.fromkeys(r.artifact for r in ran):
        out.append(f"<h3>{escape(artifact)}</h3><div class=plots>")
        for r in (x for x in ran if x.artifact == artifact):
            out.append(error_histogram(r.row_error, _limit(r, scale), f"{r.runtime}: |error| per row ({len(r.row_error)} rows)"))
        out.append("</div>")
    bad = [r for r in report.results if r.status in ("fail", "error")]
    if bad:
        out.append("<h2>Failures</h2>")
    for r in bad:
        out.append(f"<h3>{escape(r.artifact)} in {escape(r.runtime)}: {MARK[r.status]}</h3>")
        if r.reason:
            out.append(f"<pre>{escape(r.reason)}</pre>")
        if r.explanations:
            out.append("<ul>" + "".join(f"<li>row {e.get('row')}: {escape(e['why'])}</li>" for e in r.explanations) + "</ul>")
        if r.worst_rows and not _tensor_rows(r):
            out.append("<table><tr><th>row</th><th>from</th><th>reference</th><th>artifact</th><th>error</th><th>inputs</th></tr>")
            for w in r.worst_rows:
                out.append(f"<tr><td>{w['row']}</td><td>{escape(w['origin'])}</td><td>{escape(_j(w['reference']))}</td>"
                           f"<td>{escape(_j(w['artifact']))}</td><td class=num>{_fmt(w['error'])}</td>"
                           f"<td><code>{escape(_j(w['input']))}</code></td></tr>")
            out.append("</table>")
    tensor = [r for r in report.results if _tensor_rows(r)]
    if tensor:
        out.append("<h2>Worst inputs</h2><p>Per artifact and runtime, the inputs with the largest error: the "
                   "reference model's top classes against the artifact's.</p>")
    for r in tensor:
        out.append(f"<h3>{escape(r.artifact)} in {escape(r.runtime)}: {MARK[r.status]}</h3>")
        out.append(_worst_inputs_table(r))
    out.append("</body></html>\n")
    return "\n".join(out)


def _tensor_rows(r: PairResult) -> bool:
    """Worst rows of a tensor package (parity/tensor_harness.py): inputs summarised, top classes, pictures."""
    return bool(r.worst_rows) and bool(r.worst_rows[0].get("tensor"))


def _worst_inputs_table(r: PairResult) -> str:
    rows = ["<table><tr><th>row</th><th>from</th><th>input</th><th>reference</th><th>artifact</th><th>error</th></tr>"]
    for w in r.worst_rows:
        pictures = "".join(f"<img class=input alt='{escape(name)}' title='{escape(name)}: {escape(w['input'][name])}' "
                           f"src='{uri}'>" for name, uri in w.get("images", {}).items())
        text = "<br>".join(f"{escape(k)} {escape(str(v))}" for k, v in w["input"].items() if k not in w.get("images", {}))
        rows.append(f"<tr><td>{w['row']}</td><td>{escape(w['origin'])}</td><td>{pictures}{text}</td>"
                    f"<td>{_classes(w['reference'])}</td><td>{_classes(w['artifact'])}</td>"
                    f"<td class=num>{_fmt(w['error'])}</td></tr>")
    return "\n".join(rows) + "</table>"


def _classes(value: Any) -> str:
    """Top classes as `class score` lines (a classifier), else the first values of the output."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return "<br>".join(f"<b>{escape(str(v['class']))}</b> {v['score']:.4g}" for v in value)
    return escape(_j(value))


def _j(value: Any) -> str:
    return json.dumps(jsonable(value))


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def write_html(report: ParityReport, path: Path, scale: float = 1.0) -> None:
    path.write_text(html_report(report, scale))
