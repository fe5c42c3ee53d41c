"""Tree ensembles (decision trees, forests, extra trees, gradient boosting, histogram gradient boosting)
as plain arrays, with split thresholds folded into each column's own encoded space.

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

from ...runtime.errors import ModelError
from .columns import Column


@dataclass
class Tree:
    """One tree: node arrays (leaves have feature -1). value: [nodes, outputs] float64."""

    feature: np.ndarray
    threshold: np.ndarray  # float64, in the estimator's input space
    missing_left: np.ndarray  # bool: where NaN goes when it reaches the tree itself
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray

    @property
    def depth(self) -> int:
        depth = np.zeros(len(self.feature), dtype=np.int64)
        for node in range(len(self.feature)):  # children always come after their parent
            if self.feature[node] >= 0:
                depth[self.left[node]] = depth[self.right[node]] = depth[node] + 1
        return int(depth.max())


@dataclass
class Ensemble:
    """sum(tree values) + base, then `link` (identity, sigmoid, softmax, exp) -> the package output."""

    trees: list[Tree]
    base: np.ndarray  # [outputs]
    link: str
    float32_inputs: bool  # scikit-learn casts the estimator's input to float32 before comparing


def _sklearn_tree(tree: Any, scale: float, out_index: int | None = None, n_out: int = 1, normalize: bool = False) -> Tree:
    t = tree.tree_
    value = t.value[:, 0, :].astype(np.float64)
    if normalize:  # classifier trees: class fractions, as predict_proba normalises them
        value = value / np.maximum(value.sum(axis=1, keepdims=True), 1e-300)
    value = value * scale
    if out_index is not None:  # one output of a multi-output sum (gradient boosting's per-class trees)
        full = np.zeros((len(value), n_out))
        full[:, out_index] = value[:, 0]
        value = full
    missing = getattr(t, "missing_go_to_left", np.zeros(t.node_count, dtype=np.uint8)).astype(bool)
    return Tree(t.feature.astype(np.int64), t.threshold.astype(np.float64), missing,
                t.children_left.astype(np.int64), t.children_right.astype(np.int64), value)


def _hist_tree(predictor: Any, out_index: int, n_out: int) -> Tree:
    nodes = predictor.nodes
    if nodes["is_categorical"].any():
        raise ModelError("HistGradientBoosting with categorical_features is not supported in TFLite/TF.js yet",
                         fix="encode categories with OrdinalEncoder in the pipeline instead")
    leaf = nodes["is_leaf"].astype(bool)
    value = np.zeros((len(nodes), n_out))
    value[:, out_index] = np.where(leaf, nodes["value"], 0.0)
    return Tree(np.where(leaf, -1, nodes["feature_idx"]).astype(np.int64), nodes["num_threshold"].astype(np.float64),
                nodes["missing_go_to_left"].astype(bool), nodes["left"].astype(np.int64), nodes["right"].astype(np.int64),
                value)


def _link(final: Any) -> str:
    link = type(final._loss.link).__name__
    links = {"IdentityLink": "identity", "LogitLink": "sigmoid", "MultinomialLogit": "softmax",
             "SymmetricMultinomialLogit": "softmax", "LogLink": "exp"}
    if link not in links:
        raise ModelError(f"{type(final).__name__} with link {link} is not supported in TFLite/TF.js yet")
    return links[link]


def ensemble_of(final: Any) -> Ensemble:
    """The fitted tree model as an Ensemble. Raises ModelError for families or settings not covered."""
    name = type(final).__name__
    if name.startswith("DecisionTree"):
        classifier = name.endswith("Classifier")
        return Ensemble([_sklearn_tree(final, 1.0, normalize=classifier)], np.zeros(_n_out(final)),
                        "identity", True)
    if name.startswith(("RandomForest", "ExtraTrees")):
        classifier = name.endswith("Classifier")
        n = len(final.estimators_)
        return Ensemble([_sklearn_tree(e, 1.0 / n, normalize=classifier) for e in final.estimators_],
                        np.zeros(_n_out(final)), "identity", True)
    if name.startswith("GradientBoosting"):
        stages = final.estimators_  # [n_stages, K]
        k = stages.shape[1]
        trees = [_sklearn_tree(stages[i, j], final.learning_rate, j if k > 1 else None, k)
                 for i in range(stages.shape[0]) for j in range(k)]
        base = final._raw_predict_init(np.zeros((1, final.n_features_in_), dtype=np.float32))[0].astype(np.float64)
        return Ensemble(trees, base, _link(final), True)
    if name.startswith("HistGradientBoosting"):
        k = len(final._predictors[0])
        trees = [_hist_tree(p, j, k) for stage in final._predictors for j, p in enumerate(stage)]
        return Ensemble(trees, np.asarray(final._baseline_prediction, dtype=np.float64).reshape(-1), _link(final), False)
    raise ModelError(f"no tree lowering for {name}")


def _n_out(final: Any) -> int:
    return len(final.classes_) if hasattr(final, "classes_") else 1


# --- folding thresholds into each column's encoded space ----------------------------------------


def _keys(values: np.ndarray) -> np.ndarray:
    """float32 values -> int64 keys ordered like the floats (-0 and +0 share key 0)."""
    bits = values.astype(np.float32).view(np.int32).astype(np.int64)
    return np.where(bits >= 0, bits, -(bits & 0x7FFFFFFF))


def _floats(keys: np.ndarray) -> np.ndarray:
    bits = np.where(keys >= 0, keys, (-keys) | 0x80000000).astype(np.uint32)
    return bits.view(np.float32)


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
    nan_z = col.chain64(np.full(len(thresholds), np.nan))
    nan_left = np.where(np.isnan(nan_z), missing_left, _goes_left(col, np.full(len(thresholds), np.nan), thresholds, float32_inputs))
    lo = np.full(len(thresholds), _keys(np.array([-np.inf]))[0])
    hi = np.full(len(thresholds), _keys(np.array([np.inf]))[0])
    left_lo = _goes_left(col, _floats(lo), thresholds, float32_inputs)
    left_hi = _goes_left(col, _floats(hi), thresholds, float32_inputs)
    # invariant: lo goes left, hi goes right; halve the float32 key interval until they are neighbours
    for _ in range(40):
        mid = (lo + hi) // 2
        left = _goes_left(col, _floats(mid), thresholds, float32_inputs)
        lo = np.where(left, mid, lo)
        hi = np.where(left, hi, mid)
    out = _floats(lo)
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
