"""scikit-learn tree models as Core ML TreeEnsembleClassifier/TreeEnsembleRegressor.

Numerics: scikit-learn's DecisionTree/RandomForest/ExtraTrees/GradientBoosting cast their (float64)
input to float32 and then test `float32(x) <= threshold` against float64 thresholds; Core ML compares
the double input with double thresholds. `float32_thresholds` turns each threshold t into the double T
with `x <= T  <=>  float32(x) <= t` for every double x, so the Core ML tree takes exactly scikit-learn's
branch without a cast. HistGradientBoosting compares float64 values with float64 thresholds: kept as is.
Missing values (NaN) follow scikit-learn's per-node `missing_go_to_left` (Core ML's
missingValueTracksTrueChild; the true child is the left one).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...runtime.errors import ModelError
from .coreml_proto import classifier_outputs, feature, model, proto, set_class_labels


def float32_thresholds(t: np.ndarray) -> np.ndarray:
    """For float64 thresholds t, the float64 T with: x <= T exactly when float32(x) <= t (round to
    nearest, ties to even). Thresholds beyond float32's range map to +inf."""
    t = np.asarray(t, dtype=np.float64)
    with np.errstate(over="ignore"):
        f = t.astype(np.float32)
    f = np.where(f.astype(np.float64) > t, np.nextafter(f, np.float32(-np.inf)), f).astype(np.float32)
    g = np.nextafter(f, np.float32(np.inf))
    mid = (f.astype(np.float64) + g.astype(np.float64)) / 2.0  # exact: float32 midpoints are doubles
    even = (f.view(np.int32) & 1) == 0  # a tie rounds to the even neighbour
    out = np.where(even, mid, np.nextafter(mid, -np.inf))
    return np.where(np.isinf(g) & (g > 0), np.inf, out)


_SIGN = np.int64(-(2**63))


def _key(x: np.ndarray) -> np.ndarray:
    """Doubles as int64 keys in the same order (so bisection can walk every double)."""
    i = np.asarray(x, dtype=np.float64).view(np.int64)
    return np.where(i < 0, _SIGN - i, i)


def _from_key(k: np.ndarray) -> np.ndarray:
    return np.where(k < 0, _SIGN - k, k).astype(np.int64).view(np.float64)


def apply_ops(ops: tuple[tuple[str, float], ...], x: np.ndarray) -> np.ndarray:
    """scikit-learn's scaler arithmetic on one column, in its order (float64, as it computes)."""
    x = np.array(x, dtype=np.float64)
    with np.errstate(over="ignore"):  # the bisection probes the extremes of the double range
        for op, value in ops:
            if op == "sub":
                x -= value
            elif op == "div":
                x /= value
            elif op == "mul":
                x *= value
            else:
                x += value
    return x


def raw_thresholds(ops: tuple[tuple[str, float], ...], t: np.ndarray) -> np.ndarray:
    """For thresholds t on a scaled column, the largest raw double x with scale(x) <= t (exact: the
    scalers' arithmetic is monotone, so 64 bisection steps over the ordered doubles find it)."""
    t = np.asarray(t, dtype=np.float64)
    big = np.finfo(np.float64).max
    lo = np.full(t.shape, _key(np.array(-big)), dtype=np.int64)  # invariant: scale(lo) <= t, or none is
    hi = np.full(t.shape, _key(np.array(big)), dtype=np.int64)
    none = apply_ops(ops, np.full(t.shape, -big)) > t
    every = apply_ops(ops, np.full(t.shape, big)) <= t
    for _ in range(70):
        mid = (lo >> 1) + (hi >> 1) + (lo & hi & 1)  # no int64 overflow
        ok = apply_ops(ops, _from_key(mid)) <= t
        lo = np.where(ok, mid, lo)
        hi = np.where(ok, hi, mid)
        if np.all(hi - lo <= 1):  # (safe here: the keys are close by then)
            break
    out = _from_key(lo)
    return np.where(none, -np.inf, np.where(every, np.inf, out))


def fold(thresholds: np.ndarray, features: np.ndarray, deferred: list) -> np.ndarray:
    """Thresholds on scaled columns -> thresholds on the raw columns Core ML feeds the tree."""
    out = np.array(thresholds, dtype=np.float64)
    if not deferred:
        return out
    for j in np.unique(features[features >= 0]):
        ops = deferred[int(j)]
        if ops:
            at = features == j
            out[at] = raw_thresholds(ops, out[at])
    return out


@dataclass
class Tree:
    """One tree in scikit-learn's array form, with each leaf's values (one per prediction dimension)."""

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    leaf_values: np.ndarray  # [nodes, dims]


def _sk_tree(est: Any, scale: float, classify: bool, deferred: list) -> Tree:
    t = est.tree_
    value = np.asarray(t.value[:, 0, :], dtype=np.float64)
    if classify:
        value = value / np.maximum(value.sum(axis=1, keepdims=True), 1e-300)
        if value.shape[1] == 2:
            # Binary: one dimension, p(second class), as coremltools' own tree converter writes it;
            # Core ML reports [1 - p, p].
            value = value[:, 1:]
    missing = getattr(t, "missing_go_to_left", None)
    return Tree(t.children_left, t.children_right, t.feature, fold(float32_thresholds(t.threshold), t.feature, deferred),
                np.zeros(t.node_count, dtype=bool) if missing is None else np.asarray(missing, dtype=bool),
                value * scale)


def _hist_tree(predictor: Any, deferred: list) -> Tree:
    nodes = predictor.nodes
    if np.any(nodes["is_categorical"]):
        raise ModelError("the Core ML target cannot express HistGradientBoosting categorical splits",
                         fix="encode categories with an OrdinalEncoder before the model and leave categorical_features unset")
    leaf = nodes["is_leaf"].astype(bool)
    left, right = nodes["left"].astype(np.int64), nodes["right"].astype(np.int64)  # uint32 in scikit-learn
    return Tree(np.where(leaf, -1, left), np.where(leaf, -1, right),
                nodes["feature_idx"].astype(np.int64),
                fold(nodes["num_threshold"], np.where(leaf, -1, nodes["feature_idx"].astype(np.int64)), deferred),
                nodes["missing_go_to_left"].astype(bool), nodes["value"].astype(np.float64).reshape(-1, 1))


@dataclass
class Ensemble:
    trees: list[tuple[Tree, int]]  # (tree, first prediction dimension it writes)
    dims: int
    base: np.ndarray
    transform: str  # NoTransform, Classification_SoftMax, Regression_Logistic


def _raw_init(est: Any) -> np.ndarray:
    # scikit-learn's own initial raw prediction (the init estimator's prior), for one dummy row.
    return np.asarray(est._raw_predict_init(np.zeros((1, est.n_features_in_), dtype=np.float32)), dtype=np.float64)[0]


def ensemble_of(est: Any, classify: bool, deferred: list | None = None) -> Ensemble:
    deferred = deferred or []
    name = type(est).__name__
    n_classes = len(getattr(est, "classes_", [])) if classify else 1
    if getattr(est, "n_outputs_", 1) != 1:
        raise ModelError(f"the Core ML target supports single-output {name} only")
    if name.startswith("DecisionTree"):
        dims = n_classes if classify and n_classes > 2 else 1
        return Ensemble([(_sk_tree(est, 1.0, classify, deferred), 0)], dims, np.zeros(dims), "NoTransform")
    if name.startswith(("RandomForest", "ExtraTrees")):
        dims = n_classes if classify and n_classes > 2 else 1
        n = len(est.estimators_)
        return Ensemble([(_sk_tree(t, 1.0 / n, classify, deferred), 0) for t in est.estimators_], dims, np.zeros(dims), "NoTransform")
    if name.startswith("GradientBoosting"):
        stages = est.estimators_  # [n_stages, K] regression trees on the raw score
        k = stages.shape[1]
        trees = [(_sk_tree(stages[i, j], float(est.learning_rate), False, deferred), j) for i in range(stages.shape[0]) for j in range(k)]
        return Ensemble(trees, k, _raw_init(est), _score_transform(classify, k))
    if name.startswith("HistGradientBoosting"):
        link = type(getattr(getattr(est, "_loss", None), "link", None)).__name__
        if not classify and link != "IdentityLink":
            raise ModelError(f"the Core ML target supports HistGradientBoostingRegressor with an identity link only (this loss uses {link})",
                             fix="use loss='squared_error', 'absolute_error' or 'quantile'")
        k = len(est._predictors[0]) if hasattr(est, "_predictors") else 1
        trees = [(_hist_tree(p, deferred), j) for stage in est._predictors for j, p in enumerate(stage)]
        base = np.asarray(est._baseline_prediction, dtype=np.float64).reshape(-1)
        return Ensemble(trees, k, base, _score_transform(classify, k))
    raise ModelError(f"no Core ML tree builder for {name}")


def _score_transform(classify: bool, k: int) -> str:
    if not classify:
        return "NoTransform"
    return "Regression_Logistic" if k == 1 else "Classification_SoftMax"


def _nodes(tree: Tree) -> Iterator[tuple[int, bool]]:
    for i in range(len(tree.left)):
        yield i, tree.left[i] < 0


def fill_parameters(params: Any, ens: Ensemble) -> None:
    """TreeEnsembleParameters from the ensemble: BranchOnValueLessThanEqual nodes (true = left child)."""
    node_type = proto().TreeEnsemble_pb2.TreeEnsembleParameters.TreeNode
    params.numPredictionDimensions = ens.dims
    params.basePredictionValue.extend(ens.base.tolist())
    for tree_id, (tree, first_dim) in enumerate(ens.trees):
        for i, is_leaf in _nodes(tree):
            node = params.nodes.add()
            node.treeId = tree_id
            node.nodeId = i
            if is_leaf:
                node.nodeBehavior = node_type.LeafNode
                for d, v in enumerate(tree.leaf_values[i]):
                    info = node.evaluationInfo.add()
                    info.evaluationIndex = first_dim + d
                    info.evaluationValue = float(v)
            else:
                node.nodeBehavior = node_type.BranchOnValueLessThanEqual
                node.branchFeatureIndex = int(tree.feature[i])
                node.branchFeatureValue = float(tree.threshold[i])
                node.trueChildNodeId = int(tree.left[i])
                node.falseChildNodeId = int(tree.right[i])
                node.missingValueTracksTrueChild = bool(tree.missing_left[i])


def tree_model(est: Any, x: Any, source: Any) -> tuple[Any, list[Any]]:
    classify = source.task == "classification"
    ens = ensemble_of(est, classify, x.deferred)
    if classify:
        outputs = classifier_outputs(list(source.classes))
        m = model([feature(x.name, "array", x.dim)], outputs)
        msg = m.treeEnsembleClassifier
        set_class_labels(msg, list(source.classes))
    else:
        outputs = [feature("value", "double")]
        m = model([feature(x.name, "array", x.dim)], outputs)
        msg = m.treeEnsembleRegressor
    fill_parameters(msg.treeEnsemble, ens)
    msg.postEvaluationTransform = getattr(proto().TreeEnsemble_pb2, ens.transform)
    return m, outputs
