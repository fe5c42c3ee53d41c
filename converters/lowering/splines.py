"""SplineTransformer as one dense block: each feature's B-spline basis evaluated by de Boor's triangular
recursion over the knot interval the value falls in (the k + 1 bases that are not zero there), written
into its n_splines columns, then scikit-learn's extrapolation outside [t[k], t[-k-1]]: `constant` (the
first/last k bases at their boundary values, the others 0), `linear` (boundary value + slope), or
`continue` (the end polynomials). NaN gives zeros (handle_missing='zeros'). Float32 throughout: each
basis is a value in [0, 1] from a few products, within ~1e-7 of scipy's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ...runtime.errors import ModelError
from .steps import is_nan

EXTRAPOLATIONS = ("constant", "linear", "continue")


def _bases(tf: Any, v: Any, knots: np.ndarray, k: int) -> list[Any]:
    """[N, F] values -> the k + 1 nonzero bases per value ([N, F] each) and the interval index i [N, F]."""
    f, m = knots.shape
    n = m - k - 1
    t32 = knots.astype(np.float32)
    count = tf.reduce_sum(tf.cast(tf.less_equal(t32[None], tf.expand_dims(v, 2)), tf.float32), axis=2)
    i = tf.cast(tf.clip_by_value(count - 1.0, float(k), float(n - 1)), tf.int32)  # scipy's interval, clamped
    flat, offset = t32.reshape(-1), np.arange(f, dtype=np.int32)[None] * m

    def knot(shift: int) -> Any:
        return tf.gather(flat, i + shift + offset)

    left = [None] + [v - knot(1 - j) for j in range(1, k + 1)]
    right = [None] + [knot(j) - v for j in range(1, k + 1)]
    basis = [tf.ones_like(v)]
    for j in range(1, k + 1):
        saved = tf.zeros_like(v)
        for r in range(j):
            denom = right[r + 1] + left[j - r]  # 0 across a repeated knot (quantile knots of a binary column)
            temp = tf.where(tf.equal(denom, 0.0), tf.zeros_like(v), basis[r] / tf.where(tf.equal(denom, 0.0), tf.ones_like(v), denom))
            basis[r] = saved + right[r + 1] * temp
            saved = left[j - r] * temp
        basis.append(saved)
    return [*basis, i]


def basis(step: Any) -> tuple[int, Callable[[Any, Any], Any]]:
    """(output width, fn(tf, v [N, F] preprocessed inputs) -> [N, width]), for columns.py to wrap in a Block.
    Raises ModelError for settings not covered."""
    if step.extrapolation not in EXTRAPOLATIONS or step.sparse_output:
        raise ModelError(f"SplineTransformer(extrapolation={step.extrapolation!r}, sparse_output={step.sparse_output}) "
                         "is not supported in TFLite/TF.js",
                         fix=f"use extrapolation in {EXTRAPOLATIONS} with dense output")
    k = int(step.degree)
    splines = step.bsplines_
    knots = np.stack([s.t for s in splines])
    n = knots.shape[1] - k - 1
    lo, hi = knots[:, k], knots[:, -k - 1]
    f_lo = np.stack([s(x) for s, x in zip(splines, lo)])  # [F, n]
    f_hi = np.stack([s(x) for s, x in zip(splines, hi)])
    d_lo = np.stack([s(x, nu=1) for s, x in zip(splines, lo)])
    d_hi = np.stack([s(x, nu=1) for s, x in zip(splines, hi)])
    kept = [c for c in range(n) if step.include_bias or c != n - 1]  # include_bias=False drops each feature's last
    mode = step.extrapolation
    reach = (k if mode == "constant" else max(k, 2)) if mode != "continue" else 0

    features = knots.shape[0]

    def op(tf: Any, v: Any) -> Any:
        zero = tf.zeros_like(v)
        nan = is_nan(tf, v)
        safe = tf.where(nan, zero + lo.astype(np.float32), v)
        *basis, i = _bases(tf, safe, knots, k)
        below, above = tf.less(safe, lo.astype(np.float32)), tf.greater(safe, hi.astype(np.float32))
        out = []
        for c in range(n):
            inside = zero
            for r, b in enumerate(basis):  # basis r is spline i - k + r
                inside = inside + tf.where(tf.equal(i, c + k - r), b, zero)
            if mode != "continue":
                low = high = zero
                if c < reach:
                    low = zero + f_lo[:, c].astype(np.float32)
                    if mode == "linear":
                        low = low + (safe - lo.astype(np.float32)) * d_lo[:, c].astype(np.float32)
                if c >= n - reach:
                    high = zero + f_hi[:, c].astype(np.float32)
                    if mode == "linear":
                        high = high + (safe - hi.astype(np.float32)) * d_hi[:, c].astype(np.float32)
                inside = tf.where(below, low, tf.where(above, high, inside))
            out.append(tf.where(nan, zero, inside))
        cols = tf.stack([out[c] for c in kept], axis=2)  # [N, F, kept]
        return tf.reshape(cols, [-1, features * len(kept)])

    return features * len(kept), op
