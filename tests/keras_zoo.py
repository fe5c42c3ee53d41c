"""Small Keras 3 models for the TFLite/TF.js/ONNX matrix: each trained from a seed on the churn data's
numeric columns and saved as a `.keras` file with its sample CSV. Tiny on purpose (seconds to train)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import zoo

COLUMNS = ["tenure_months", "senior_citizen", "monthly_charges", "total_charges", "support_calls", "data_gb"]
KERAS_FAMILIES = ["keras_mlp_softmax", "keras_conv1d_sigmoid", "keras_functional_regression"]


def _frame() -> Any:
    frame = zoo.churn_frame().dropna(subset=COLUMNS).reset_index(drop=True)
    frame["plan"] = (frame.monthly_charges > 70).astype(int) + (frame.tenure_months > 24).astype(int)
    return frame


def _normalizer(x: np.ndarray) -> Any:
    import keras

    norm = keras.layers.Normalization()
    norm.adapt(x)
    return norm


def _mlp_softmax(x: np.ndarray) -> Any:
    import keras

    return keras.Sequential([keras.Input((x.shape[1],)), _normalizer(x), keras.layers.Dense(16, activation="tanh"),
                             keras.layers.Dense(3, activation="softmax")])


def _conv1d_sigmoid(x: np.ndarray) -> Any:
    import keras

    return keras.Sequential([keras.Input((x.shape[1],)), _normalizer(x), keras.layers.Reshape((x.shape[1], 1)),
                             keras.layers.Conv1D(4, 3, activation="relu"), keras.layers.Flatten(),
                             keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1, activation="sigmoid")])


def _functional_regression(x: np.ndarray) -> Any:
    import keras

    inp = keras.Input((x.shape[1],))
    h = keras.layers.Dense(16, activation="relu")(_normalizer(x)(inp))
    out = keras.layers.Dense(1)(keras.layers.Concatenate()([h, keras.layers.Dense(4, activation="sigmoid")(h)]))
    return keras.Model(inp, out)


# name -> (builder, label column, loss)
BUILDERS: dict[str, tuple[Callable[[np.ndarray], Any], str, str]] = {
    "keras_mlp_softmax": (_mlp_softmax, "plan", "sparse_categorical_crossentropy"),
    "keras_conv1d_sigmoid": (_conv1d_sigmoid, "churn", "binary_crossentropy"),
    "keras_functional_regression": (_functional_regression, "revenue", "mse"),
}


def make(name: str, directory: Path, epochs: int = 3) -> tuple[Path, Path, Any, str]:
    """Train, save (.keras + sample CSV) and return (model path, sample path, holdout frame, label)."""
    import keras

    keras.utils.set_random_seed(0)
    build, label, loss = BUILDERS[name]
    frame = _frame()
    split = int(len(frame) * 0.7)
    train, holdout = frame.iloc[:split], frame.iloc[split:]
    x = train[COLUMNS].to_numpy(np.float32)
    model = build(x)
    model.compile("adam", loss)
    model.fit(x, train[label].to_numpy(np.float32), epochs=epochs, batch_size=64, verbose=0)
    directory.mkdir(parents=True, exist_ok=True)
    model_path, sample_path = directory / f"{name}.keras", directory / f"{name}_sample.csv"
    model.save(model_path)
    train[COLUMNS + [label]].to_csv(sample_path, index=False)
    return model_path, sample_path, holdout[COLUMNS + [label]].reset_index(drop=True), label
