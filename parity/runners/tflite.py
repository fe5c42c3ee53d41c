"""TFLite artifacts in ai-edge-litert, the device-side TFLite runtime (not full TensorFlow)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...runtime.records import tensors_for
from ...runtime.schema import IOSchema
from ...runtime.tflite_session import TFLiteTableSession
from .base import InputBatch, Runner


class TFLiteRunner(Runner):
    name = "tflite"
    formats = ("tflite",)

    requires = (("ai_edge_litert.interpreter", "ai-edge-litert is not installed (pip install ai-edge-litert)"),)

    def prepare(self) -> None:
        self._schema = IOSchema.from_manifest(self.package.manifest)
        self._session = TFLiteTableSession(self.package.artifact_bytes(self.artifact), self.artifact.entry,
                                           threads=1, delegates=True)

    def _predict(self, batch: InputBatch) -> dict[str, np.ndarray]:
        feeds = tensors_for(self.artifact.entry["inputs"], batch.columns, self._schema)
        outputs = self.artifact.entry["outputs"]
        values = self._session.run(list(outputs.values()), feeds)
        out: dict[str, Any] = {}
        for package_name, value in zip(outputs, values):
            value = np.array(value, dtype=np.float64)
            out[package_name] = value.reshape(-1) if package_name == "value" else value
        return out

    def describe(self) -> dict[str, str]:
        from importlib.metadata import version

        return {"name": self.name, "runtime": "ai-edge-litert", "version": version("ai-edge-litert")}
