"""GaussianNB, MultinomialNB and BernoulliNB as TensorFlow operators: each class's joint log likelihood
as scikit-learn writes it (constants folded in float64), then a softmax (predict_proba is
exp(jll - logsumexp(jll)))."""

from __future__ import annotations

from typing import Any

import numpy as np

from .columns import Column, base_tensor, transformed_tensor
from .tree_ops import decisions
from .trees import fold


def _binarized(tf: Any, x: Any, cols: list[Column], threshold: float) -> Any:
    """1.0 where scikit-learn's float64 preprocessed value is > threshold. The threshold is folded into each
    column's raw input space as tree splits are (trees.fold): imputed rows sit at (mean - mean) / scale,
    whose sign is float64 rounding noise that a float32 graph would not reproduce. Columns of a dense
    block (PCA...) compare in float32."""
    if any(c.block is not None for c in cols):
        return tf.cast(tf.greater(transformed_tensor(tf, x, cols), np.float32(threshold)), tf.float32)
    folded = [fold(c, np.array([threshold]), np.array([False]), False) for c in cols]
    limits = np.array([t[0][0] for t in folded], np.float32)
    nan_left = np.array([t[1][0] for t in folded], np.float32)
    return 1.0 - decisions(tf, [base_tensor(tf, x, cols)], [limits], nan_left)


def joint_log_likelihood(tf: Any, z: Any, model: Any) -> Any:
    name = type(model).__name__
    if name == "GaussianNB":
        # -0.5 sum(((x - theta) / sigma)^2) + log prior - 0.5 sum(log(2 pi var)), per class
        const = np.log(model.class_prior_) - 0.5 * np.sum(np.log(2.0 * np.pi * model.var_), axis=1)
        scaled = (tf.expand_dims(z, 1) - model.theta_.astype(np.float32)[None]) / np.sqrt(model.var_).astype(np.float32)[None]
        return -0.5 * tf.reduce_sum(scaled * scaled, axis=2) + const.astype(np.float32)
    if name == "MultinomialNB":
        return tf.matmul(z, model.feature_log_prob_.T.astype(np.float32)) + model.class_log_prior_.astype(np.float32)
    neg = np.log(1.0 - np.exp(model.feature_log_prob_))
    weights = (model.feature_log_prob_ - neg).T.astype(np.float32)
    return tf.matmul(z, weights) + (model.class_log_prior_ + neg.sum(axis=1)).astype(np.float32)


def lower(tf: Any, x: Any, cols: list[Column], final: Any, options: dict[str, Any], notes: list[str]) -> Any:
    binarize = type(final).__name__ == "BernoulliNB" and final.binarize is not None
    z = _binarized(tf, x, cols, float(final.binarize)) if binarize else transformed_tensor(tf, x, cols)
    return tf.nn.softmax(joint_log_likelihood(tf, z, final), axis=1)
