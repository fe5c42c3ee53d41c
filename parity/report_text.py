"""The parity report for people (a terminal table with the reasons under it) and for machines (JSON)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..runtime.table import render_table
from .results import PairResult, ParityReport

MARK = {"pass": "pass", "fail": "FAIL", "error": "ERROR", "unavailable": "unavailable"}


def main_error(result: PairResult) -> float | None:
    m = result.metrics
    return m.get("max_probability_error", m.get("max_scaled_error", m.get("max_abs_error")))  # tensors: the last


def render(report: ParityReport, worst: int = 3) -> str:
    """The terminal report: one table row per artifact x runtime, then what failed and why."""
    rows = []
    for r in report.results:
        rows.append([r.artifact, r.runtime, r.precision, r.rows if r.status in ("pass", "fail") else None,
                     r.metrics.get("label_agreement"), main_error(r), MARK[r.status]])
    lines = [f"parity of {report.package} {report.version} on {report.data}"
             + (f", reference {Path(report.reference).name}" if report.reference else ", reference: golden vectors"), ""]
    lines.append(render_table(["artifact", "runtime", "precision", "rows", "agreement", "max error", "result"], rows))
    for note in report.notes:
        lines.append(f"note: {note}")
    ref = report.reference_check
    if ref is not None:
        lines.append(f"reference model vs the golden vectors: {MARK[ref.status]} "
                     f"(max error {_num(main_error(ref))}{'; ' + ref.summary() if ref.status != 'pass' else ''})")
    for r in report.results:
        if r.status == "pass":
            continue
        lines.append("")
        if r.status in ("error", "unavailable"):
            lines.append(r.summary())
            continue
        lines.append(r.summary())
        for e in (r.explanations or [])[:10]:
            lines.append(f"  row {e['row']}: {e['why']}" if e.get("row") is not None else f"  {e['why']}")
        if r.worst_rows:
            lines.append(_worst_table(r, worst))
    failed = report.failed
    counts = ", ".join(f"{sum(r.status == s for r in report.results)} {word}"
                       for s, word in (("pass", "passed"), ("fail", "failed"), ("error", "errors"), ("unavailable", "unavailable")))
    lines.append("")
    if not any(r.status in ("pass", "fail", "error") for r in report.results):
        lines.append("nothing was checked: no runtime could run any artifact of this package (see above)")
    lines.append(f"{'PASSED' if report.exit_code == 0 else 'FAILED'}: {counts}"
                 + (f" ({', '.join(f'{r.artifact} x {r.runtime}' for r in failed)})" if failed else ""))
    return "\n".join(lines)


def _worst_table(r: PairResult, k: int) -> str:
    body = []
    for w in r.worst_rows[:k]:
        inputs = ", ".join(f"{key}={_short(v)}" for key, v in list(w["input"].items())[:6])
        if len(w["input"]) > 6:
            inputs += ", ..."
        body.append([w["row"], w["origin"], _vector(w["reference"]), _vector(w["artifact"]), w["error"], inputs])
    return "  " + render_table(["row", "from", "reference", "artifact", "error", "inputs"], body,
                               title="worst rows").replace("\n", "\n  ")


def _vector(value: Any) -> str:
    if isinstance(value, list) and value and isinstance(value[0], dict):  # a tensor classifier's top classes
        return ", ".join(f"{v['class']} {v['score']:.4g}" for v in value)
    if isinstance(value, list):
        return "[" + ", ".join(f"{v:.5g}" for v in value) + "]"
    return f"{value:.6g}"


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def jsonable(value: Any) -> Any:
    """NaN and infinities as strings (JSON has none), numpy scalars and arrays as plain values."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def write_json(report: ParityReport, path: Path) -> None:
    path.write_text(json.dumps(jsonable(report.as_dict()), indent=2, allow_nan=False) + "\n")
