"""The drift report for people: a table per feature and output, performance, groups, alerts."""

from __future__ import annotations

from typing import Any

from ...runtime.table import render_table


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _rows(items: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for f in items:
        note = ""
        if f.get("unseen"):
            names = ", ".join(list(f.get("unseen_names", {}))[:3])
            note = f"unseen {_pct(f['unseen'])} ({names})"
        elif f.get("out_of_range") and f["kind"] == "number":
            note = f"out of range {_pct(f['out_of_range'])}"
        rows.append([f["name"], f["rows"], f["psi"], f["js"], f.get("ks"), f["chi2_p"],
                     _pct(f.get("missing_rate")), note])
    return rows


HEADERS = ["feature", "rows", "PSI", "JS", "KS D", "chi2 p", "missing", "note"]


def text_report(report: dict[str, Any]) -> str:
    pkg, total = report["package"], report["total"]
    s = total["summary"]
    out = [f"drift {pkg['name']} {pkg['version']}: {s['records']} records in {s['windows']} window(s) from "
           f"{', '.join(s['devices'] or [])}, {s['start']} .. {s['end']}; reference: {report['profile']['rows']} rows "
           f"of {report['profile']['source']}",
           f"scored {s['scored']}, rejected {s['rejected']} ({_pct(s['rejected_rate'])})"
           + (f": {', '.join(f'{k} {v}' for k, v in s['rejected_by_field'].items())}" if s["rejected_by_field"] else ""),
           "", render_table(HEADERS, _rows(total["features"]), title="features (current vs reference bins)"),
           "", render_table(["output"] + HEADERS[1:], _rows(total["outputs"]), title="outputs")]
    perf = total.get("performance")
    if perf:
        cur, base = perf["current"], perf["build"]
        rows = []
        for key, label in (("auroc", "AUROC"), ("average_precision", "average precision"), ("accuracy", "accuracy")):
            ci = cur.get(f"{key}_ci")
            rows.append([label, cur.get(key), f"{ci[0]:.3f} .. {ci[1]:.3f}" if ci else "-", base.get(key),
                         (base[key] - cur[key]) if cur.get(key) is not None and base.get(key) is not None else None])
        out += ["", render_table(["metric", "now", "95 % interval", "build", "drop"], rows,
                                 title=f"performance on {cur['rows']} labelled records "
                                       f"({cur['unmatched_labels']} labels without a prediction)")]
    if report["groups"]:
        rows = [[g["key"], g["summary"]["records"], max((f["psi"] or 0 for f in g["features"]), default=None),
                 max((o["psi"] or 0 for o in g["outputs"]), default=None), _pct(g["summary"]["rejected_rate"]),
                 "; ".join(f"{a['alert']} {a['where']}".strip() for a in g["alerts"]) or "-"] for g in report["groups"]]
        out += ["", render_table([report["by"], "records", "max PSI", "max output PSI", "rejected", "alerts"], rows,
                                 title=f"by {report['by']}")]
    out.append("")
    if total["alerts"] or any(g["alerts"] for g in report["groups"]):
        for a in total["alerts"]:
            where = f" on {a['where']}" if a["where"] else ""
            out.append(f"ALERT {a['alert']}{where}: {a['value']:.4g}")
        for g in report["groups"]:
            for a in g["alerts"]:
                where = f" on {a['where']}" if a["where"] else ""
                out.append(f"ALERT {a['alert']}{where} ({report['by']} {g['key']}): {a['value']:.4g}")
    else:
        out.append(f"no alert ({', '.join(report['alert_rules'])})")
    return "\n".join(out)
