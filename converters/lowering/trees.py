"""Tree ensembles (read by converters/sources/trees.py) with split thresholds folded into each column's
own encoded space, for the TensorFlow graph.

Why fold: scikit-learn scales features in float64, then (DecisionTree*, RandomForest*, ExtraTrees*,
GradientBoosting*) casts to float32 and compares with float64 thresholds, or (HistGradientBoosting*)
compares the float64 values directly. A float32 graph that scaled first would land a few ulps off and
flip splits that sit on a value. Instead, for each split we search (in float64, bit by bit over float32
values) the largest float32 input value that scikit-learn sends left, and compare the raw float32 input
with it: the graph decides exactly as scikit-learn does for every float32 input, each read as the shortest decimal
that rounds to it (the value a CSV or JSON record carries: a split that sits exactly on a data value,
common in HistGradientBoosting's quantile bins, is decided as scikit-learn decides for that value).
Missing values take
the branch scikit-learn takes for NaN (after its imputer, or the tree's own missing-value routing).
"""

from __future__ import annotations

import numpy as np

from ...runtime.errors import ModelError
from ..sources.trees import Ensemble, Tree
from .columns import Column
from .thresholds import bisect, floats, keys


def as_decimal(values: np.ndarray) -> np.ndarray:
    """float32 values read as the shortest decimal that rounds to each (what JSON and CSV writers
    produce, so the float64 value scikit-learn saw), as float64. Monotone, so searches stay valid."""
    return np.asarray(values.astype(np.float32).astype(str), dtype=np.float64)


def _goes_left(col: Column, base: np.ndarray, threshold: np.ndarray, float32_inputs: bool) -> np.ndarray:
    z = col.chain64(as_decimal(base))
    if float32_inputs:
        z = z.astype(np.float32).astype(np.float64)
    return z <= threshold


def fold(col: Column, thresholds: np.ndarray, missing_left: np.ndarray, float32_inputs: bool
         ) -> tuple[np.ndarray, np.ndarray]:
    """(float32 thresholds T in the column's base space, NaN-goes-left flags) such that for every
    float32 base value v, scikit-learn sends v left exactly when v <= T."""
    if col.block is not None:
        raise ModelError(f"a tree model after {col.block.name} is not supported in TFLite/TF.js (its float32 "
                         "arithmetic mixes columns, so split thresholds cannot be moved to the input exactly)",
                         fix="use the ONNX target")
    if not all(s.increasing for s in col.steps):
        raise ModelError("a decreasing scaling step before a tree is not supported in TFLite/TF.js")
    n = len(thresholds)
    nan_z = col.chain64(np.full(n, np.nan))
    nan_left = np.where(np.isnan(nan_z), missing_left, _goes_left(col, np.full(n, np.nan), thresholds, float32_inputs))
    lo = np.full(n, keys(np.array([-np.inf]))[0])
    hi = np.full(n, keys(np.array([np.inf]))[0])
    left_lo = _goes_left(col, floats(lo), thresholds, float32_inputs)
    left_hi = _goes_left(col, floats(hi), thresholds, float32_inputs)
    out = floats(bisect(lambda v: _goes_left(col, v, thresholds, float32_inputs), lo, hi, np.float32))
    # Records never hold infinities, so the largest finite float32 stands for "always left" (and its
    # negative for "never"): infinite constants crash TFLite's int8 quantizer.
    big = np.finfo(np.float32).max
    out = np.where(left_hi, big, np.where(left_lo, np.clip(out, -big, big), -big))
    return out.astype(np.float32), nan_left.astype(bool)


def folded_trees(ens: Ensemble, cols: list[Column]) -> list[tuple[Tree, np.ndarray, np.ndarray]]:
    """Each tree with its thresholds folded: (tree, float32 thresholds, nan_left) per node."""
    out = []
    for tree in ens.trees:
        # Leaves never compare (the walks stop there): 0, so that weight quantization (TF.js) sees only
        # real thresholds in its value range.
        thr = np.zeros(len(tree.feature), dtype=np.float32)
        nan_left = np.zeros(len(tree.feature), dtype=bool)
        for j in np.unique(tree.feature[tree.feature >= 0]):
            nodes = np.flatnonzero(tree.feature == j)
            thr[nodes], nan_left[nodes] = fold(cols[j], tree.threshold[nodes], tree.missing_left[nodes], ens.float32_inputs)
        out.append((tree, thr, nan_left))
    return out
