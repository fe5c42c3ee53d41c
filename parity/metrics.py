"""Agreement and error between a reference model's outputs and an artifact's outputs.

Pure numpy: the build's own check and the parity comparator share these; the verdict is runtime/judge.py's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..runtime.judge import Metrics, ToleranceProfile, judge


def classification_metrics(ref_probs: np.ndarray, got_probs: np.ndarray, ref_labels_idx: np.ndarray | None = None
                           ) -> dict[str, float]:
    """label_agreement (argmax vs the reference labels, or the reference argmax), max/mean probability error."""
    ref_probs = np.asarray(ref_probs, dtype=np.float64)
    got_probs = np.asarray(got_probs, dtype=np.float64)
    want = np.argmax(ref_probs, axis=1) if ref_labels_idx is None else np.asarray(ref_labels_idx)
    diff = np.abs(ref_probs - got_probs)
    return {
        "label_agreement": float(np.mean(np.argmax(got_probs, axis=1) == want)) if len(want) else 1.0,
        "disagreements": int(np.sum(np.argmax(got_probs, axis=1) != want)),
        "max_probability_error": float(diff.max()) if diff.size else 0.0,
        "mean_probability_error": float(diff.mean()) if diff.size else 0.0,
    }


def regression_metrics(ref: np.ndarray, got: np.ndarray, scale: float) -> dict[str, float]:
    """max/mean absolute error, and the max error relative to the target's scale."""
    ref = np.asarray(ref, dtype=np.float64).reshape(-1)
    got = np.asarray(got, dtype=np.float64).reshape(-1)
    diff = np.abs(ref - got)
    rel = diff / np.maximum(np.abs(ref), 1e-12)
    return {
        "max_abs_error": float(diff.max()) if diff.size else 0.0,
        "mean_abs_error": float(diff.mean()) if diff.size else 0.0,
        "max_rel_error": float(rel.max()) if rel.size else 0.0,
        "max_scaled_error": float(diff.max() / scale) if diff.size else 0.0,
    }


def passes(metrics: dict[str, float], profile: dict[str, Any]) -> bool:
    """Whether recorded metrics meet a recorded profile: runtime/judge.py's verdict."""
    return judge(Metrics.from_dict(metrics), ToleranceProfile.from_dict(profile)).passed
