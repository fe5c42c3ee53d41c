"""The arithmetic of columns.py's elementwise steps, twice: exact float64 numpy (what scikit-learn
computes; trees fold their thresholds through it) and a float32 TensorFlow graph vectorised over the
columns that share a step kind (each column its own constants).

Only TFLite builtins and TF.js cpu/wasm kernels: no Log1p/Expm1/IsNan builtins exist, so log1p and
expm1 use the classic exact-rounding rewrites (Goldberg's log1p, Kahan's expm1) on LOG and EXP, and NaN
is the value unequal to itself. Selects choose between floats (TF.js wasm miscompiles bool selects).
"""

from __future__ import annotations

from typing import Any

import numpy as np

EPS = float(np.spacing(1.0))


def _yeo_johnson64(x: np.ndarray, lam: float) -> np.ndarray:
    from scipy import stats

    return np.asarray(stats.yeojohnson(x, lam), dtype=np.float64)


def _box_cox64(x: np.ndarray, lam: float) -> np.ndarray:
    from scipy.special import boxcox

    return np.asarray(boxcox(x, lam), dtype=np.float64)


def _quantile64(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """QuantileTransformer._transform_col, uniform output, forward."""
    out = 0.5 * (np.interp(x, xp, fp) - np.interp(-x, -xp[::-1], -fp[::-1]))
    out = np.where(x == xp[-1], 1.0, out)
    return np.where(x == xp[0], 0.0, np.where(np.isnan(x), np.nan, out))


def apply64(step: Any, x: np.ndarray) -> np.ndarray:
    """The step on float64 values, as scikit-learn computes it (kinds beyond impute/sub_div/mul_add)."""
    with np.errstate(invalid="ignore"):
        if step.kind == "isnan":
            return np.isnan(x).astype(np.float64)
        if step.kind == "clip":
            return np.clip(x, step.a, step.b)
        if step.kind == "yeo_johnson":
            return _yeo_johnson64(x, step.a)
        if step.kind == "box_cox":
            return _box_cox64(x, step.a)
        if step.kind == "quantile":
            return _quantile64(x, np.asarray(step.table), np.asarray(step.table2))
        if step.kind == "bins":
            return np.where(np.isnan(x), np.nan, np.searchsorted(np.asarray(step.table), x, side="right").astype(np.float64))
        if step.kind == "eq":
            return (x == step.a).astype(np.float64)
        if step.kind == "log1p":
            return np.log1p(x)
        if step.kind == "sqrt":
            return np.sqrt(x)
        if step.kind in ("log", "exp", "abs"):
            return getattr(np, step.kind)(x)
    raise ValueError(f"unknown step kind {step.kind!r}")


# --- float32 graph ------------------------------------------------------------------------------


def is_nan(tf: Any, v: Any) -> Any:
    """NaN test with builtin ops only (TFLite has no IsNan builtin): NaN is the one value unequal to itself."""
    return tf.math.not_equal(v, v)


LN2_HI = 0.693145751953125  # ln 2 in 16 significant bits: e * LN2_HI is exact in float32 for |e| <= 126
LN2_LO = 1.428606765330187e-06  # ln 2 - LN2_HI
POW2_NEG = np.array([2.0 ** -k for k in range(-126, 127)], dtype=np.float32)  # 2^-e at index e + 126, exact


def log(tf: Any, w: Any) -> Any:
    """Natural log to about 2 ulps. TFLite's LOG kernel is off by up to 3.9e-7 absolute (4,096 ulps near
    w = 1; measured with ai-edge-litert on 20,000 values), enough to move log1p's output 4e-6 relative and a
    scaled log feature 1.3e-5 in probability (breast cancer). So: w = m 2^e with e from the coarse LOG and
    2^-e from an exact table, then log m = 2 atanh((m - 1) / (m + 1)) by its series (|s| <= 0.18: six
    terms), plus e ln 2 in two parts. Values outside [2^-126, 2^126], 0, negative and NaN take LOG's own."""
    coarse = tf.math.log(w)
    ok = tf.logical_and(tf.greater_equal(w, float(2.0 ** -126)), tf.less_equal(w, float(2.0 ** 126)))
    safe = tf.where(ok, w, tf.ones_like(w))
    e = tf.clip_by_value(tf.round(tf.math.log(safe) * float(1.0 / np.log(2.0))), -126.0, 126.0)
    m = safe * tf.gather(POW2_NEG, tf.cast(e, tf.int32) + 126)
    s = (m - 1.0) / (m + 1.0)
    z = s * s
    series = tf.ones_like(z) * float(1.0 / 13.0)
    for odd in (11.0, 9.0, 7.0, 5.0, 3.0, 1.0):
        series = series * z + float(1.0 / odd)
    return tf.where(ok, e * LN2_HI + (2.0 * s * series + e * LN2_LO), coarse)


def log1p(tf: Any, v: Any) -> Any:
    """log(1 + v) to a few ulps for small v (Goldberg): log(w) * v / (w - 1) with w = 1 + v."""
    w = 1.0 + v
    d = w - 1.0
    safe = tf.where(tf.equal(d, 0.0), tf.ones_like(d), d)
    return tf.where(tf.equal(d, 0.0), v, log(tf, w) * (v / safe))


def expm1(tf: Any, u: Any) -> Any:
    """exp(u) - 1 to a few ulps for small u (Kahan): (w - 1) * u / log(w) with w = exp(u)."""
    w = tf.math.exp(u)
    lw = log(tf, w)
    safe = tf.where(tf.equal(lw, 0.0), tf.ones_like(lw), lw)
    return tf.where(tf.equal(w, 1.0), u, tf.where(tf.equal(lw, 0.0), w - 1.0, (w - 1.0) * (u / safe)))


def _f32(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def _where_nan(tf: Any, v: Any, out: Any) -> Any:
    return tf.where(is_nan(tf, v), v, out)


def _yeo_johnson(tf: Any, v: Any, lam: np.ndarray) -> Any:
    zero, two = np.abs(lam) < EPS, np.abs(lam - 2.0) <= EPS
    lam_pos = _f32(np.where(zero, 1.0, lam))
    lam_neg = _f32(np.where(two, 1.0, 2.0 - lam))
    lp = log1p(tf, tf.maximum(v, 0.0))
    ln = log1p(tf, tf.maximum(-v, 0.0))
    pos = tf.where(zero, lp, expm1(tf, lp * _f32(lam)) / lam_pos)
    neg = tf.where(two, -ln, -expm1(tf, ln * _f32(2.0 - lam)) / lam_neg)
    return _where_nan(tf, v, tf.where(tf.greater_equal(v, 0.0), pos, neg))


def _box_cox(tf: Any, v: Any, lam: np.ndarray) -> Any:
    zero = np.abs(lam) < 1e-19  # scipy.special.boxcox's own cut
    lv = log(tf, v)
    return tf.where(zero, lv, expm1(tf, lv * _f32(lam)) / _f32(np.where(zero, 1.0, lam)))


def _padded(tables: list[tuple[float, ...]]) -> np.ndarray:
    """Tables of one group as [m, width], each padded by repeating its last value (interp unchanged)."""
    width = max(len(t) for t in tables)
    return np.array([list(t) + [t[-1]] * (width - len(t)) for t in tables], dtype=np.float64)


def interp(tf: Any, v: Any, xp: np.ndarray, fp: np.ndarray) -> Any:
    """np.interp per column: v [N, m], xp/fp [m, Q] increasing xp; clamped outside [xp[0], xp[-1]]."""
    m, q = xp.shape
    xp32 = _f32(xp)
    # i: the last knot <= v (np.interp's search), kept inside [0, Q - 2]
    count = tf.reduce_sum(tf.cast(tf.greater_equal(tf.expand_dims(v, 2), xp32[None]), tf.float32), axis=2)
    i = tf.cast(tf.clip_by_value(count - 1.0, 0.0, float(q - 2)), tf.int32) + np.arange(m, dtype=np.int32)[None] * q
    x0, x1 = tf.gather(xp32.reshape(-1), i), tf.gather(xp32.reshape(-1), i + 1)
    y0, y1 = tf.gather(_f32(fp).reshape(-1), i), tf.gather(_f32(fp).reshape(-1), i + 1)
    span = x1 - x0
    t = tf.where(tf.greater(span, 0.0), (v - x0) / tf.where(tf.greater(span, 0.0), span, tf.ones_like(span)), tf.zeros_like(v))
    out = y0 + tf.clip_by_value(t, 0.0, 1.0) * (y1 - y0)
    out = tf.where(tf.less(v, xp32[:, 0]), _f32(fp[:, 0]) + tf.zeros_like(v), out)
    return tf.where(tf.greater_equal(v, xp32[:, -1]), _f32(fp[:, -1]) + tf.zeros_like(v), out)


def _quantile(tf: Any, v: Any, xp: np.ndarray, fp: np.ndarray) -> Any:
    out = 0.5 * (interp(tf, v, xp, fp) - interp(tf, -v, -xp[:, ::-1], -fp[:, ::-1]))
    out = tf.where(tf.equal(v, _f32(xp[:, -1])), tf.ones_like(v), out)
    return _where_nan(tf, v, tf.where(tf.equal(v, _f32(xp[:, 0])), tf.zeros_like(v), out))


def tensor(tf: Any, v: Any, kind: str, steps: list[Any]) -> Any:
    """One step kind applied to v [N, m], column j with steps[j]'s constants, in float32."""
    a = _f32([s.a for s in steps])
    b = _f32([s.b for s in steps])
    if kind == "impute":
        return tf.where(is_nan(tf, v), a, v)
    if kind == "sub_div":
        return (v - a) / b
    if kind == "mul_add":
        return v * a + b
    if kind == "isnan":
        return tf.cast(is_nan(tf, v), tf.float32)
    if kind == "clip":  # comparisons, not min/max: NaN stays NaN as in np.clip
        return tf.where(tf.greater(v, b), b + tf.zeros_like(v), tf.where(tf.less(v, a), a + tf.zeros_like(v), v))
    if kind == "yeo_johnson":
        return _yeo_johnson(tf, v, np.array([s.a for s in steps]))
    if kind == "box_cox":
        return _box_cox(tf, v, np.array([s.a for s in steps]))
    if kind == "quantile":
        return _quantile(tf, v, _padded([s.table for s in steps]), _padded([s.table2 for s in steps]))
    if kind == "bins":
        big = float(np.finfo(np.float32).max)  # padding edge no value reaches (no infinities: int8 quantizer)
        edges = _f32([list(s.table) + [big] * (max(len(t.table) for t in steps) - len(s.table)) for s in steps])
        if edges.shape[1] == 0:
            return _where_nan(tf, v, tf.zeros_like(v))
        count = tf.reduce_sum(tf.cast(tf.less_equal(edges[None], tf.expand_dims(v, 2)), tf.float32), axis=2)
        return _where_nan(tf, v, count)
    if kind == "eq":
        return tf.cast(tf.equal(v, a), tf.float32)
    if kind == "log1p":
        return log1p(tf, v)
    if kind == "sqrt":
        return tf.math.sqrt(v)
    if kind == "log":
        return log(tf, v)
    if kind in ("exp", "abs"):
        return getattr(tf.math, kind)(v)
    raise ValueError(f"unknown step kind {kind!r}")
