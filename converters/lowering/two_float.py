"""Linear decision scores in pairs of float32 (hi + lo, about 48 significant bits), for classifiers whose
package output is the decision score itself (LinearSVC, Perceptron, hinge SGD, RidgeClassifier).

Why: a score is not squashed into [0, 1], so float32's relative rounding becomes an absolute error that
grows with the score: hinge SGD on breast cancer scores up to 203, and a float32 graph landed 2.9e-5 from
scikit-learn (input rounding contributed nothing: the CSV's decimals read back exactly). Each scaling
step and every product and sum below is carried with its rounding error (Dekker's TwoSum/TwoProduct with
Veltkamp's split, all from elementwise ADD/SUB/MUL builtins), so the only float32 rounding left is the
output's own: half an ulp, 7.6e-6 at 203. Scores of 256 and more cannot be within 1e-5 in a float32 output.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .columns import Column, base_tensor
from .steps import is_nan

SPLIT = np.float32(4097.0)  # 2^12 + 1: Veltkamp's split of a 24-bit significand into two 12-bit halves
KINDS = {"impute", "sub_div", "mul_add"}


def _pair(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """A float64 array as float32 hi + lo."""
    v = np.asarray(values, dtype=np.float64)
    hi = v.astype(np.float32)
    return hi, (v - hi.astype(np.float64)).astype(np.float32)


def _quick(a: Any, b: Any) -> tuple[Any, Any]:
    s = a + b
    return s, b - (s - a)


def _two_sum(a: Any, b: Any) -> tuple[Any, Any]:
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _split(a: Any) -> tuple[Any, Any]:
    c = SPLIT * a
    hi = c - (c - a)
    return hi, a - hi


def _two_prod(a: Any, b: Any) -> tuple[Any, Any]:
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def add(a: tuple[Any, Any], b: tuple[Any, Any]) -> tuple[Any, Any]:
    s, e = _two_sum(a[0], b[0])
    return _quick(s, e + (a[1] + b[1]))


def mul(a: tuple[Any, Any], b: tuple[Any, Any]) -> tuple[Any, Any]:
    p, e = _two_prod(a[0], b[0])
    return _quick(p, e + (a[0] * b[1] + a[1] * b[0]))


def eligible(cols: list[Column]) -> bool:
    """Columns whose preprocessing is only imputation and affine scaling (no dense block)."""
    return all(c.block is None and {s.kind for s in c.steps} <= KINDS for c in cols)


def _apply(tf: Any, z: tuple[Any, Any], kind: str, steps: list[Any]) -> tuple[Any, Any]:
    a = np.array([s.a for s in steps], dtype=np.float64)
    b = np.array([s.b for s in steps], dtype=np.float64)
    if kind == "impute":
        missing = is_nan(tf, z[0])
        ah, al = _pair(a)
        return tf.where(missing, ah + tf.zeros_like(z[0]), z[0]), tf.where(missing, al + tf.zeros_like(z[1]), z[1])
    if kind == "sub_div":  # (z - a) / b as (z - a) * (1 / b): the same value to ~1e-16 relative
        return mul(add(z, _pair(-a)), _pair(1.0 / b))
    return add(mul(z, _pair(a)), _pair(b))


def columns(tf: Any, x: Any, cols: list[Column]) -> tuple[Any, Any]:
    """[N, F] hi and lo of the preprocessed columns (each column's steps, grouped as columns.py groups them)."""
    base = base_tensor(tf, x, cols)
    groups: dict[tuple[str, ...], list[int]] = {}
    for j, c in enumerate(cols):
        groups.setdefault(tuple(s.kind for s in c.steps), []).append(j)
    his, los, order = [], [], []
    for kinds, members in groups.items():
        v = tf.gather(base, np.array(members, np.int32), axis=1)
        z = (v, tf.zeros_like(v))
        for k, kind in enumerate(kinds):
            z = _apply(tf, z, kind, [cols[j].steps[k] for j in members])
        his.append(z[0])
        los.append(z[1])
        order += members
    back = np.argsort(order).astype(np.int32)
    return tf.gather(tf.concat(his, axis=1), back, axis=1), tf.gather(tf.concat(los, axis=1), back, axis=1)


def linear(tf: Any, x: Any, cols: list[Column], coef: np.ndarray, intercept: np.ndarray) -> Any:
    """[N, K]: z @ coef.T + intercept with z the preprocessed columns, summed in float32 pairs."""
    hi, lo = columns(tf, x, cols)
    coef = np.atleast_2d(coef)  # [K, F]
    products = mul((tf.expand_dims(hi, 1), tf.expand_dims(lo, 1)), _pair(coef[None]))  # [N, K, F]
    ih, il = _pair(np.atleast_1d(intercept))
    total = (ih + tf.zeros_like(products[0][:, :, 0]), il + tf.zeros_like(products[0][:, :, 0]))
    for j in range(coef.shape[1]):
        total = add(total, (products[0][:, :, j], products[1][:, :, j]))
    return total[0] + total[1]
