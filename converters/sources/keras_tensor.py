"""Keras 3 models with tensor inputs: images (Conv2D, DepthwiseConv2D, BatchNormalization, pooling,
residual adds: the MobileNet and EfficientNet families), sequences, several inputs, and preprocessing
layers inside the model. A flat [N, F] model stays with the tabular source (sources/keras.py).

Inputs keep Keras' channels-last layout (NHWC for images). The first output is a classifier's when the
model ends in softmax (probabilities) or a classes file sits beside it (scores); else every output is a
plain tensor.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from ...runtime.errors import ModelError
from ...runtime.tensors import TensorSpec
from .keras import KerasSource, _last_activation, is_flat, load_keras_model
from .tensor_io import input_spec, read_sidecars

_DTYPES = {"float32": "float32", "float64": "float64", "int32": "int32", "int64": "int64", "uint8": "uint8",
           "bool": "bool", "float16": "float32"}


def load(path: Path) -> Any:
    """The `.keras` row of the sources table: the tabular source for flat models, else this one."""
    model = load_keras_model(path)
    return KerasSource.load(path, model) if is_flat(model) else KerasTensorSource(model, path)


def input_name(tensor: Any) -> str:
    """The name of the Input layer behind a model input (what a saved model is reloaded with; the
    KerasTensor's own name differs before saving, e.g. 'keras_tensor' against 'input_layer')."""
    history = getattr(tensor, "_keras_history", None)
    layer = history[0] if history else None
    return str(getattr(layer, "name", None) or tensor.name.split(":")[0])


class KerasTensorSource:
    framework = "keras"
    kind = "tensor"

    def __init__(self, model: Any, path: Path) -> None:
        self.model = model
        self.path = path
        classes, extra = read_sidecars(path)
        self.inputs: list[TensorSpec] = []
        for tensor in model.inputs:
            name = input_name(tensor)
            dtype = _DTYPES.get(str(tensor.dtype).replace("<dtype: '", "").rstrip("'>"), "float32")
            self.inputs.append(input_spec(name, dtype, tuple(tensor.shape), extra.get(name, {}), channels_last=True))
        activation = _last_activation(model)
        self.outputs: list[TensorSpec] = []
        for i, tensor in enumerate(model.outputs):
            shape = tuple(tensor.shape)
            kind = "tensor"
            if i == 0 and len(shape) == 2 and shape[1] and shape[1] >= 2 and (activation == "softmax" or classes is not None):
                kind = "probabilities" if activation == "softmax" else "scores"
            name = "probabilities" if kind == "probabilities" else ("scores" if kind == "scores" else f"output_{i}")
            self.outputs.append(TensorSpec(name=name, dtype="float32", shape=(None, *shape[1:]), kind=kind))
        self.task = "classification" if self.outputs[0].kind != "tensor" else "tensor"
        n_classes = self.outputs[0].shape[1] if self.task == "classification" else 0
        self.classes: list[Any] = list(classes) if classes is not None else list(range(n_classes or 0))
        if self.task == "classification" and len(self.classes) != n_classes:
            raise ModelError(f"{len(self.classes)} class names for {n_classes} outputs", where=str(path))

    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def describe(self) -> dict[str, Any]:
        import keras

        kinds = [type(layer).__name__ for layer in self.model.layers]
        shown = " > ".join(kinds[:12]) + (" ..." if len(kinds) > 12 else "")
        return {"framework": "keras", "framework_version": keras.__version__,
                "estimator": f"keras.{type(self.model).__name__}",
                "summary": f"{shown} ({self.model.count_params()} parameters, {len(kinds)} layers)",
                "family": "keras_tensor"}

    def predict_tensors(self, inputs: dict[str, np.ndarray], batch: int = 64) -> dict[str, np.ndarray]:
        """Outputs by package name for batched inputs by name (in batches: a sample of images is large)."""
        arrays = [np.asarray(inputs[s.name]) for s in self.inputs]
        parts: list[list[np.ndarray]] = [[] for _ in self.outputs]
        for start in range(0, len(arrays[0]), batch):
            chunk = [a[start:start + batch] for a in arrays]
            out = self.model(chunk if len(chunk) > 1 else chunk[0], training=False)
            out = out if isinstance(out, (list, tuple)) else [out]
            for store, value in zip(parts, out):
                store.append(np.asarray(value))
        return {s.name: np.concatenate(p) for s, p in zip(self.outputs, parts)}

    def check_classifier(self, outputs: dict[str, np.ndarray]) -> None:
        """Nothing to correct: the last activation tells probabilities from scores."""
