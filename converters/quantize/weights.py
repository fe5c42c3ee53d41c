"""Shared by the emitters that rewrite weights themselves (quantize/tflite.py, quantize/tfjs.py).

numpy only: the targets import these modules, so nothing here may import the targets (targets/__init__.py
imports every target, and quantize/base.py imports targets/base.py).
"""

from __future__ import annotations

import numpy as np


def quantize_per_channel(weights: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per channel along `axis` (zero point 0, values -127..127): (int8 values, float32
    scale per channel); an all-zero channel gets scale 1."""
    other = tuple(i for i in range(weights.ndim) if i != axis)
    scale = (np.abs(weights).max(axis=other) / 127.0).astype(np.float32)
    scale[scale == 0] = 1.0
    shape = [1] * weights.ndim
    shape[axis] = -1
    q = np.clip(np.round(weights / scale.reshape(shape)), -127, 127).astype(np.int8)
    return q, scale


def with_float32(modes: list[str]) -> str:
    """A target's `variants` option for `modes` when the target always builds float32 (TFLite, TF.js)."""
    return ",".join(["float32", *modes])
