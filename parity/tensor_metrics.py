"""Parity metrics for tensor outputs: top-1 and top-5 agreement (classifiers), max absolute error and the
lowest per-row cosine similarity (every output), judged by one profile per precision.

One place decides a verdict: `tensor_passes`. Profiles (TENSOR_PROFILES) are data, recorded in the manifest.
"""

from __future__ import annotations

from typing import Any

import numpy as np

CLASS_KINDS = ("probabilities", "scores")

# precision -> limits. float32: the target (top-1 equal, max error <= 1e-4); float16 and int8 keep
# the label of nearly every input and the direction of every output vector.
TENSOR_PROFILES: dict[str, dict[str, float]] = {
    "float32": {"min_top1_agreement": 1.0, "min_top5_agreement": 1.0, "max_abs_error": 1e-4, "min_cosine": 0.9999},
    "float16": {"min_top1_agreement": 0.99, "min_top5_agreement": 0.99, "max_abs_error": 1e-2, "min_cosine": 0.999},
    "int8": {"min_top1_agreement": 0.97, "min_top5_agreement": 0.97, "max_abs_error": 0.2, "min_cosine": 0.98},
    "uint8": {"min_top1_agreement": 0.99, "min_top5_agreement": 0.99, "max_abs_error": 0.05, "min_cosine": 0.995},
}


def tensor_profile(precision: str) -> dict[str, float]:
    return dict(TENSOR_PROFILES.get(precision, TENSOR_PROFILES["int8"]))


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
    metrics: dict[str, Any] = {"max_abs_error": 0.0, "min_cosine": 1.0}
    worst_rows: list[int] = []
    for name, kind in kinds.items():
        if name not in got:
            raise ValueError(f"the artifact did not produce output {name!r}")
        r, g = _rows(ref[name]), _rows(got[name])
        if r.shape != g.shape:
            raise ValueError(f"output {name!r} has shape {list(g.shape)}, the reference {list(r.shape)}")
        err = np.max(np.abs(r - g), axis=1) if r.size else np.zeros(len(r))
        cos = cosines(r, g)
        metrics["max_abs_error"] = max(metrics["max_abs_error"], float(err.max()) if len(err) else 0.0)
        metrics["min_cosine"] = min(metrics["min_cosine"], float(cos.min()) if len(cos) else 1.0)
        if kind in CLASS_KINDS:
            metrics["top1_agreement"] = _topk_agreement(r, g, 1)
            metrics["top5_agreement"] = _topk_agreement(r, g, 5)
            metrics["label_agreement"] = metrics["top1_agreement"]
        worst_rows = [int(i) for i in np.argsort(-err, kind="stable")[:5]]
    metrics["worst_rows"] = worst_rows
    return metrics


def tensor_passes(metrics: dict[str, Any], profile: dict[str, float]) -> bool:
    return not tensor_failures(metrics, profile)


def tensor_failures(metrics: dict[str, Any], profile: dict[str, float]) -> list[str]:
    """Which limits of the profile the metrics break, in words (empty: it passes)."""
    broken = []
    for key, limit in (("top1_agreement", "min_top1_agreement"), ("top5_agreement", "min_top5_agreement")):
        if key in metrics and metrics[key] < profile[limit]:
            broken.append(f"{key.replace('_', ' ')} {metrics[key]:.4f} < {profile[limit]}")
    if metrics["max_abs_error"] > profile["max_abs_error"]:
        broken.append(f"max abs error {metrics['max_abs_error']:.3g} > {profile['max_abs_error']}")
    if metrics["min_cosine"] < profile["min_cosine"]:
        broken.append(f"cosine similarity {metrics['min_cosine']:.6f} < {profile['min_cosine']}")
    return broken
