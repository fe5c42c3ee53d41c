"""TFLite artifacts in ai-edge-litert, the device-side TFLite runtime (not full TensorFlow)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...runtime.records import tensors_for
from ...runtime.schema import IOSchema
from .base import InputBatch, Runner


class TFLiteRunner(Runner):
    name = "tflite"
    formats = ("tflite",)

    requires = (("ai_edge_litert.interpreter", "ai-edge-litert is not installed (pip install ai-edge-litert)"),)

    def prepare(self) -> None:
        from ai_edge_litert.interpreter import Interpreter


        self._schema = IOSchema.from_manifest(self.package.manifest)
        self._interpreter = Interpreter(model_content=self.package.artifact_bytes(self.artifact), num_threads=1)
        self._inputs = {d["name"]: d["index"] for d in self._interpreter.get_input_details()}
        self._outputs = {d["name"]: d["index"] for d in self._interpreter.get_output_details()}
        self._rows = -1

    def _predict(self, batch: InputBatch) -> dict[str, np.ndarray]:
        feeds = tensors_for(self.artifact.entry["inputs"], batch.columns, self._schema)
        rows = len(batch)
        if rows != self._rows:  # the batch dimension is dynamic: size the tensors for this batch once
            for name, array in feeds.items():
                self._interpreter.resize_tensor_input(self._inputs[name], list(array.shape))
            self._interpreter.allocate_tensors()
            self._rows = rows
        for name, array in feeds.items():
            self._interpreter.set_tensor(self._inputs[name], np.ascontiguousarray(array, dtype=np.float32))
        self._interpreter.invoke()
        out: dict[str, Any] = {}
        for package_name, tensor in self.artifact.entry["outputs"].items():
            value = np.array(self._interpreter.get_tensor(self._outputs[tensor]), dtype=np.float64)
            out[package_name] = value.reshape(-1) if package_name == "value" else value
        return out

    def describe(self) -> dict[str, str]:
        from importlib.metadata import version

        return {"name": self.name, "runtime": "ai-edge-litert", "version": version("ai-edge-litert")}
