"""libsvm's models (SVC, NuSVC, SVR, NuSVR) as TensorFlow operators, computed as libsvm computes them:
a kernel matrix against the support vectors, one-vs-one decision values (one matrix product with the
dual coefficients of each pair), then scikit-learn's one-vs-rest transform of votes and confidences, or
Platt's sigmoid per pair and libsvm's pairwise coupling (`multiclass_probability`, its iterations
unrolled up to COUPLING_ITERATIONS; a row stops changing where libsvm stops iterating; for two classes as well, as
scikit-learn's libsvm does).

Float32 throughout; the RBF kernel takes the difference of the rows (not |x|^2 - 2 x.s + |s|^2, which
cancels). A vote flips only where a pair's decision value is within float32 rounding of 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...runtime.errors import ModelError
from .columns import Column, transformed_tensor

MIN_PROB = 1e-7  # libsvm's clip of each pairwise probability
# libsvm iterates the coupling up to max(100, k) times and stops a row once its error is below 0.005 / k.
# Every training and held-out row of tests/tabular_zoo.py's SVC cases stops after at most 3 (breast cancer:
# 2, iris: 3). A float32 TFLite + TF.js build of the three-class case took 135 s with 100 unrolled, 27 s
# with 8 (one run each, loaded machine). So 8 are unrolled, and a row still above the limit after them is
# NaN: a visible failure (the build's check, parity), never a silent error.
COUPLING_ITERATIONS = 8


def _kernel(tf: Any, z: Any, model: Any) -> Any:
    sv = model.support_vectors_.astype(np.float32)
    kind = model.kernel
    if kind == "rbf":
        diff = tf.expand_dims(z, 1) - sv[None]
        return tf.math.exp(-np.float32(model._gamma) * tf.reduce_sum(diff * diff, axis=2))
    dot = tf.matmul(z, sv.T)
    if kind == "linear":
        return dot
    inner = np.float32(model._gamma) * dot + np.float32(model.coef0)
    if kind == "sigmoid":
        return tf.math.tanh(inner)
    if kind == "poly":
        out = tf.ones_like(inner)
        for _ in range(int(model.degree)):  # products, not pow: pow of a negative base is NaN in some kernels
            out = out * inner
        return out
    raise ModelError(f"{type(model).__name__}(kernel={kind!r}) is not supported in TFLite/TF.js",
                     fix="use kernel='linear', 'rbf', 'poly' or 'sigmoid'")


def _pair_weights(model: Any) -> np.ndarray:
    """[S, P]: column p holds the dual coefficients of pair p = (i, j), i < j, in libsvm's order."""
    dual = np.atleast_2d(model._dual_coef_)
    n_support = np.asarray(model._n_support)
    start = np.concatenate([[0], np.cumsum(n_support)])
    k = len(n_support)
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    w = np.zeros((dual.shape[1], len(pairs)))
    for p, (i, j) in enumerate(pairs):
        w[start[i]:start[i + 1], p] = dual[j - 1, start[i]:start[i + 1]]
        w[start[j]:start[j + 1], p] = dual[i, start[j]:start[j + 1]]
    return w


def raw_decision(tf: Any, z: Any, model: Any) -> Any:
    """libsvm's decision values [N, P] (pair (i, j) positive for class i); regression: [N, 1]."""
    kernel = _kernel(tf, z, model)
    if not hasattr(model, "classes_"):
        return tf.matmul(kernel, np.atleast_2d(model._dual_coef_).T.astype(np.float32)) + \
            np.asarray(model._intercept_, np.float32)
    return tf.matmul(kernel, _pair_weights(model).astype(np.float32)) + np.asarray(model._intercept_, np.float32)


def decision_function(tf: Any, z: Any, model: Any) -> Any:
    """scikit-learn's decision_function: binary [N] (positive for classes_[1]); multiclass 'ovr' [N, K]."""
    dec = raw_decision(tf, z, model)
    k = len(model.classes_)
    if k == 2:
        return -dec[:, 0]
    if model.decision_function_shape != "ovr":
        raise ModelError(f"{type(model).__name__}(decision_function_shape='ovo') with {k} classes gives one score per "
                         "pair of classes, not per class; TFLite/TF.js packages need one per class",
                         fix="use decision_function_shape='ovr' (the default)")
    votes = [tf.zeros_like(dec[:, 0]) for _ in range(k)]
    confidence = [tf.zeros_like(dec[:, 0]) for _ in range(k)]
    p = 0
    for i in range(k):
        for j in range(i + 1, k):
            d = dec[:, p]
            won = tf.cast(tf.greater_equal(d, 0.0), tf.float32)  # scikit-learn: prediction (dec < 0) == 0 -> i
            votes[i], votes[j] = votes[i] + won, votes[j] + (1.0 - won)
            confidence[i], confidence[j] = confidence[i] + d, confidence[j] - d
            p += 1
    s = tf.stack(confidence, axis=1)
    return tf.stack(votes, axis=1) + s / (3.0 * (tf.abs(s) + 1.0))


def _coupling(tf: Any, r: Any, k: int) -> Any:
    """libsvm's multiclass_probability for r [N, k, k] (r[i, j]: P(i | i or j)), iterations unrolled; a row's
    update is zero once its error is below eps, which is where libsvm breaks out of its loop."""
    eye = np.eye(k, dtype=np.float32)
    rt = tf.transpose(r, [0, 2, 1])  # rt[t, j] = r[j, t]
    off = 1.0 - eye
    q_diag = tf.reduce_sum(rt * rt * off, axis=2)  # Q[t][t] = sum_{j != t} r[j][t]^2
    q = -rt * r * off + tf.expand_dims(q_diag, 2) * eye
    p = tf.ones_like(q_diag) / float(k)
    eps = 0.005 / k

    def error() -> Any:  # libsvm recomputes Qp and pQp at the start of each iteration
        qp = tf.reduce_sum(q * tf.expand_dims(p, 1), axis=2)
        pqp = tf.reduce_sum(p * qp, axis=1)
        return qp, pqp, tf.reduce_max(tf.abs(qp - tf.expand_dims(pqp, 1)), axis=1)

    for _ in range(COUPLING_ITERATIONS):
        qp, pqp, err = error()
        active = tf.cast(tf.greater_equal(err, eps), tf.float32)
        for t in range(k):
            qtt = q[:, t, t]
            diff = active * (pqp - qp[:, t]) / qtt
            p = p + tf.expand_dims(diff, 1) * eye[t]
            pqp = (pqp + diff * (diff * qtt + 2.0 * qp[:, t])) / (1.0 + diff) / (1.0 + diff)
            qp = (qp + tf.expand_dims(diff, 1) * q[:, t, :]) / tf.expand_dims(1.0 + diff, 1)
            p = p / tf.expand_dims(1.0 + diff, 1)
    unfinished = tf.greater_equal(error()[2], eps)
    zero = tf.zeros_like(p)  # NaN made at run time: a NaN constant breaks the quantizing converters
    return tf.where(tf.expand_dims(unfinished, 1), zero / zero, p)


def probabilities(tf: Any, z: Any, model: Any) -> Any:
    """predict_proba: Platt's sigmoid per pair (probA_, probB_), clipped as libsvm clips, then coupled."""
    dec = raw_decision(tf, z, model)
    pairwise = tf.clip_by_value(tf.math.sigmoid(-(dec * model.probA_.astype(np.float32) + model.probB_.astype(np.float32))),
                                MIN_PROB, 1.0 - MIN_PROB)
    k = len(model.classes_)
    # scikit-learn's libsvm couples two classes too (its early stop leaves e.g. 0.6667 where r is 0.6700)
    rows = [[None] * k for _ in range(k)]
    p = 0
    for i in range(k):
        for j in range(i + 1, k):
            rows[i][j], rows[j][i] = pairwise[:, p], 1.0 - pairwise[:, p]
            p += 1
    zero = tf.zeros_like(pairwise[:, 0])
    r = tf.stack([tf.stack([rows[i][j] if i != j else zero for j in range(k)], axis=1) for i in range(k)], axis=1)
    return _coupling(tf, r, k)


def lower(tf: Any, x: Any, cols: list[Column], final: Any, options: dict[str, Any], notes: list[str]) -> Any:
    """The package's output: a regressor's value; predict_proba where the model has it, else the decision
    scores ([-d, d] for binary)."""
    z = transformed_tensor(tf, x, cols)
    notes.append(f"{type(final).__name__}: {final.kernel} kernel, {len(final.support_vectors_)} support vectors")
    if not hasattr(final, "classes_"):
        return raw_decision(tf, z, final)
    if hasattr(final, "predict_proba"):
        return probabilities(tf, z, final)
    d = decision_function(tf, z, final)
    return tf.stack([-d, d], axis=1) if len(final.classes_) == 2 else d
