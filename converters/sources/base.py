"""The Source interface: one adapter per training framework.

A Source loads a trained model, names the features it takes, and predicts: its outputs are the
reference every artifact is compared with.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class Source(Protocol):
    framework: str
    task: str  # "classification" or "regression"
    classes: list[Any]  # class labels in the model's order (classification), else []

    def describe(self) -> dict[str, Any]:
        """framework, framework_version, estimator (class path) and a one-line summary."""

    def feature_names(self, sample_columns: list[str]) -> list[str]:
        """The model's input features in order (from the model, else from the sample's columns)."""

    def predict(self, frame: Any) -> dict[str, np.ndarray]:
        """Outputs for a pandas DataFrame of features: {"probabilities", "label"} or {"value"}."""
