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

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...runtime.errors import ModelError, UsageError
from ..sources.trees import Ensemble, Tree
from .columns import Column, base_tensor
from .thresholds import bisect, floats, keys
from .tree_ops import choose, ensemble_output, gather_sum, gemm_sum

# the widest range of integer category values a set-membership lookup table spans
MAX_CATEGORY_SPAN = 1 << 16


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
    """Each tree with its thresholds folded: (tree, float32 thresholds, nan_left) per node. At a
    set-membership node the threshold is 0 and nan_left is where a missing value ends up (see
    `category_lookup`)."""
    out = []
    for tree in ens.trees:
        # Leaves never compare (the walks stop there): 0, so that weight quantization (TF.js) sees only
        # real thresholds in its value range.
        thr = np.zeros(len(tree.feature), dtype=np.float32)
        nan_left = np.zeros(len(tree.feature), dtype=bool)
        cats = tree.categories or {}
        for j in np.unique(tree.feature[tree.feature >= 0]):
            nodes = np.array([n for n in np.flatnonzero(tree.feature == j) if int(n) not in cats], dtype=np.int64)
            if len(nodes):
                thr[nodes], nan_left[nodes] = fold(cols[j], tree.threshold[nodes], tree.missing_left[nodes],
                                                   ens.float32_inputs)
        for node, members in cats.items():  # a missing value: imputed (then looked up), or the node's own route
            z = cols[int(tree.feature[node])].chain64(np.array([np.nan]))[0]
            nan_left[node] = bool(tree.missing_left[node]) if np.isnan(z) else bool(np.isin(z, members))
        out.append((tree, thr, nan_left))
    return out


@dataclass(frozen=True)
class CategoryLookup:
    """Set-membership splits as one table: a node's row (0: not a membership node) x the column's encoded
    value - low (integers low..low + span - 1; the last column: any other value) -> 1.0 to go left."""

    low: int
    span: int
    row: list[np.ndarray]  # per tree, per node: its row in `table`
    table: np.ndarray  # [membership nodes + 1, span + 1] float32


def category_lookup(ens: Ensemble, cols: list[Column]) -> CategoryLookup | None:
    """The lookup table of the ensemble's set-membership splits, or None when it has none. A split is
    decided on the column's encoded value (before its steps: only imputation may follow, which leaves
    every number as it is); a value outside the table, or not an integer, is in no set and goes right."""
    members = [(tree, node, m) for tree in ens.trees for node, m in (tree.categories or {}).items()]
    if not members:
        return None
    values = np.concatenate([m for _, _, m in members] or [np.zeros(0)])
    for tree, node, _ in members:
        col = cols[int(tree.feature[node])]
        if col.encode not in ("number", "ordinal") or any(s.kind != "impute" for s in col.steps):
            raise ModelError("a set-membership (categorical) split on a scaled or one-hot column is not supported in "
                             "TFLite/TF.js", fix="pass the categorical column to the estimator as its ordinal codes")
    if len(values) and (np.any(values != np.round(values)) or values.max() - values.min() >= MAX_CATEGORY_SPAN):
        raise ModelError("categorical split values that are not integers within a span of "
                         f"{MAX_CATEGORY_SPAN} are not supported in TFLite/TF.js", fix="encode the categories as 0..k-1")
    low = int(values.min()) if len(values) else 0
    span = (int(values.max()) - low + 1) if len(values) else 1
    table = np.zeros((len(members) + 1, span + 1), dtype=np.float32)
    rows = {id(tree): np.zeros(len(tree.feature), dtype=np.int32) for tree in ens.trees}
    for k, (tree, node, m) in enumerate(members, start=1):
        rows[id(tree)][node] = k
        table[k, :span] = np.isin(np.arange(low, low + span, dtype=np.float64), m)
    return CategoryLookup(low, span, [rows[id(tree)] for tree in ens.trees], table)


def ensemble_tensor(tf: Any, x: Any, cols: list[Column], ens: Ensemble, options: dict[str, Any], notes: list[str]) -> Any:
    """[N, outputs]: the ensemble on the input tensor, thresholds folded into the raw inputs."""
    lookup = category_lookup(ens, cols)
    strategy = choose(ens.trees, str(options.get("tree_strategy", "auto")))
    if lookup is not None and strategy == "gemm":
        if options.get("tree_strategy") == "gemm":
            raise UsageError("tree_strategy gemm has no set-membership (categorical) splits", fix="use gather or auto")
        strategy = "gather"
    notes.append(f"trees: {len(ens.trees)} trees, depth {max(t.depth for t in ens.trees)}, {strategy} strategy"
                 + (", categorical splits by lookup table" if lookup is not None else ""))
    folded = folded_trees(ens, cols)
    base = base_tensor(tf, x, cols)
    raw = gemm_sum(tf, base, folded, ens.n_out) if strategy == "gemm" else gather_sum(tf, base, folded, ens.n_out, lookup)
    return ensemble_output(tf, raw, ens.base, ens.link)
