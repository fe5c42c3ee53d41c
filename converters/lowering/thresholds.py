"""Split thresholds moved exactly: floats as ordered integer keys, and one bisection over them.

A float's bits, read as a sign-magnitude integer and turned into two's complement, order exactly like
the floats (-0 and +0 share key 0). Bisecting over keys walks every representable value, so for any
monotone "goes left" test (a column's scaling followed by the model's comparison) it finds the largest
value that goes left in at most 64 steps. The TensorFlow lowering bisects over float32 inputs, the Core
ML trees over double inputs; both use these functions.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_INT = {np.dtype(np.float32): np.int32, np.dtype(np.float64): np.int64}
_SIGN = {np.dtype(np.float32): np.int64(0x80000000), np.dtype(np.float64): np.int64(-(2**63))}


def keys(values: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """Floats (cast to dtype) -> int64 keys in the same order."""
    bits = np.asarray(values).astype(dtype).view(_INT[np.dtype(dtype)]).astype(np.int64)
    magnitude = bits & np.int64(np.iinfo(_INT[np.dtype(dtype)]).max)
    return np.where(bits >= 0, bits, -magnitude)


def floats(k: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """int64 keys -> the floats of dtype they stand for."""
    k = np.asarray(k, dtype=np.int64)
    sign = _SIGN[np.dtype(dtype)]
    if np.dtype(dtype) == np.float32:
        return np.where(k >= 0, k, (-k) | sign).astype(np.uint32).view(np.float32)
    return np.where(k >= 0, k, (-k) | sign).astype(np.int64).view(np.float64)


def bisect(goes_left: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray, dtype: type) -> np.ndarray:
    """The largest key in [lo, hi) whose float goes left, per element, given that lo goes left and hi
    goes right (the caller checks both ends) and that going left is monotone in the value."""
    lo, hi = np.array(lo, dtype=np.int64), np.array(hi, dtype=np.int64)
    for _ in range(70):
        mid = (lo >> 1) + (hi >> 1) + (lo & hi & 1)  # floor((lo + hi) / 2) without int64 overflow
        if np.all(mid == lo):  # hi - lo <= 1 everywhere (hi - lo itself may overflow int64)
            break
        left = goes_left(floats(mid, dtype))
        lo = np.where(left, mid, lo)
        hi = np.where(left, hi, mid)
    return lo


def float32_cast_thresholds(t: np.ndarray) -> np.ndarray:
    """For float64 thresholds t, the float64 T with: x <= T exactly when float32(x) <= t (round to
    nearest, ties to even), for every double x. Thresholds beyond float32's range map to +inf."""
    t = np.asarray(t, dtype=np.float64)
    with np.errstate(over="ignore"):
        f = t.astype(np.float32)
    f = np.where(f.astype(np.float64) > t, np.nextafter(f, np.float32(-np.inf)), f).astype(np.float32)
    g = np.nextafter(f, np.float32(np.inf))
    mid = (f.astype(np.float64) + g.astype(np.float64)) / 2.0  # exact: float32 midpoints are doubles
    even = (f.view(np.int32) & 1) == 0  # a tie rounds to the even neighbour
    out = np.where(even, mid, np.nextafter(mid, -np.inf))
    return np.where(np.isinf(g) & (g > 0), np.inf, out)
