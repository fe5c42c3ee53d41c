"""What the three booster sources (XGBoost, LightGBM, CatBoost model files) share: a Source over a
library-native model file whose trees are read into a `BoostedEnsemble` (sources/boosted_trees.py).

A booster file saved by the library itself (XGBoost .json/.ubj, LightGBM .txt, CatBoost .cbm) is data, not
a pickle: loading it executes no code from the file. Booster files carry no class labels, so a classifier's
classes are 0..k-1, the labels XGBoost, LightGBM and CatBoost's own `predict` return for them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ...runtime.errors import DataError
from .boosted_trees import BoostedEnsemble


class BoosterSource:
    """A booster model file: the reference is the library's own prediction on a float64 array."""

    fitted_on_frame = False

    def __init__(self, framework: str, version: str, estimator: str, path: Path, ensemble: BoostedEnsemble,
                 predict: Callable[[np.ndarray], np.ndarray], names: list[str] | None,
                 classes: list[Any] | None = None) -> None:
        self.framework = framework
        self.version = version
        self.estimator = estimator
        self.path = path
        self.ensemble = ensemble
        self._predict = predict
        self._names = names
        self.task = "classification" if ensemble.link in ("sigmoid", "softmax") else "regression"
        n_classes = 2 if ensemble.link == "sigmoid" else ensemble.n_targets
        self.classes: list[Any] = list(classes) if classes is not None else (
            list(range(n_classes)) if self.task == "classification" else [])

    def describe(self) -> dict[str, Any]:
        return {
            "framework": self.framework,
            "framework_version": self.version,
            "estimator": self.estimator,
            "summary": f"{self.estimator} ({self.ensemble.objective}, {len(self.ensemble.trees)} trees)",
            "family": self.estimator.rsplit(".", 1)[-1],
        }

    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def feature_names(self, sample_columns: list[str]) -> list[str]:
        n = self.ensemble.n_features
        if self._names and len(self._names) == n:
            return list(self._names)
        if len(sample_columns) != n:
            raise DataError(f"the model takes {n} features but the sample has {len(sample_columns)} feature columns",
                            where=str(self.path),
                            fix="pass --label-column for the label, and a sample with exactly the model's columns in training order")
        return list(sample_columns)

    def as_model_input(self, frame: Any) -> np.ndarray:
        return frame.to_numpy(dtype=np.float64, na_value=np.nan)

    def predict(self, frame: Any) -> dict[str, np.ndarray]:
        out = np.asarray(self._predict(self.as_model_input(frame)), dtype=np.float64)
        if self.task == "regression":
            return {"value": out.reshape(-1)}
        probs = np.stack([1.0 - out, out], axis=1) if out.ndim == 1 else out
        labels = np.asarray(self.classes, dtype=object)[np.argmax(probs, axis=1)]
        return {"probabilities": probs, "label": labels}
