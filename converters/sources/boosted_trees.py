"""Gradient-boosted trees from XGBoost, LightGBM and CatBoost as plain arrays.

Each booster reader (sources/xgboost.py, lightgbm.py, catboost.py) turns a fitted model into a
`BoostedEnsemble`: per tree, one array per node field (feature, threshold, left, right, value, missing
direction), plus what turns the summed leaves into the library's output (base score, link). Nothing here
imports a boosting library, so every target (the ONNX TreeEnsemble writer today; the TensorFlow and Core ML
tree readers later) can take these arrays without the library installed.

`raw_scores` evaluates the arrays with numpy exactly as the arrays say; the readers use it to recover a
library's base margin and the tests use it to check a reader against the library itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

LINKS = ("identity", "sigmoid", "softmax", "exp")


@dataclass(frozen=True)
class TreeArrays:
    """One tree, node i described by element i of each array. Leaves have left == right == -1.

    A node sends x to `left` when `x[feature] <decision> threshold` (the ensemble's `decision`, "<=" or
    "<"), or, at a categorical split, when x is one of `left_categories[node]`; to `right` otherwise. A
    missing value (NaN) goes left where `missing_left` is true."""

    feature: np.ndarray  # int64
    threshold: np.ndarray  # float64 (NaN at leaves)
    left: np.ndarray  # int64 child index, -1 at leaves
    right: np.ndarray  # int64 child index, -1 at leaves
    value: np.ndarray  # float64 leaf value (0 at interior nodes)
    missing_left: np.ndarray  # bool
    target: int = 0  # the output column (class) this tree adds to
    # categorical splits: node -> the category codes (non-negative integers) sent left; the node's threshold
    # is then unused and any other value (an unknown code, a negative one) goes right
    left_categories: dict[int, np.ndarray] | None = None

    @property
    def n_nodes(self) -> int:
        return int(self.feature.shape[0])


@dataclass(frozen=True)
class BoostedEnsemble:
    """Trees whose leaf values add up per target, then `base` is added and `link` applied.

    `input_precision` is the precision the library compares features in: "float32" (XGBoost, CatBoost:
    the input is rounded to float32 first) or "float64" (LightGBM). Thresholds are doubles that compare
    exactly in that precision."""

    trees: list[TreeArrays]
    n_features: int
    n_targets: int  # 1 for regression and binary classification, k for k-class softmax
    base: np.ndarray  # float64 [n_targets]
    decision: str  # "<=" or "<"
    link: str  # one of LINKS; "sigmoid" gives [1 - p, p]
    input_precision: str  # "float32" or "float64"
    library: str  # "xgboost", "lightgbm", "catboost"
    objective: str  # the library's own name for it, for the manifest and messages

    def __post_init__(self) -> None:
        if self.decision not in ("<=", "<") or self.link not in LINKS or self.input_precision not in ("float32", "float64"):
            raise ValueError(f"bad ensemble: decision={self.decision} link={self.link} precision={self.input_precision}")


def tree_from_lists(feature: list[int], threshold: list[float], left: list[int], right: list[int],
                    value: list[float], missing_left: list[bool], target: int = 0) -> TreeArrays:
    return TreeArrays(np.asarray(feature, dtype=np.int64), np.asarray(threshold, dtype=np.float64),
                      np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64),
                      np.asarray(value, dtype=np.float64), np.asarray(missing_left, dtype=bool), int(target))


class TreeBuilder:
    """Builds a TreeArrays node by node, for readers that walk a tree top-down (a node's index is taken
    before its children are built)."""

    def __init__(self) -> None:
        self.rows: list[list[Any]] = []  # [feature, threshold, left, right, value, missing_left]
        self.categories: dict[int, np.ndarray] = {}

    def leaf(self, value: float) -> int:
        self.rows.append([0, np.nan, -1, -1, float(value), False])
        return len(self.rows) - 1

    def split(self, feature: int, threshold: float, missing_left: bool) -> int:
        """A split node whose children are set with `children` once built."""
        self.rows.append([int(feature), float(threshold), -1, -1, 0.0, bool(missing_left)])
        return len(self.rows) - 1

    def member_split(self, feature: int, left_codes: list[int], missing_left: bool) -> int:
        """A categorical split: the integer codes in `left_codes` go left, any other value right."""
        i = self.split(feature, 0.0, missing_left)  # the threshold is unused at a member split
        self.categories[i] = np.asarray(sorted(set(left_codes)), dtype=np.int64)
        return i

    def children(self, node: int, left: int, right: int) -> None:
        self.rows[node][2], self.rows[node][3] = left, right

    def build(self, target: int = 0) -> TreeArrays:
        feature, threshold, left, right, value, missing_left = (list(c) for c in zip(*self.rows))
        tree = tree_from_lists(feature, threshold, left, right, value, missing_left, target)
        return replace(tree, left_categories=dict(self.categories)) if self.categories else tree


def raw_scores(ensemble: BoostedEnsemble, X: np.ndarray) -> np.ndarray:
    """Summed leaf values plus base, [N, n_targets] float64, before the link."""
    X = np.asarray(X, dtype=np.float64)
    if ensemble.input_precision == "float32":
        X = X.astype(np.float32).astype(np.float64)
    out = np.tile(ensemble.base.astype(np.float64), (X.shape[0], 1))
    rows = np.arange(X.shape[0])
    for tree in ensemble.trees:
        node = np.zeros(X.shape[0], dtype=np.int64)
        while True:
            inner = tree.left[node] >= 0
            if not inner.any():
                break
            x = X[rows, np.where(inner, tree.feature[node], 0)]
            t = tree.threshold[node]
            go_left = (x <= t) if ensemble.decision == "<=" else (x < t)
            for cat_node, members in (tree.left_categories or {}).items():
                here = node == cat_node
                go_left = np.where(here, np.isin(x, members), go_left)
            go_left = np.where(np.isnan(x), tree.missing_left[node], go_left)
            node = np.where(inner, np.where(go_left, tree.left[node], tree.right[node]), node)
        out[:, tree.target] += tree.value[node]
    return out


def apply_link(ensemble: BoostedEnsemble, raw: np.ndarray) -> np.ndarray:
    """The library's output from raw scores: probabilities [N, C] or values [N]."""
    if ensemble.link == "sigmoid":
        p = 1.0 / (1.0 + np.exp(-raw[:, 0]))
        return np.stack([1.0 - p, p], axis=1)
    if ensemble.link == "softmax":
        e = np.exp(raw - raw.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    if ensemble.link == "exp":
        return np.exp(raw[:, 0])
    return raw[:, 0]
