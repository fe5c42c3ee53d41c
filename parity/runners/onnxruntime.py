"""onnxruntime in this process: the same engine the device scorer embeds."""

from __future__ import annotations

import numpy as np

from ...runtime.scorer import Scorer
from .base import InputBatch, Runner


class OnnxRuntimeRunner(Runner):
    name = "onnxruntime"
    formats = ("onnx",)

    requires = (("onnxruntime", "onnxruntime is not installed"),)

    def prepare(self) -> None:
        self._scorer = Scorer.load(self.package, artifact=self.artifact.id)

    def _predict(self, batch: InputBatch) -> dict[str, np.ndarray]:
        return self._scorer.run_columns(batch.columns)

    def describe(self) -> dict[str, str]:
        import onnxruntime

        return {"name": self.name, "runtime": "onnxruntime", "version": onnxruntime.__version__}
