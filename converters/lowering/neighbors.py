"""KNeighborsClassifier/Regressor (uniform weights, Euclidean distance) as TensorFlow operators: squared
distances to every training row (from the differences, not |x|^2 - 2 x.t + |t|^2, which cancels in
float32), top_k of their negatives, then class counts / k or the mean of the neighbours' targets.

Ties: top_k keeps the lower training index first among equal distances. scikit-learn's tree searches
order equal distances their own way, so where the k-th and (k+1)-th neighbours are at the same distance
(or within float32 rounding of it) with different targets the answers can differ; parity measures it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...runtime.errors import ModelError
from .columns import Column, transformed_tensor


def lower(tf: Any, x: Any, cols: list[Column], final: Any, options: dict[str, Any], notes: list[str]) -> Any:
    name = type(final).__name__
    metric = final.effective_metric_
    if metric not in ("euclidean",) and not (metric == "minkowski" and final.effective_metric_params_.get("p", 2) == 2):
        raise ModelError(f"{name}(metric={final.metric!r}) is not supported in TFLite/TF.js", fix="use the Euclidean metric")
    if final.weights != "uniform":
        raise ModelError(f"{name}(weights={final.weights!r}) is not supported in TFLite/TF.js", fix="use weights='uniform'")
    train = np.asarray(final._fit_X, dtype=np.float32)
    k = int(final.n_neighbors)
    notes.append(f"{name}: {len(train)} training rows, k={k}")
    z = transformed_tensor(tf, x, cols)
    diff = tf.expand_dims(z, 1) - train[None]
    _, nearest = tf.math.top_k(-tf.reduce_sum(diff * diff, axis=2), k=k)
    if hasattr(final, "classes_"):
        onehot = np.eye(len(final.classes_), dtype=np.float32)[np.asarray(final._y).reshape(-1)]
        return tf.reduce_sum(tf.gather(onehot, nearest), axis=1) / float(k)
    targets = np.asarray(final._y, dtype=np.float32).reshape(-1)
    return tf.reduce_mean(tf.gather(targets, nearest), axis=1)
