"""The drift report: merged windows against the package's reference profile, per feature and output,
and, when labels arrived, performance against the build-time values.

Bins compared: a number's bins (plus a missing slot when either side has missing values); a category's
known categories, then unseen, then missing. KS applies to ordered bins only (numbers, scores).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .alerts import Alert, evaluate
from .stats import chi_square, js_distance, ks_binned, psi
from .windows import groups, merge


def _compare(ref: list[int], cur: list[int], ordered: list[int] | None) -> dict[str, Any]:
    """Shift figures of two count vectors; `ordered`: the counts of the ordered bins only (for KS)."""
    out: dict[str, Any] = {"psi": psi(ref, cur), "js": js_distance(ref, cur)}
    chi = chi_square(ref, cur)
    out["chi2"], out["chi2_dof"], out["chi2_p"] = chi if chi else (None, None, None)
    if ordered is not None:
        ks = ks_binned(*ordered)
        out["ks"], out["ks_p"] = ks if ks else (None, None)
    return out


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _number(name: str, ref: dict[str, Any], cur: dict[str, Any]) -> dict[str, Any]:
    ref_n, cur_n = sum(ref["counts"]) + ref["missing"], sum(cur["counts"]) + cur["missing"]
    with_missing = bool(ref["missing"] or cur["missing"])
    r = ref["counts"] + ([ref["missing"]] if with_missing else [])
    c = cur["counts"] + ([cur["missing"]] if with_missing else [])
    row = {"name": name, "kind": "number", "rows": cur_n, "reference_rows": ref_n,
           **_compare(r, c, [ref["counts"], cur["counts"]]),
           "missing_rate": _share(cur["missing"], cur_n), "reference_missing_rate": _share(ref["missing"], ref_n),
           "out_of_range": _share(cur.get("below", 0) + cur.get("above", 0), cur_n),
           "reference_min": ref.get("min"), "reference_max": ref.get("max"),
           "edges": ref["edges"], "reference_counts": ref["counts"], "counts": cur["counts"]}
    row["missing_change"] = (row["missing_rate"] - row["reference_missing_rate"]
                             if row["missing_rate"] is not None and row["reference_missing_rate"] is not None else None)
    return row


def _category(name: str, ref: dict[str, Any], cur: dict[str, Any]) -> dict[str, Any]:
    r = ref["counts"] + [ref.get("unseen", 0), ref["missing"]]
    c = cur["counts"] + [cur.get("unseen", 0), cur["missing"]]
    ref_n, cur_n = sum(r), sum(c)
    row = {"name": name, "kind": "category", "rows": cur_n, "reference_rows": ref_n, **_compare(r, c, None),
           "missing_rate": _share(cur["missing"], cur_n), "reference_missing_rate": _share(ref["missing"], ref_n),
           "unseen": _share(cur.get("unseen", 0), cur_n), "unseen_names": cur.get("unseen_names", {}),
           "categories": ref["categories"], "reference_counts": ref["counts"], "counts": cur["counts"]}
    row["missing_change"] = (row["missing_rate"] - row["reference_missing_rate"]
                             if row["missing_rate"] is not None and row["reference_missing_rate"] is not None else None)
    return row


def report_for(profile: dict[str, Any], window: dict[str, Any]) -> dict[str, Any]:
    """Per feature and output figures of one merged window against the profile (no alerts, no labels)."""
    features = []
    for name, ref in profile["features"].items():
        cur = window["features"][name]
        features.append(_category(name, ref, cur) if ref["kind"] == "category" else _number(name, ref, cur))
    outputs = []
    outs = profile["outputs"]
    if "scores" in outs:
        for cls, ref in outs["scores"].items():
            outputs.append({**_number(f"score {cls}", ref, window["outputs"]["scores"][cls]), "kind": "score"})
        ref_labels, cur_labels = outs["labels"]["counts"], window["outputs"]["labels"]
        outputs.append({"name": "predicted label", "kind": "labels", "rows": sum(cur_labels),
                        "reference_rows": sum(ref_labels), **_compare(ref_labels, cur_labels, None),
                        "categories": outs["labels"]["classes"], "reference_counts": ref_labels, "counts": cur_labels})
    if "value" in outs:
        outputs.append({**_number("value", outs["value"], window["outputs"]["value"]), "kind": "value"})
    summary = {"records": window["records"], "scored": window["scored"], "rejected": window["rejected"],
               "rejected_rate": _share(window["rejected"], window["records"]),
               "rejected_by_field": window.get("rejected_by_field", {}),
               "windows": window.get("windows"), "devices": window.get("devices"),
               "start": window.get("start"), "end": window.get("end")}
    return {"summary": summary, "features": features, "outputs": outputs}


def with_performance(report: dict[str, Any], profile: dict[str, Any], current: dict[str, Any] | None) -> None:
    """Add labelled performance (current vs build time) and the drops the alerts read."""
    if current is None:
        return
    base = profile.get("performance") or {}
    report["performance"] = {"current": current, "build": base}
    for key, drop in (("auroc", "auroc_drop"), ("average_precision", "ap_drop"), ("accuracy", "accuracy_drop")):
        if current.get(key) is not None and base.get(key) is not None:
            report["summary"][drop] = float(base[key]) - float(current[key])


def drift_report(profile: dict[str, Any], windows: list[dict[str, Any]], alerts: list[Alert], by: str | None,
                 performance: dict[str, Any] | None, package: dict[str, Any]) -> dict[str, Any]:
    """The whole report: the merge of every window, per group (`by` device or day) and the alerts that fire."""
    total = report_for(profile, merge(profile, windows))
    with_performance(total, profile, performance)
    total["alerts"] = evaluate(alerts, total)
    out: dict[str, Any] = {"package": package, "profile": {"source": profile.get("source"), "rows": profile.get("rows")},
                           "alert_rules": [a.text for a in alerts], "total": total, "by": by, "groups": []}
    timeline = groups(windows, "day") if by != "device" else groups(windows, "device")
    for key, members in (groups(windows, by).items() if by else []):
        part = report_for(profile, merge(profile, members))
        part["alerts"] = evaluate(alerts, part)
        out["groups"].append({"key": key, **part})
    # metric over time (the HTML plot): the largest feature PSI and the output PSI per day or device
    out["timeline"] = [{"key": key, **_headline(report_for(profile, merge(profile, members)))}
                       for key, members in timeline.items()]
    out["alerted"] = bool(total["alerts"] or any(g["alerts"] for g in out["groups"]))
    return out


def _headline(report: dict[str, Any]) -> dict[str, Any]:
    psis = [f["psi"] for f in report["features"] if f["psi"] is not None]
    outs = [o["psi"] for o in report["outputs"] if o["psi"] is not None]
    return {"records": report["summary"]["records"], "max_feature_psi": max(psis) if psis else None,
            "max_output_psi": max(outs) if outs else None}


def jsonable(value: Any) -> Any:
    """numpy scalars and NaN made JSON-safe (NaN -> None)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value
