"""scikit-learn pipelines lowered to TensorFlow: preprocessing (columns.py) + one lowering per
estimator family (the FAMILIES table), each a small physical operator in the manner of Hummingbird.

Tree families (read by sources/trees.py) compare the raw inputs with folded thresholds (trees.py, tree_ops.py); linear models and
MLPs run the preprocessing in float32 (their outputs move smoothly with rounding, well inside 1e-5).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ...runtime.errors import ModelError
from ..sources.sklearn import BOOSTERS, TREE_FAMILIES
from ..sources.trees import read
from . import TFGraph, input_spec
from .columns import Column, input_columns, transformed_tensor
from .trees import ensemble_tensor


def _linear(tf: Any, x: Any, cols: list[Column], final: Any, options: dict[str, Any], notes: list[str]) -> Any:
    z = transformed_tensor(tf, x, cols)
    coef = np.atleast_2d(final.coef_).astype(np.float32)  # [K, F]
    out = tf.matmul(z, coef.T) + np.atleast_1d(final.intercept_).astype(np.float32)
    if not hasattr(final, "classes_"):
        return out
    if coef.shape[0] == 1:
        p = tf.math.sigmoid(out)
        return tf.concat([1.0 - p, p], axis=1)
    if getattr(final, "solver", "") == "liblinear":  # one-vs-rest: normalised sigmoids
        p = tf.math.sigmoid(out)
        return p / tf.reduce_sum(p, axis=1, keepdims=True)
    return tf.nn.softmax(out, axis=1)


ACTIVATIONS: dict[str, Callable[[Any, Any], Any]] = {
    "relu": lambda tf, v: tf.nn.relu(v),
    "tanh": lambda tf, v: tf.math.tanh(v),
    "logistic": lambda tf, v: tf.math.sigmoid(v),
    "identity": lambda tf, v: v,
}


def _mlp(tf: Any, x: Any, cols: list[Column], final: Any, options: dict[str, Any], notes: list[str]) -> Any:
    v = transformed_tensor(tf, x, cols)
    layers = list(zip(final.coefs_, final.intercepts_))
    for i, (w, b) in enumerate(layers):
        v = tf.matmul(v, w.astype(np.float32)) + b.astype(np.float32)
        if i < len(layers) - 1:
            v = ACTIVATIONS[final.activation](tf, v)
    out = final.out_activation_
    if out == "logistic":
        p = tf.math.sigmoid(v)
        return tf.concat([1.0 - p, p], axis=1) if hasattr(final, "classes_") else p
    if out == "softmax":
        return tf.nn.softmax(v, axis=1)
    return v


def _trees(tf: Any, x: Any, cols: list[Column], final: Any, options: dict[str, Any], notes: list[str]) -> Any:
    return ensemble_tensor(tf, x, cols, read(final), options, notes)


# final estimator class name -> lowering(tf, x, columns, estimator, options, notes) -> [N, outputs]
FAMILIES: dict[str, Callable[..., Any]] = {
    "LogisticRegression": _linear,
    "LinearRegression": _linear,
    "Ridge": _linear,
    "Lasso": _linear,
    "MLPClassifier": _mlp,
    "MLPRegressor": _mlp,
    **{name: _trees for name in sorted(TREE_FAMILIES)},
    **{name: _trees for name in sorted(BOOSTERS)},  # XGBoost, LightGBM, CatBoost: read by sources/trees.py
}


def lower(source: Any, schema: Any, options: dict[str, Any]) -> TFGraph:
    """The scikit-learn model as a TFGraph. Raises ModelError naming what is not covered."""
    import tensorflow as tf

    final = source.final
    family = FAMILIES.get(type(final).__name__)
    if family is None:
        raise ModelError(f"no TensorFlow lowering for {type(final).__name__}",
                         fix=f"TFLite/TF.js cover: {', '.join(sorted(FAMILIES))}")
    cols = input_columns(source, schema)
    # a booster's own count (CatBoost's n_features_in_ reads 0 after fitting on an array)
    takes = source.ensemble.n_features if source.ensemble is not None else int(getattr(final, "n_features_in_", len(cols)))
    if len(cols) != takes:
        raise ModelError(f"the preprocessing gives {len(cols)} columns but {type(final).__name__} takes {takes}")
    notes: list[str] = []
    regression = source.task == "regression"

    def call(x: Any) -> dict[str, Any]:
        out = family(tf, x, cols, final, options, notes)
        return {"value": tf.reshape(out, [-1])} if regression else {"probabilities": out}

    function = tf.function(call, input_signature=[input_spec(len(schema.features))], autograph=False)
    function.get_concrete_function()  # trace now: lowering errors surface here, notes get filled
    return TFGraph(function=function, features=list(schema.names), outputs=["value" if regression else "probabilities"],
                   notes=notes)
