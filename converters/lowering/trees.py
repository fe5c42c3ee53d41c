"""Tree ensembles (read by converters/sources/trees.py) with split thresholds folded into each column's
own encoded space, for the TensorFlow graph.

Why fold: scikit-learn scales features in float64, then (DecisionTree*, RandomForest*, ExtraTrees*,
GradientBoosting*) casts to float32 and compares with float64 thresholds, or (HistGradientBoosting*)
compares the float64 values directly. A float32 graph that scaled first would land a few ulps off and
flip splits that sit on a value. Instead, per split, a bisection over the ordered input values finds the
largest one scikit-learn sends left (running its own float64 steps), and the graph compares the raw input
with it. Missing values take the branch scikit-learn takes for NaN (after its imputer, or the tree's own
missing-value routing).

Two input encodings (decided per model by `needs_parts`):
- float32 [N, F], thresholds float32 (`fold`): for models whose every split reads a value a float32
  carries exactly: a casting family on raw (or only imputed) numbers, where scikit-learn's own cast gives
  the input's float32, and encoded category codes (small integers). Exact for every double input there.
- float64 parts [N, F, 3] (runtime/records.py `float64_parts`), thresholds as the three parts of the
  largest double the source sends left (`fold_parts`: the same bisection over the ordered doubles),
  compared lexicographically (tree_ops.decisions): for models that decide on float64 values
  (HistGradientBoosting, any `float32_inputs=False` reader) or cast a value scaled in float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...runtime.errors import ModelError, UsageError
from ...runtime.records import float64_parts
from ..sources.trees import Ensemble, Tree
from .columns import Column, base_parts, base_tensor
from .thresholds import bisect, floats, keys
from .tree_ops import choose, ensemble_output, gather_sum, gemm_sum

# the widest range of integer category values a set-membership lookup table spans
MAX_CATEGORY_SPAN = 1 << 16

_BIG = float(np.finfo(np.float32).max)


def _goes_left(col: Column, base: np.ndarray, threshold: np.ndarray, float32_inputs: bool) -> np.ndarray:
    z = col.chain64(base.astype(np.float64))
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


def needs_parts(ens: Ensemble, cols: list[Column]) -> bool:
    """True when some split decides on a float64 value that a float32 input cannot carry: the library
    compares float64 values (HistGradientBoosting; `float32_inputs` False), or it casts a value that
    scaling computed in float64 from the raw input (a raw double one step from the boundary scales to a
    different float32 than its own float32 rounding does). A casting family reading raw (or only imputed)
    numbers sees exactly the float32 input's value, and category codes are small integers: float32 inputs
    are exact there and cost nothing more."""
    used = {int(j) for tree in ens.trees for j in np.unique(tree.feature[tree.feature >= 0])}
    numbers = [cols[j] for j in used if cols[j].encode == "number"]
    if not ens.float32_inputs:
        return bool(numbers)
    return any(step.kind != "impute" for col in numbers for step in col.steps)


def fold_parts(col: Column, thresholds: np.ndarray, float32_inputs: bool) -> np.ndarray:
    """[n, 3] float32: the three parts (float64_parts) of the largest double the source sends left, per
    split on a number column, for the graph's lexicographic comparison (exact for every double input)."""
    def goes_left(x: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            z = col.chain64(x)
            if float32_inputs:
                z = z.astype(np.float32).astype(np.float64)
        return z <= thresholds

    n = len(thresholds)
    big = np.finfo(np.float64).max
    lo = np.full(n, keys(np.array(-big), np.float64), dtype=np.int64)
    hi = np.full(n, keys(np.array(big), np.float64), dtype=np.int64)
    every, none = goes_left(np.full(n, big)), ~goes_left(np.full(n, -big))
    out = float64_parts(floats(bisect(goes_left, lo, hi, np.float64), np.float64))
    # "Always left"/"never left" as the extreme parts: float64_parts carries any number beyond float32's
    # range as (+-max, 0, 0), which these bound (infinite constants crash TFLite's int8 quantizer).
    out[every] = _BIG
    out[none & ~every] = -_BIG
    return out


def folded_trees(ens: Ensemble, cols: list[Column], parts: bool = False) -> list[tuple[Tree, np.ndarray, np.ndarray]]:
    """Each tree with its thresholds folded: (tree, float32 thresholds [nodes, 1], or [nodes, 3] parts
    when `parts`, nan_left) per node. With parts, a split on an encoded category column keeps its float32
    threshold as (T, 0, 0): the graph's residual parts of a category code are 0. At a set-membership node
    the threshold is 0 and nan_left is where a missing value ends up (see `category_lookup`)."""
    out = []
    width = 3 if parts else 1
    for tree in ens.trees:
        # Leaves never compare (the walks stop there): 0, so that weight quantization (TF.js) sees only
        # real thresholds in its value range.
        thr = np.zeros((len(tree.feature), width), dtype=np.float32)
        nan_left = np.zeros(len(tree.feature), dtype=bool)
        cats = tree.categories or {}
        for j in np.unique(tree.feature[tree.feature >= 0]):
            nodes = np.array([n for n in np.flatnonzero(tree.feature == j) if int(n) not in cats], dtype=np.int64)
            if not len(nodes):
                continue
            thr[nodes, 0], nan_left[nodes] = fold(cols[j], tree.threshold[nodes], tree.missing_left[nodes], ens.float32_inputs)
            if parts and cols[j].encode == "number":
                thr[nodes] = fold_parts(cols[j], tree.threshold[nodes], ens.float32_inputs)
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
    """[N, outputs]: the ensemble on the input tensor, thresholds folded into the raw inputs. A [N, F, 3]
    input carries float64 parts (the lowering's input_dtype chose them with `needs_parts`)."""
    lookup = category_lookup(ens, cols)
    strategy = choose(ens.trees, str(options.get("tree_strategy", "auto")))
    if lookup is not None and strategy == "gemm":
        if options.get("tree_strategy") == "gemm":
            raise UsageError("tree_strategy gemm has no set-membership (categorical) splits", fix="use gather or auto")
        strategy = "gather"
    parts = len(x.shape) == 3
    notes.append(f"trees: {len(ens.trees)} trees, depth {max(t.depth for t in ens.trees)}, {strategy} strategy"
                 + (", float64 inputs as three float32 parts" if parts else "")
                 + (", categorical splits by lookup table" if lookup is not None else ""))
    folded = folded_trees(ens, cols, parts)
    base = base_parts(tf, x, cols) if parts else [base_tensor(tf, x, cols)]
    raw = gemm_sum(tf, base, folded, ens.n_out) if strategy == "gemm" else gather_sum(tf, base, folded, ens.n_out, lookup)
    return ensemble_output(tf, raw, ens.base, ens.link)
