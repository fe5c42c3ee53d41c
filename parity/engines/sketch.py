"""Mergeable summaries of the comparator's metrics, so that a parity run over data no machine holds can be
computed piecewise (one summary per partition) and merged on the driver without its rows.

Errors are summarised by a fixed log-scale histogram (quantiles are then exact to within one bin, a
factor of 10**(1/8) = 1.33; the reported quantile is the bin's upper edge, so it never understates an
error), max and sum exactly. AUC pieces are histograms of the positive class's score per true class for
the reference and the artifact (4096 bins; the AUC from them is exact up to ties inside a bin).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# error bins: [0], then (10**(k/8 - 1)/10**17 ...]: edges from 1e-17 to 10, 8 per decade, plus overflow
EDGES = np.concatenate([[0.0], 10.0 ** np.arange(-17.0, 1.0 + 1e-9, 0.125), [np.inf]])
AUC_BINS = 4096


def error_histogram(errors: np.ndarray) -> np.ndarray:
    """Counts of errors per bin: bin 0 holds exact zeros, bin i holds (EDGES[i-1], EDGES[i]]; NaN counts as inf."""
    errors = np.where(np.isnan(errors), np.inf, np.abs(errors))
    return np.bincount(np.searchsorted(EDGES, errors, side="left"), minlength=len(EDGES) + 1)[: len(EDGES) + 1]


def histogram_quantile(counts: np.ndarray, q: float) -> float:
    """The upper edge of the bin holding the q-quantile (never less than the true quantile)."""
    total = counts.sum()
    if total == 0:
        return 0.0
    idx = int(np.searchsorted(np.cumsum(counts), q * total, side="left"))
    return float(EDGES[min(idx, len(EDGES) - 1)])


def score_histogram(scores: np.ndarray) -> np.ndarray:
    bins = np.clip((np.nan_to_num(scores, nan=0.0) * AUC_BINS).astype(np.int64), 0, AUC_BINS - 1)
    return np.bincount(bins, minlength=AUC_BINS)


def auc_from_histograms(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC from score histograms of the positive and negative rows (ties within a bin count half)."""
    n_pos, n_neg = pos.sum(), neg.sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    below = np.cumsum(neg) - neg  # negatives in lower bins
    return float((pos * below).sum() + 0.5 * (pos * neg).sum()) / float(n_pos * n_neg)


@dataclass
class Summary:
    """One artifact's comparison with the reference, over some rows; `merge` adds another's rows."""

    rows: int = 0
    agree: int = 0
    max_error: float = 0.0
    sum_error: float = 0.0
    max_rel_error: float = 0.0
    hist: np.ndarray = field(default_factory=lambda: np.zeros(len(EDGES) + 1, dtype=np.int64))
    auc: dict[str, np.ndarray] = field(default_factory=dict)  # ref_pos, ref_neg, art_pos, art_neg

    def add(self, task: str, reference: np.ndarray, got: np.ndarray, labels: np.ndarray | None = None) -> None:
        """Fold in a batch: reference and got are [N, C] probabilities or [N] values; labels the true class
        index (-1 unknown) for the AUC pieces of a binary classifier."""
        reference = np.asarray(reference, dtype=np.float64)
        got = np.asarray(got, dtype=np.float64).reshape(reference.shape)
        diff = np.abs(reference - got)
        row_error = diff.max(axis=1) if diff.ndim == 2 else diff
        row_error = np.where(np.isnan(row_error), np.inf, row_error)
        self.rows += len(reference)
        if not len(reference):
            return
        self.max_error = max(self.max_error, float(row_error.max()))
        self.sum_error += float(diff.sum())
        self.hist += error_histogram(row_error)
        if task == "classification":
            self.agree += int((np.argmax(got, axis=1) == np.argmax(reference, axis=1)).sum())
            if labels is not None and reference.shape[1] == 2:
                known = labels >= 0
                pos, neg = known & (labels == 1), known & (labels != 1)
                for key, scores, mask in (("ref_pos", reference[:, 1], pos), ("ref_neg", reference[:, 1], neg),
                                          ("art_pos", got[:, 1], pos), ("art_neg", got[:, 1], neg)):
                    self.auc[key] = self.auc.get(key, np.zeros(AUC_BINS, dtype=np.int64)) + score_histogram(scores[mask])
        else:
            rel = diff / np.maximum(np.abs(reference), 1e-12)
            self.max_rel_error = max(self.max_rel_error, float(np.nan_to_num(rel, nan=np.inf).max()))

    def merge(self, other: Summary) -> Summary:
        self.rows += other.rows
        self.agree += other.agree
        self.max_error = max(self.max_error, other.max_error)
        self.max_rel_error = max(self.max_rel_error, other.max_rel_error)
        self.sum_error += other.sum_error
        self.hist = self.hist + other.hist
        for key, value in other.auc.items():
            self.auc[key] = self.auc.get(key, np.zeros(AUC_BINS, dtype=np.int64)) + value
        return self

    def to_row(self) -> dict[str, Any]:
        return {"rows": self.rows, "agree": self.agree, "max_error": self.max_error, "sum_error": self.sum_error,
                "max_rel_error": self.max_rel_error, "hist": self.hist.tolist(),
                "auc": {k: v.tolist() for k, v in self.auc.items()}}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Summary:
        return cls(rows=int(row["rows"]), agree=int(row["agree"]), max_error=float(row["max_error"]),
                   sum_error=float(row["sum_error"]), max_rel_error=float(row["max_rel_error"]),
                   hist=np.asarray(row["hist"], dtype=np.int64),
                   auc={k: np.asarray(v, dtype=np.int64) for k, v in (row.get("auc") or {}).items()})

    def metrics(self, task: str, n_classes: int, scale: float) -> dict[str, float]:
        """The comparator's metric names (parity/metrics.py) plus error quantiles and the AUC change."""
        out: dict[str, float] = {}
        if task == "classification":
            out.update(label_agreement=self.agree / self.rows if self.rows else 1.0,
                       disagreements=self.rows - self.agree, max_probability_error=self.max_error,
                       mean_probability_error=self.sum_error / max(1, self.rows * n_classes))
            if all(k in self.auc for k in ("ref_pos", "ref_neg", "art_pos", "art_neg")):
                before = auc_from_histograms(self.auc["ref_pos"], self.auc["ref_neg"])
                after = auc_from_histograms(self.auc["art_pos"], self.auc["art_neg"])
                if not np.isnan(before):
                    out.update(auc_reference=before, auc_artifact=after, auc_change=abs(after - before),
                               labelled_rows=int(self.auc["ref_pos"].sum() + self.auc["ref_neg"].sum()))
        else:
            out.update(max_abs_error=self.max_error, mean_abs_error=self.sum_error / max(1, self.rows),
                       max_rel_error=self.max_rel_error, max_scaled_error=self.max_error / scale)
        for q in (0.5, 0.9, 0.99, 0.999):
            out[f"error_q{q:g}"] = histogram_quantile(self.hist, q)
        return out
