"""Parity metrics for tensor outputs: top-1 and top-5 agreement (classifiers), max absolute error and the
lowest per-row cosine similarity (every output), judged by one profile per precision.

The verdict and the default profiles per precision are runtime/judge.py's (judge_tensors, TENSOR_PROFILES),
the one judge the device's self-test asks too; profiles are recorded in the manifest.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..runtime.judge import TensorMetrics, TensorProfile, Verdict, judge_tensors, recorded_tensor_profile

CLASS_KINDS = ("probabilities", "scores")


def tensor_profile(precision: str) -> dict[str, float]:
    """The default profile of a precision, as the manifest records it (runtime/judge.py: TENSOR_PROFILES)."""
    return recorded_tensor_profile(precision)


def _rows(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a.reshape(len(a), -1)


def _topk_agreement(ref: np.ndarray, got: np.ndarray, k: int) -> float:
    """Share of rows whose reference top-1 class is among the artifact's top-k (k=1: equal labels)."""
    k = min(k, ref.shape[1])
    best = np.argmax(ref, axis=1)
    top = np.argsort(-got, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(top == best[:, None], axis=1))) if len(ref) else 1.0


def cosines(ref: np.ndarray, got: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1)
    same = np.all(ref == got, axis=1)
    return np.where(norms > 0, np.sum(ref * got, axis=1) / np.where(norms > 0, norms, 1.0), np.where(same, 1.0, 0.0))


def tensor_metrics(ref: dict[str, np.ndarray], got: dict[str, np.ndarray], kinds: dict[str, str]) -> dict[str, Any]:
    """Metrics over every output (`kinds`: output name -> kind). Missing outputs or changed shapes raise
    ValueError (the harness reports them as an error)."""
    return tensor_comparison(ref, got, kinds)[0]


def tensor_comparison(ref: dict[str, np.ndarray], got: dict[str, np.ndarray], kinds: dict[str, str]
                      ) -> tuple[dict[str, Any], np.ndarray]:
    """(metrics, per-row largest absolute error over every output; NaN counts as infinite)."""
    metrics: dict[str, Any] = {"max_abs_error": 0.0, "min_cosine": 1.0}
    n = len(next(iter(ref.values()))) if ref else 0
    row_error = np.zeros(n)
    for name, kind in kinds.items():
        if name not in got:
            raise ValueError(f"the artifact did not produce output {name!r}")
        r, g = _rows(ref[name]), _rows(got[name])
        if r.shape != g.shape:
            raise ValueError(f"output {name!r} has shape {list(g.shape)}, the reference {list(r.shape)}")
        err = np.max(np.abs(r - g), axis=1) if r.size else np.zeros(len(r))
        err = np.where(np.isnan(err), np.inf, err)
        row_error = np.maximum(row_error, err)
        cos = cosines(r, g)
        cos = np.where(np.isnan(cos), -1.0, cos)
        metrics["max_abs_error"] = max(metrics["max_abs_error"], float(err.max()) if len(err) else 0.0)
        metrics["min_cosine"] = min(metrics["min_cosine"], float(cos.min()) if len(cos) else 1.0)
        if kind in CLASS_KINDS:
            metrics["top1_agreement"] = _topk_agreement(r, g, 1)
            metrics["top5_agreement"] = _topk_agreement(r, g, 5)
            metrics["label_agreement"] = metrics["top1_agreement"]
    metrics["worst_rows"] = [int(i) for i in np.argsort(-row_error, kind="stable")[:5]]
    return metrics, row_error


def tensor_passes(metrics: dict[str, Any], profile: dict[str, float]) -> bool:
    return not tensor_failures(metrics, profile)


def tensor_verdict(metrics: dict[str, Any], profile: dict[str, Any]) -> Verdict:
    """The judge's verdict (runtime/judge.py: judge_tensors) on recorded metrics and profile."""
    return judge_tensors(TensorMetrics.from_dict(metrics), TensorProfile.from_dict(profile))


def tensor_failures(metrics: dict[str, Any], profile: dict[str, Any]) -> list[str]:
    """Which limits of the profile the metrics break, in words (empty: it passes)."""
    return [f.words() for f in tensor_verdict(metrics, profile).failures]
