"""The original model, run through its Source (`--reference MODEL`): the outputs every artifact is held to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...converters.sources import load_source
from .base import InputBatch, Runner


class ReferenceRunner(Runner):
    """Options: `model` (path to the trained model file). `artifact` is unused: the model is the reference."""

    name = "reference"
    formats = ()

    def prepare(self) -> None:
        self._source = load_source(Path(self.options["model"]))

    def _predict(self, batch: InputBatch) -> dict[str, np.ndarray]:
        import pandas as pd

        features = self.package.manifest["inputs"]["features"]
        frame = pd.DataFrame({f["name"]: _column(f, batch.columns[f["name"]]) for f in features})
        out = self._source.predict(frame)
        return {k: v for k, v in out.items() if k in ("probabilities", "value")}

    def describe(self) -> dict[str, str]:
        info: dict[str, Any] = self._source.describe() if hasattr(self, "_source") else {}
        return {"name": self.name, "runtime": str(info.get("framework", "source model")),
                "version": str(info.get("framework_version", "unknown"))}


def _column(feature: dict[str, Any], values: np.ndarray) -> np.ndarray:
    # Integer features go back to integers when nothing is missing: models fitted on int columns see ints.
    if feature["type"] in ("int", "bool") and values.dtype != object and not np.isnan(values).any():
        return values.astype(np.int64)
    return values
