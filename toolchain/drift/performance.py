"""AUROC, average precision and accuracy of scores against labels, with confidence intervals.

Binary tasks score the positive class (the last in the manifest's `classes`); multi-class AUROC and
average precision are one-vs-rest macro averages. Intervals: Wilson for accuracy, a seeded percentile
bootstrap (BOOTSTRAP resamples) for AUROC and average precision. scikit-learn's roc_auc_score and
average_precision_score give the same point values (tests/toolchain/test_drift_stats.py).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

BOOTSTRAP = 200
Z95 = 1.959963984540054


def auroc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """Area under the ROC curve (ties count one half): the Mann-Whitney U over both class sizes. None
    when one class is absent."""
    pos = int(positive.sum())
    neg = len(positive) - pos
    if not pos or not neg:
        return None
    ranks = _average_ranks(scores)
    return float((ranks[positive].sum() - pos * (pos + 1) / 2) / (pos * neg))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    # groups of equal values share the mean of their 1-based ranks
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    mean_rank = (starts + ends + 1) / 2.0
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def average_precision(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """Average precision as scikit-learn defines it: sum over thresholds of (recall step) x precision."""
    pos = int(positive.sum())
    if not pos:
        return None
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], positive[order]
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]  # last index of each distinct score
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    precision = tp / (tp + fp)
    recall = tp / pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def wilson(successes: int, n: int) -> tuple[float, float]:
    if not n:
        return (math.nan, math.nan)
    p = successes / n
    denom = 1 + Z95 ** 2 / n
    centre = (p + Z95 ** 2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95 ** 2 / (4 * n * n)) / denom
    return (centre - half, centre + half)


def _one_vs_rest(metric: Any, probs: np.ndarray, truth: np.ndarray) -> float | None:
    if probs.shape[1] == 2:
        return metric(probs[:, 1], truth == 1)
    values = [metric(probs[:, j], truth == j) for j in range(probs.shape[1])]
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def classification_performance(probs: np.ndarray, truth: np.ndarray, ci: bool = True, seed: int = 0
                               ) -> dict[str, Any]:
    """Metrics of probabilities [N, C] against true class indices [N] (-1: a label the model does not know,
    counted as wrong). Returns {"rows", "accuracy", "auroc", "average_precision"} and, with `ci`,
    "<metric>_ci": [low, high] (95 %)."""
    probs = np.asarray(probs, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.int64)
    n = len(truth)
    right = int(np.sum(np.argmax(probs, axis=1) == truth)) if n else 0
    out: dict[str, Any] = {"rows": n, "accuracy": right / n if n else None,
                           "auroc": _one_vs_rest(auroc, probs, truth) if n else None,
                           "average_precision": _one_vs_rest(average_precision, probs, truth) if n else None}
    if ci and n:
        out["accuracy_ci"] = list(wilson(right, n))
        rng = np.random.default_rng(seed)
        samples: dict[str, list[float]] = {"auroc": [], "average_precision": []}
        for _ in range(BOOTSTRAP):
            pick = rng.integers(0, n, n)
            for key, metric in (("auroc", auroc), ("average_precision", average_precision)):
                value = _one_vs_rest(metric, probs[pick], truth[pick])
                if value is not None:
                    samples[key].append(value)
        for key, values in samples.items():
            if values and out[key] is not None:
                out[f"{key}_ci"] = [float(np.quantile(values, 0.025)), float(np.quantile(values, 0.975))]
    return out


def class_indices(labels: Any, classes: list[Any]) -> np.ndarray:
    """Labels (any JSON/CSV type) as indices into the manifest's classes, compared as text; -1 unknown."""
    where = {str(c): i for i, c in enumerate(classes)}
    # CSV gives "1" where the classes say 1, JSON may give 1.0 for 1: both spellings are the class
    for i, c in enumerate(classes):
        if isinstance(c, (int, float)) and not isinstance(c, bool) and float(c).is_integer():
            where.setdefault(str(float(c)), i)
    return np.array([where.get(str(v), -1) for v in labels], dtype=np.int64)
