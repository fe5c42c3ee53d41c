"""scikit-learn tree models as Core ML TreeEnsembleClassifier/TreeEnsembleRegressor.

Numerics: scikit-learn's DecisionTree/RandomForest/ExtraTrees/GradientBoosting cast their (float64)
input to float32 and then test `float32(x) <= threshold` against float64 thresholds; Core ML compares
the double input with double thresholds. `float32_cast_thresholds` (lowering/thresholds.py) turns each
threshold t into the double T with `x <= T  <=>  float32(x) <= t` for every double x, so the Core ML tree
takes exactly scikit-learn's branch without a cast. The trees themselves come from the one tree reader
(sources/trees.py), shared with the TensorFlow lowering. HistGradientBoosting compares float64 values with float64 thresholds: kept as is.
Missing values (NaN) follow scikit-learn's per-node `missing_go_to_left` (Core ML's
missingValueTracksTrueChild; the true child is the left one). Set-membership (categorical) splits, from
HistGradientBoosting's categorical_features or Spark's indexed categories, are unrolled into chains of
BranchOnValueEqual nodes (`equality_chains`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ....runtime.errors import ModelError
from ...lowering.thresholds import bisect, float32_cast_thresholds, floats, keys
from ...sources.trees import Ensemble, Tree, read
from .proto import classifier_outputs, feature, model, proto, set_class_labels


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
    scalers' arithmetic is monotone, so a bisection over the ordered doubles finds it)."""
    t = np.asarray(t, dtype=np.float64)
    big = np.finfo(np.float64).max
    lo = np.full(t.shape, keys(np.array(-big), np.float64), dtype=np.int64)  # invariant: scale(lo) <= t, or none is
    hi = np.full(t.shape, keys(np.array(big), np.float64), dtype=np.int64)
    none = apply_ops(ops, np.full(t.shape, -big)) > t
    every = apply_ops(ops, np.full(t.shape, big)) <= t
    out = floats(bisect(lambda x: apply_ops(ops, x) <= t, lo, hi, np.float64), np.float64)
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
class CoreMLTrees:
    """The read ensemble in TreeEnsembleParameters' terms: thresholds folded for Core ML's double
    comparison, prediction dimensions, base values and the post-evaluation transform."""

    trees: list[Tree]
    dims: int
    base: np.ndarray
    transform: str  # NoTransform, Classification_SoftMax, Regression_Logistic


# the reader's link -> Core ML's post-evaluation transform
TRANSFORMS = {"identity": "NoTransform", "sigmoid": "Regression_Logistic", "softmax": "Classification_SoftMax"}


def for_coreml(ens: Ensemble, classify: bool, deferred: list | None = None, name: str = "tree ensembles"
               ) -> CoreMLTrees:
    """Thresholds exact for Core ML's double comparison (scikit-learn's float32 cast folded in where it
    casts, then any deferred scaler arithmetic), and binary class fractions as one dimension. `name` (the
    estimator) goes into the refusals."""
    if ens.link == "exp" and not classify:
        # the ensemble sums the raw score; ensemble_model appends the exp as a float32 stage
        ens = replace(ens, link="identity")
    if ens.link not in TRANSFORMS:
        raise ModelError(f"the Core ML target has no {ens.link!r} link for {name}: TreeEnsemble's post-evaluation "
                         "transforms are none, logistic and softmax",
                         fix="use a loss with an identity, logistic or softmax link, or the ONNX, TFLite or TF.js targets")
    for tree in ens.trees:
        cat_features = {int(tree.feature[n]) for n in tree.categories or {}}
        # A float32-casting library (XGBoost) tests float32(x): for an integer code below 2**24 that is x
        # itself, as BranchOnValueEqual's double test sees it (a fractional code is truncated by the library
        # and is in no set here, in every format alike: codes are integers).
        too_large = ens.float32_inputs and any(np.abs(m).max() >= 2 ** 24 for m in (tree.categories or {}).values())
        if cat_features and (too_large or any(deferred and deferred[j] for j in cat_features)):
            raise ModelError(f"{name}: a set-membership (categorical) split on a scaled column, or on float32-cast "
                             "codes beyond 2**24, has no Core ML form",
                             fix="pass the category codes (0..k-1) to the estimator unscaled, or use the ONNX target")
    binary_fractions = classify and ens.link == "identity" and ens.n_out == 2
    trees = []
    for tree in ens.trees:
        thresholds = float32_cast_thresholds(tree.threshold) if ens.float32_inputs else tree.threshold
        # Binary: one dimension, p(second class), as coremltools' own tree converter writes it; Core ML
        # reports [1 - p, p].
        value = tree.value[:, 1:] if binary_fractions else tree.value
        folded = Tree(tree.feature, fold(thresholds, tree.feature, deferred or []), tree.missing_left,
                      tree.left, tree.right, value, tree.output, tree.categories)
        trees.append(equality_chains(folded, name) if tree.categories else folded)
    base = ens.base[1:] if binary_fractions else ens.base
    return CoreMLTrees(trees, len(base), base, TRANSFORMS[ens.link])


# how many times a tree may grow when its set-membership splits are unrolled into equality chains
MAX_GROWTH = 16


def equality_chains(tree: Tree, name: str) -> Tree:
    """The tree with each set-membership node unrolled into BranchOnValueEqual nodes, one per member, each
    sending its matches to its own copy of the left subtree (TreeEnsemble has no membership branch, and
    its nodes have one parent each); the chain's last node sends the rest to the right subtree. A missing
    value takes the node's own route at the first link. In the result, `categories` marks the equality
    nodes: node -> [the value it tests]."""
    rows: list[list[Any]] = []  # feature, threshold, missing_left, left, right, value row, equality
    cats = tree.categories or {}

    def add(feature: int, threshold: float, missing_left: bool, value: np.ndarray, equality: bool) -> int:
        rows.append([feature, threshold, missing_left, -1, -1, value, equality])
        if len(rows) > MAX_GROWTH * len(tree.feature):
            raise ModelError(f"{name}: unrolling its categorical splits into Core ML equality chains grows a tree "
                             f"more than {MAX_GROWTH} times", fix="use fewer categories per split, or the ONNX target")
        return len(rows) - 1

    zero = np.zeros(tree.value.shape[1])

    def copy(node: int) -> int:
        if tree.feature[node] < 0:
            return add(-1, 0.0, False, tree.value[node], False)
        members = np.unique(cats[node]) if node in cats else None
        if members is None:
            i = add(int(tree.feature[node]), float(tree.threshold[node]), bool(tree.missing_left[node]), zero, False)
            rows[i][3] = copy(int(tree.left[node]))
            rows[i][4] = copy(int(tree.right[node]))
            return i
        first = previous = -1
        for k, member in enumerate(members):
            i = add(int(tree.feature[node]), float(member), bool(tree.missing_left[node]) and k == 0, zero, True)
            if previous >= 0:
                rows[previous][4] = i
            first = i if first < 0 else first
            rows[i][3] = copy(int(tree.left[node]))
            previous = i
        rest = copy(int(tree.right[node]))
        if previous < 0:
            return rest  # an empty set: everything goes right
        rows[previous][4] = rest
        return first

    copy(0)
    feature, threshold, missing, left, right, value, equality = (list(c) for c in zip(*rows))
    return Tree(np.asarray(feature, np.int64), np.asarray(threshold, np.float64), np.asarray(missing, bool),
                np.asarray(left, np.int64), np.asarray(right, np.int64), np.asarray(value, np.float64), tree.output,
                {i: np.array([threshold[i]]) for i, eq in enumerate(equality) if eq} or None)


def _nodes(tree: Tree) -> Iterator[tuple[int, bool]]:
    for i in range(len(tree.feature)):
        yield i, tree.feature[i] < 0


def fill_parameters(params: Any, ens: CoreMLTrees) -> None:
    """TreeEnsembleParameters from the ensemble: BranchOnValueLessThanEqual nodes (true = left child)."""
    node_type = proto().TreeEnsemble_pb2.TreeEnsembleParameters.TreeNode
    params.numPredictionDimensions = ens.dims
    params.basePredictionValue.extend(ens.base.tolist())
    for tree_id, tree in enumerate(ens.trees):
        for i, is_leaf in _nodes(tree):
            node = params.nodes.add()
            node.treeId = tree_id
            node.nodeId = i
            if is_leaf:
                node.nodeBehavior = node_type.LeafNode
                for d, v in enumerate(tree.value[i]):
                    info = node.evaluationInfo.add()
                    info.evaluationIndex = tree.output + d
                    info.evaluationValue = float(v)
            else:
                equal = i in (tree.categories or {})  # an equality chain's link (equality_chains)
                node.nodeBehavior = node_type.BranchOnValueEqual if equal else node_type.BranchOnValueLessThanEqual
                node.branchFeatureIndex = int(tree.feature[i])
                node.branchFeatureValue = float(tree.threshold[i])
                node.trueChildNodeId = int(tree.left[i])
                node.falseChildNodeId = int(tree.right[i])
                node.missingValueTracksTrueChild = bool(tree.missing_left[i])


def tree_model(est: Any, x: Any, source: Any) -> tuple[Any, list[Any]]:
    return ensemble_model(read(est), x, source, type(est).__name__)


def ensemble_model(read_ens: Ensemble, x: Any, source: Any, name: str) -> tuple[Any, list[Any]]:
    """A TreeEnsembleClassifier/Regressor of the input vector x from the read ensemble of estimator `name`."""
    classify = source.task == "classification"
    ens = for_coreml(read_ens, classify, x.deferred, name)
    exp = not classify and read_ens.link == "exp"  # for_coreml left the exp to a stage after the trees
    if classify:
        outputs = classifier_outputs(list(source.classes))
        m = model([feature(x.name, "array", x.dim)], outputs)
        msg = m.treeEnsembleClassifier
        set_class_labels(msg, list(source.classes))
    else:
        outputs = [feature(RAW, "array", 1)] if exp else [feature("value", "double")]
        m = model([feature(x.name, "array", x.dim)], outputs)
        msg = m.treeEnsembleRegressor
    fill_parameters(msg.treeEnsemble, ens)
    msg.postEvaluationTransform = getattr(proto().TreeEnsemble_pb2, ens.transform)
    return exp_stage(m, x) if exp else (m, outputs)


RAW = "__raw_score"


def exp_stage(trees: Any, x: Any) -> tuple[Any, list[Any]]:
    """TreeEnsemble has no exp transform (none, logistic, softmax): the trees give the raw score in double,
    then a NeuralNetwork unary EXP layer gives the value, in float32 (the rounding of a float32 exp; the held-out
    checks of tests/converters/test_boosting_formats.py hold it to 1e-5 of the target's scale). A plain
    pipeline, as for any neural network's array value."""
    out = [feature("value", "array", 1)]
    net = model([feature(RAW, "array", 1)], out)
    layer = net.neuralNetworkRegressor.layers.add()
    layer.name = "exp"
    layer.input.append(RAW)
    layer.output.append("value")
    layer.unary.type = layer.unary.Operation.Value("EXP")
    layer.unary.scale = 1.0
    top = model([feature(x.name, "array", x.dim)], out, max(trees.specificationVersion, net.specificationVersion))
    top.pipeline.models.extend([trees, net])
    return top, out
