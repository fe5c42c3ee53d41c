"""The one tree reader: a fitted tree model as plain node arrays, in the model's own thresholds.

Every place that takes trees apart reads them here: the TensorFlow lowering (TFLite, TF.js), the Core ML
TreeEnsemble builder, and anything that explains a tree's decisions. A reader per library (the READERS
table) turns its fitted model into an `Ensemble`; nothing downstream knows which library it came from:
XGBoost, LightGBM and CatBoost come in as their booster arrays (sources/boosted_trees.py) through
`from_boosted`.

Numerics are the model's own: thresholds are float64 as fitted, and `float32_inputs` says whether the
library casts its input to float32 before comparing (scikit-learn's DecisionTree, RandomForest,
ExtraTrees, GradientBoosting) or compares float64 values (HistGradientBoosting). The consumers fold those
two facts (and any preprocessing) into thresholds their runtime compares exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...runtime.errors import ModelError
from . import catboost, hist_gradient_boosting, lightgbm, xgboost
from .boosted_trees import BoostedEnsemble

LINKS = ("identity", "sigmoid", "softmax", "exp")


@dataclass
class Tree:
    """One tree as node arrays; children come after their parent. Leaves have feature -1 and children -1.

    value: [nodes, width] float64, the leaf values (already scaled by the ensemble's weight), added to the
    ensemble's outputs output .. output + width - 1. Internal nodes hold 0.
    """

    feature: np.ndarray
    threshold: np.ndarray  # float64: x <= threshold goes left, in the estimator's input space
    missing_left: np.ndarray  # bool: where NaN goes when it reaches the tree itself
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    output: int = 0
    # set-membership splits: node -> the values (in the estimator's input space) sent left; any other value
    # goes right, NaN by missing_left (the node's threshold is then unused)
    categories: dict[int, np.ndarray] | None = None

    @property
    def depth(self) -> int:
        depth = np.zeros(len(self.feature), dtype=np.int64)
        for node in range(len(self.feature)):
            if self.feature[node] >= 0:
                depth[self.left[node]] = depth[self.right[node]] = depth[node] + 1
        return int(depth.max())

    @property
    def internal(self) -> np.ndarray:
        return self.feature >= 0

    def dense(self, n_out: int) -> np.ndarray:
        """The leaf values as [nodes, n_out] (zeros in the outputs this tree does not write)."""
        full = np.zeros((len(self.feature), n_out))
        full[:, self.output:self.output + self.value.shape[1]] = self.value
        return full


@dataclass
class Ensemble:
    """outputs = link(base + the sum of the leaf values every tree sends a row to)."""

    trees: list[Tree]
    base: np.ndarray  # [n_out] float64
    link: str  # one of LINKS
    float32_inputs: bool  # the library casts the estimator's input to float32 before comparing

    @property
    def n_out(self) -> int:
        return len(self.base)


def _sklearn_tree(est: Any, scale: float, normalize: bool = False, output: int = 0) -> Tree:
    t = est.tree_
    value = np.asarray(t.value[:, 0, :], dtype=np.float64)
    if normalize:  # classifier trees: class fractions, as predict_proba normalises them
        value = value / np.maximum(value.sum(axis=1, keepdims=True), 1e-300)
    leaf = t.children_left < 0
    missing = getattr(t, "missing_go_to_left", None)
    return Tree(np.where(leaf, -1, t.feature).astype(np.int64), np.asarray(t.threshold, dtype=np.float64),
                np.zeros(t.node_count, dtype=bool) if missing is None else np.asarray(missing, dtype=bool),
                t.children_left.astype(np.int64), t.children_right.astype(np.int64),
                np.where(leaf[:, None], value * scale, 0.0), output)


def _hist_tree(predictor: Any, output: int) -> Tree:
    nodes = predictor.nodes
    if np.any(nodes["is_categorical"]):
        raise ModelError("HistGradientBoosting with categorical_features has set-membership splits, not thresholds",
                         fix="encode categories with an OrdinalEncoder in the pipeline and leave categorical_features unset")
    leaf = nodes["is_leaf"].astype(bool)
    return Tree(np.where(leaf, -1, nodes["feature_idx"]).astype(np.int64), nodes["num_threshold"].astype(np.float64),
                nodes["missing_go_to_left"].astype(bool),
                np.where(leaf, -1, nodes["left"].astype(np.int64)), np.where(leaf, -1, nodes["right"].astype(np.int64)),
                np.where(leaf, nodes["value"], 0.0).astype(np.float64).reshape(-1, 1), output)


def _link(est: Any) -> str:
    link = type(getattr(getattr(est, "_loss", None), "link", None)).__name__
    links = {"IdentityLink": "identity", "LogitLink": "sigmoid", "MultinomialLogit": "softmax",
             "SymmetricMultinomialLogit": "softmax", "LogLink": "exp"}
    if link not in links:
        raise ModelError(f"{type(est).__name__} with link {link} is not supported for trees yet")
    return links[link]


def _n_classes(est: Any) -> int:
    return len(est.classes_) if hasattr(est, "classes_") else 1


def _single_tree(est: Any) -> Ensemble:
    classify = hasattr(est, "classes_")
    return Ensemble([_sklearn_tree(est, 1.0, normalize=classify)], np.zeros(_n_classes(est)), "identity", True)


def _forest(est: Any) -> Ensemble:
    classify = hasattr(est, "classes_")
    n = len(est.estimators_)
    return Ensemble([_sklearn_tree(e, 1.0 / n, normalize=classify) for e in est.estimators_],
                    np.zeros(_n_classes(est)), "identity", True)


def _gradient_boosting(est: Any) -> Ensemble:
    stages = est.estimators_  # [n_stages, K] regression trees on the raw score
    k = stages.shape[1]
    trees = [_sklearn_tree(stages[i, j], float(est.learning_rate), output=j)
             for i in range(stages.shape[0]) for j in range(k)]
    # scikit-learn's own initial raw prediction (the init estimator's prior), for one dummy row.
    base = np.asarray(est._raw_predict_init(np.zeros((1, est.n_features_in_), dtype=np.float32)), dtype=np.float64)[0]
    return Ensemble(trees, base, _link(est), True)


def _hist_gradient_boosting(est: Any) -> Ensemble:
    if hist_gradient_boosting.has_native_categories(est):  # set-membership splits: read as a booster's arrays
        return from_boosted(hist_gradient_boosting.read(est))
    trees = [_hist_tree(p, j) for stage in est._predictors for j, p in enumerate(stage)]
    return Ensemble(trees, np.asarray(est._baseline_prediction, dtype=np.float64).reshape(-1), _link(est), False)


def _below(t: np.ndarray, dtype: type) -> np.ndarray:
    """The largest value of dtype strictly below each t: `x < t` is `x <= _below(t)` for x of that dtype."""
    with np.errstate(over="ignore"):
        f: np.ndarray = t.astype(dtype)
    f = np.where(f.astype(np.float64) >= t, np.nextafter(f, dtype(-np.inf)), f).astype(dtype)
    return f.astype(np.float64)


def from_boosted(boosted: BoostedEnsemble) -> Ensemble:
    """A booster's arrays (sources/boosted_trees.py) as an Ensemble. XGBoost's `x < t` becomes `x <= t'`
    with t' the next value below t in the precision the library compares in: the same decision for every
    input, so the consumers' exact folding applies unchanged."""
    trees = []
    for t in boosted.trees:
        leaf = t.left < 0
        threshold = np.where(leaf, 0.0, t.threshold)
        if boosted.decision == "<":
            precision = np.float32 if boosted.input_precision == "float32" else np.float64
            threshold = np.where(leaf, 0.0, _below(np.where(leaf, 0.0, t.threshold), precision))
        cats = {int(k): np.asarray(v, dtype=np.float64) for k, v in (t.left_categories or {}).items()}
        trees.append(Tree(np.where(leaf, -1, t.feature).astype(np.int64), threshold.astype(np.float64),
                          t.missing_left.astype(bool), t.left.astype(np.int64), t.right.astype(np.int64),
                          np.where(leaf, t.value, 0.0).reshape(-1, 1), t.target, cats or None))
    return Ensemble(trees, np.asarray(boosted.base, dtype=np.float64).reshape(-1), boosted.link,
                    boosted.input_precision == "float32")


def _booster(read_arrays: Callable[[Any], BoostedEnsemble]) -> Callable[[Any], Ensemble]:
    return lambda est: from_boosted(read_arrays(est))


# estimator class name prefix -> reader (a boosting library adds its row here)
READERS: dict[str, Callable[[Any], Ensemble]] = {
    "DecisionTree": _single_tree,
    "RandomForest": _forest,
    "ExtraTrees": _forest,
    "GradientBoosting": _gradient_boosting,
    "HistGradientBoosting": _hist_gradient_boosting,
    "XGB": _booster(xgboost.read),
    "LGBM": _booster(lightgbm.read),
    "CatBoost": _booster(catboost.read),
}


def read(est: Any) -> Ensemble:
    """The fitted tree model as an Ensemble. Raises ModelError for families or settings not covered."""
    name = type(est).__name__
    if getattr(est, "n_outputs_", 1) != 1:
        raise ModelError(f"only single-output {name} can be converted")
    reader = next((r for prefix, r in READERS.items() if name.startswith(prefix)), None)
    if reader is None:
        raise ModelError(f"no tree reader for {name}", fix=f"tree families read: {', '.join(READERS)}")
    return reader(est)
