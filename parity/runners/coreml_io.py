"""What both Core ML runners share: the package's inputs as the artifact's named features, and the
artifact's outputs as the package's (probabilities [N, C] in the manifest's class order, value [N])."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...runtime.records import tensors_for
from ...runtime.schema import IOSchema


def feeds_for(entry: dict[str, Any], columns: dict[str, np.ndarray], schema: IOSchema) -> dict[str, np.ndarray]:
    """One value per row for each named Double/String input; [N, F] for an array input."""
    feeds = tensors_for(entry["inputs"], columns, schema)
    named = {t["name"] for t in entry["inputs"] if len(t["features"]) == 1 and t["name"] == t["features"][0]}
    return {k: (v.reshape(-1) if k in named else v) for k, v in feeds.items()}


def package_outputs(entry: dict[str, Any], result: dict[str, Any], classes: list[Any]) -> dict[str, np.ndarray]:
    """The artifact's outputs under the package's names. A class -> probability dictionary is put in
    `classes` order (keys matched as the labels themselves, or their text)."""
    out: dict[str, np.ndarray] = {}
    for package_name, artifact_name in entry["outputs"].items():
        if package_name == "label":
            continue
        value = result[artifact_name]
        if hasattr(value, "keys") and hasattr(value, "values") and not isinstance(value, dict):  # ClassScores
            position = {k: i for i, k in enumerate(value.keys)} | {str(k): i for i, k in enumerate(value.keys)}
            order = [position[c] if c in position else position[str(c)] for c in classes]
            value = np.asarray(value.values)[:, order]
        elif isinstance(value, list) and value and isinstance(value[0], dict):  # Core ML's per-row dictionaries
            value = np.array([[row.get(c, row.get(str(c))) for c in classes] for row in value], dtype=np.float64)
        value = np.asarray(value, dtype=np.float64)
        out[package_name] = value.reshape(-1) if package_name == "value" else value.reshape(len(value), -1)
    return out
