"""The comparator: an artifact's outputs against the reference outputs, under a tolerance profile.

Returns the metrics, the failed checks (metric, value, limit) and the per-row error the explanations and
plots use. Profile keys: parity/profiles.py; reasons for the default numbers: docs/parity.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..runtime.judge import Metrics, ToleranceProfile, judge
from .metrics import classification_metrics, regression_metrics


@dataclass
class Comparison:
    metrics: dict[str, float]
    failures: list[dict[str, Any]] = field(default_factory=list)
    row_error: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per row: largest absolute difference
    disagreeing: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # rows whose label differs

    @property
    def passed(self) -> bool:
        return not self.failures


def compare(task: str, reference: dict[str, np.ndarray], got: dict[str, np.ndarray], profile: dict[str, Any], *,
            scale: float = 1.0, labels: np.ndarray | None = None) -> Comparison:
    """Compare outputs row by row. `labels`: true class index per row (-1 unknown) for the AUC check.
    Raises ValueError when the artifact's outputs are missing or have the wrong shape."""
    key = "probabilities" if task == "classification" else "value"
    if key not in got:
        raise ValueError(f"the runtime returned no {key!r} output (got: {', '.join(got) or 'nothing'})")
    ref = np.asarray(reference[key], dtype=np.float64)
    out = np.asarray(got[key], dtype=np.float64)
    if key == "value":
        out = out.reshape(-1)
    if ref.shape != out.shape:
        raise ValueError(f"{key} has shape {out.shape}; the reference has {ref.shape}")
    diff = np.abs(ref - out)
    row_error = diff.max(axis=1) if diff.ndim == 2 and diff.shape[1] else diff.reshape(len(ref))
    row_error = np.where(np.isnan(row_error), np.inf, row_error)
    result = Comparison(metrics={}, row_error=row_error)
    if task == "classification":
        result.metrics = classification_metrics(ref, out)
        result.disagreeing = np.flatnonzero(np.argmax(out, axis=1) != np.argmax(ref, axis=1))
        if np.isnan(out).any():
            result.metrics["max_probability_error"] = float("inf")
        if labels is not None and ref.shape[1] == 2:
            _auc_metrics(result, ref, out, labels)
    else:
        result.metrics = regression_metrics(ref, out, scale)
        if np.isnan(out).any():
            result.metrics.update(max_abs_error=float("inf"), max_scaled_error=float("inf"), max_rel_error=float("inf"))
    verdict = judge(Metrics.from_dict(result.metrics), ToleranceProfile.from_dict(profile))
    result.failures = [f.to_dict() for f in verdict.failures]
    for name, spec in profile.get("outputs", {}).items():
        if name in got and name in reference:
            _output_check(result, name, np.asarray(reference[name], dtype=np.float64),
                          np.asarray(got[name], dtype=np.float64).reshape(np.shape(reference[name])), spec)
    return result


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties); NaN without both classes."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    # Average rank within each run of tied scores.
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], len(scores)]
    for s, e in zip(starts, ends):
        ranks[order[s:e]] = (s + e + 1) / 2.0
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _auc_metrics(result: Comparison, ref: np.ndarray, out: np.ndarray, labels: np.ndarray) -> None:
    """AUC before and after on the labelled rows; no auc_change (so no AUC check) without both classes."""
    known = labels >= 0
    if known.sum() == 0:
        return
    positive = labels[known] == 1
    before, after = roc_auc(ref[known, 1], positive), roc_auc(out[known, 1], positive)
    if np.isnan(before):
        return
    result.metrics.update(auc_reference=before, auc_artifact=after, auc_change=abs(after - before),
                          labelled_rows=int(known.sum()))


def _output_check(result: Comparison, name: str, ref: np.ndarray, out: np.ndarray, spec: dict[str, Any]) -> None:
    """Polygraphy's grammar: elementwise passes when each element is within atol OR rtol; a statistic passes
    when that statistic of the absolute errors is within atol or that of the relative errors within rtol."""
    atol, rtol = float(spec.get("atol", 0.0)), float(spec.get("rtol", 0.0))
    statistic = spec.get("statistic", "elementwise")
    absdiff = np.abs(ref - out).reshape(-1)
    absdiff = np.where(np.isnan(absdiff), np.inf, absdiff)
    reldiff = absdiff / np.maximum(np.abs(ref).reshape(-1), np.finfo(np.float64).tiny)
    label = f"{name}.{statistic}" + (f"(q={spec.get('q', 0.99)})" if statistic == "quantile" else "")
    if not absdiff.size:
        return
    if statistic == "elementwise":
        bad = ~((absdiff <= atol) | (reldiff <= rtol))
        result.metrics[f"{name}.elements_out_of_tolerance"] = int(bad.sum())
        if bad.any():
            result.failures.append({"metric": f"{name}.elements_out_of_tolerance", "value": int(bad.sum()), "limit": 0,
                                    "check": "<=", "atol": atol, "rtol": rtol,
                                    "worst_abs_error": float(absdiff.max())})
        return
    stat = {"max": np.max, "mean": np.mean,
            "quantile": lambda a: np.quantile(a, float(spec.get("q", 0.99)))}[statistic]
    abs_stat, rel_stat = float(stat(absdiff)), float(stat(reldiff))
    result.metrics[f"{label}.abs"] = abs_stat
    result.metrics[f"{label}.rel"] = rel_stat
    if not (abs_stat <= atol or rel_stat <= rtol):
        result.failures.append({"metric": f"{label}.abs", "value": abs_stat, "limit": atol, "check": "<=",
                                "rel_value": rel_stat, "rtol": rtol})


def failure_text(failure: dict[str, Any]) -> str:
    """`max_probability_error 0.1539 > 1e-05` for one failed check."""
    op = {"<=": ">", ">=": "<"}[failure["check"]]
    return f"{failure['metric']} {_num(failure['value'])} {op} {_num(failure['limit'])}"


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
