"""The package's reference profile (profile.json): binned reference data, the model's outputs on it and,
when the data carries labels, the model's performance at build time (the baseline of `edgepack drift`).

The bins are runtime/profile.py's (the device counts in the same ones). The data is the build's sample or,
with `edgepack build --reference-data FILE`, a larger or held-out table; training rows make the
build-time AUROC optimistic, so a holdout is the better reference.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ...runtime.profile import DEFAULT_BINS, reference_profile
from .performance import class_indices, classification_performance


def profile_columns(frame: Any, features: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """A feature DataFrame as the columns the device sees: float64 with NaN; categories as str, None missing."""
    columns: dict[str, np.ndarray] = {}
    for feat in features:
        col = frame[feat["name"]]
        if feat["type"] in ("category", "text"):
            missing = col.isna().to_numpy()
            values = col.astype(str).to_numpy(dtype=object)
            values[missing] = None
            columns[feat["name"]] = values
        else:
            columns[feat["name"]] = col.astype(float).to_numpy(dtype=np.float64)
    return columns


def build_profile(features: list[dict[str, Any]], frame: Any, outputs: dict[str, np.ndarray], classes: list[Any],
                  labels: Any | None, source: str, bins: int = DEFAULT_BINS) -> bytes:
    """profile.json's bytes for reference rows `frame` and the source model's `outputs` on them."""
    profile = reference_profile(features, profile_columns(frame, features), outputs, classes, bins, source)
    if labels is not None and "probabilities" in outputs:
        truth = class_indices(list(labels), classes)
        profile["performance"] = classification_performance(np.asarray(outputs["probabilities"]), truth)
    elif labels is not None and "value" in outputs:
        err = np.asarray(outputs["value"], dtype=np.float64).reshape(-1) - np.asarray(labels, dtype=np.float64)
        profile["performance"] = {"rows": int(len(err)), "mae": float(np.mean(np.abs(err))),
                                  "rmse": float(np.sqrt(np.mean(err ** 2)))}
    return (json.dumps(profile, allow_nan=False) + "\n").encode()
