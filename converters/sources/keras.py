"""Keras 3 models saved as `.keras` files: Sequential or functional, one flat numeric input [N, F].

What the package sees: one float32 tensor of the sample's numeric features in column order (a model
that wants another shape, e.g. [F, 1] for Conv1D, reshapes inside itself). The task comes from the
last layer: sigmoid with one unit -> two classes, softmax with n units -> n classes, anything else ->
regression on one unit. Class labels are 0..n-1 unless a `MODEL.classes.json` file (a JSON list) sits
beside the model.

Loading a `.keras` file does not run arbitrary Python (Keras' safe mode stays on): lambda layers are
refused by Keras itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ...runtime.errors import DataError, ModelError


def _last_activation(model: Any) -> str:
    layer = model.layers[-1]
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", None) or str(activation or "linear")
    if type(layer).__name__ in ("Softmax", "Activation") and name == "linear":
        name = "softmax" if type(layer).__name__ == "Softmax" else name
    return name


def load_keras_model(path: Path) -> Any:
    """A `.keras` file as a Keras model (safe mode on). Raises ModelError when Keras cannot read it."""
    import keras

    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:  # Keras raises ValueError, TypeError, ... on files it cannot read
        raise ModelError(f"cannot load the Keras model: {type(exc).__name__}: {exc}", where=str(path),
                         fix="pass a model saved with model.save('model.keras') by Keras 3") from exc


def is_flat(model: Any) -> bool:
    """One float input [N, F] and one output: the tabular Keras path (KerasSource); else a tensor model.
    Token ids [N, T] read by an Embedding are a sequence, not T features: the tensor path keeps them integers."""
    if len(model.inputs) != 1 or len(model.outputs) != 1 or len(tuple(model.inputs[0].shape)) != 2:
        return False
    dtype = str(getattr(model.inputs[0], "dtype", "float32"))
    return "int" not in dtype and not any(type(layer).__name__ == "Embedding" for layer in model.layers)


class KerasSource:
    """A Keras 3 model loaded from a `.keras` file."""

    framework = "keras"
    fitted_on_frame = False

    def __init__(self, model: Any, path: Path, classes: list[Any] | None = None) -> None:
        self.model = model
        self.path = path
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise ModelError(f"the model has {len(model.inputs)} inputs and {len(model.outputs)} outputs",
                             where=str(path), fix="edgepack packages Keras models with one input [N, F] and one output")
        in_shape = tuple(model.inputs[0].shape)
        if len(in_shape) != 2 or in_shape[1] is None:
            raise ModelError(f"the model's input has shape {in_shape}; edgepack needs a flat [N, F] input",
                             where=str(path), fix="add a keras.layers.Reshape inside the model for conv layers")
        self.n_features = int(in_shape[1])
        units = int(model.outputs[0].shape[-1])
        self.activation = _last_activation(model)
        if self.activation == "sigmoid" and units == 1:
            self.task, n_classes = "classification", 2
        elif self.activation == "softmax" and units >= 2:
            self.task, n_classes = "classification", units
        elif units == 1:
            self.task, n_classes = "regression", 0
        else:
            raise ModelError(f"cannot tell the task of a model ending in {units} units with {self.activation}",
                             where=str(path), fix="end in Dense(1, sigmoid), Dense(n, softmax) or Dense(1) for regression")
        self.classes: list[Any] = list(range(n_classes)) if classes is None else list(classes)
        if self.task == "classification" and len(self.classes) != n_classes:
            raise ModelError(f"{len(self.classes)} class names given for a model with {n_classes} classes",
                             where=str(path.with_suffix(".classes.json")))

    @classmethod
    def load(cls, path: Path, model: Any = None) -> KerasSource:
        model = load_keras_model(path) if model is None else model
        names = path.with_suffix(".classes.json")
        classes = json.loads(names.read_text()) if names.is_file() else None
        return cls(model, path, classes)

    def describe(self) -> dict[str, Any]:
        import keras

        layers = [type(layer).__name__ for layer in self.model.layers]
        return {
            "framework": self.framework,
            "framework_version": keras.__version__,
            "estimator": f"keras.{type(self.model).__name__}",
            "summary": " > ".join(layers) + f" ({self.model.count_params()} parameters)",
            "family": f"keras_{type(self.model).__name__.lower()}",
        }

    def feature_names(self, sample_columns: list[str]) -> list[str]:
        if len(sample_columns) != self.n_features:
            raise DataError(f"the model takes {self.n_features} features but the sample has {len(sample_columns)} feature columns",
                            fix="pass --label-column for the label, and a sample with exactly the model's inputs in order")
        return list(sample_columns)

    def as_model_input(self, frame: Any) -> np.ndarray:
        try:
            return frame.to_numpy(dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise DataError(f"a Keras model takes numeric features only: {exc}",
                            fix="encode categories as numbers before training and in the sample") from exc

    def raw_output(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model(x, training=False), dtype=np.float64)

    def predict(self, frame: Any) -> dict[str, np.ndarray]:
        out = self.raw_output(self.as_model_input(frame))
        if self.task == "regression":
            return {"value": out.reshape(-1)}
        probs = np.concatenate([1.0 - out, out], axis=1) if self.activation == "sigmoid" else out
        labels = np.asarray(self.classes, dtype=object)[np.argmax(probs, axis=1)]
        return {"probabilities": probs, "label": labels}
