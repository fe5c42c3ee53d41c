"""How the evaluator holds feature values for a batch of N rows.

double -> float64 [N]; int64 -> int64 [N]; string -> object [N]; multiArray -> [N, ...] (float64,
float32 or float16 as the model computes); dictionary -> ClassScores (keys and a [N, K] matrix).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


class SpecError(Exception):
    """The artifact uses something outside the supported subset, or breaks the specification."""


@dataclass
class ClassScores:
    """A dictionary-typed feature over a batch: keys (class labels) and one row of values per input."""

    keys: list[Any]
    values: np.ndarray  # [N, K]


def as_columns(value: Any) -> np.ndarray:
    """A numeric feature as [N, d] float64 (scalars become one column)."""
    arr = np.asarray(value)
    return arr.reshape(len(arr), -1).astype(np.float64) if arr.ndim != 2 else arr.astype(np.float64)


def feature_kind(feature_type: Any) -> str:
    """The FeatureType's kind: double, int64, string, multiArray, dictionary, ..."""
    kind = feature_type.WhichOneof("Type")
    return {"doubleType": "double", "int64Type": "int64", "stringType": "string", "multiArrayType": "multiArray",
            "dictionaryType": "dictionary"}.get(kind, kind or "unset")


def class_labels(message: Any) -> list[Any]:
    """A classifier's labels (stringClassLabels or int64ClassLabels)."""
    which = message.WhichOneof("ClassLabels")
    if which is None:
        raise SpecError(f"{type(message).__name__} has no class labels")
    return list(getattr(message, which).vector)


def classifier_result(description: Any, labels: list[Any], probs: np.ndarray) -> dict[str, Any]:
    """Outputs of a classifier model: the dictionary-typed output gets the probabilities, the other one
    the most probable label (first on ties)."""
    out: dict[str, Any] = {}
    for o in description.output:
        if feature_kind(o.type) == "dictionary":
            out[o.name] = ClassScores(list(labels), probs)
        else:
            idx = np.argmax(probs, axis=1)
            out[o.name] = np.asarray(labels, dtype=object)[idx]
    return out
