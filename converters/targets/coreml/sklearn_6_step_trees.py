"""Exact step functions as tree ensembles: what scikit-learn computes with comparisons (a missing-value
indicator, bins, a binarize threshold) written as small TreeEnsembleRegressor/Classifier models, which Core
ML evaluates in double with the comparison the node names, so the result is scikit-learn's exactly.

    SimpleImputer(add_indicator=True)  one stump per indicator column: x <= +inf is true for every number,
                                       a missing value (NaN) takes the false branch -> 1
    KBinsDiscretizer                   one chain per column over its inner edges: x < e_1 -> bin 0, else
                                       x < e_2 -> bin 1 ... (numpy's searchsorted(side='right'), as
                                       scikit-learn); the leaf adds the bin index (ordinal) or 1 at the
                                       bin's one-hot position
    BernoulliNB                        one stump per feature (x <= binarize -> 0, else 1) whose leaves add
                                       the class log-likelihoods of that value; base = class log priors;
                                       softmax over the classes (a TreeEnsembleClassifier)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ....runtime.errors import ModelError
from .proto import classifier_outputs, feature, model, proto, set_class_labels


def _leaf(ensemble: Any, tree: int, node: int, adds: dict[int, float]) -> None:
    n = ensemble.nodes.add()
    n.treeId, n.nodeId = tree, node
    n.nodeBehavior = n.LeafNode
    for index, value in adds.items():
        info = n.evaluationInfo.add()
        info.evaluationIndex, info.evaluationValue = index, float(value)


def _branch(ensemble: Any, tree: int, node: int, column: int, value: float, behaviour: str, true: int, false: int,
            missing_true: bool) -> None:
    n = ensemble.nodes.add()
    n.treeId, n.nodeId = tree, node
    n.nodeBehavior = getattr(n, behaviour)
    n.branchFeatureIndex, n.branchFeatureValue = column, float(value)
    n.trueChildNodeId, n.falseChildNodeId = true, false
    n.missingValueTracksTrueChild = missing_true


def chain(ensemble: Any, tree: int, column: int, edges: np.ndarray, leaves: list[dict[int, float]]) -> None:
    """Leaf i (of len(edges) + 1) for the values with i edges at or below them: x < e_1 -> leaves[0], ..."""
    for i, edge in enumerate(edges):
        leaf, nxt = 2 * i + 1, 2 * i + 2
        _branch(ensemble, tree, 2 * i, column, edge, "BranchOnValueLessThan", leaf, nxt, True)
        _leaf(ensemble, tree, leaf, leaves[i])
    last = 2 * len(edges)
    _leaf(ensemble, tree, last, leaves[-1])


def indicator(step: Any, src: Any, new_model: Any) -> int:
    """SimpleImputer's missing indicator: a TreeEnsembleRegressor from the raw vector -> 0/1 per indicator
    column. `new_model(dim)` appends the model (input src, output a double array of dim) and returns it."""
    missing = step.missing_values
    if not (isinstance(missing, float) and np.isnan(missing)) and missing is not None:
        raise ModelError(f"the Core ML target cannot express SimpleImputer(add_indicator=True, missing_values={missing!r})",
                         fix="use missing_values=np.nan")
    columns = [int(c) for c in step.indicator_.features_]
    m = new_model(len(columns))
    reg = m.treeEnsembleRegressor
    ensemble = reg.treeEnsemble
    ensemble.numPredictionDimensions = len(columns)
    for k, column in enumerate(columns):
        _branch(ensemble, k, 0, column, float("inf"), "BranchOnValueLessThanEqual", 1, 2, False)
        _leaf(ensemble, k, 1, {})
        _leaf(ensemble, k, 2, {k: 1.0})
    return len(columns)


def bins(step: Any, src: Any, new_model: Any) -> int:
    """KBinsDiscretizer(encode='ordinal' | 'onehot' | 'onehot-dense') as a TreeEnsembleRegressor."""
    inner = [np.asarray(e, dtype=np.float64)[1:-1] for e in step.bin_edges_]
    counts = [int(n) for n in step.n_bins_]
    onehot = step.encode != "ordinal"
    dims = sum(counts) if onehot else len(inner)
    m = new_model(dims)
    ensemble = m.treeEnsembleRegressor.treeEnsemble
    ensemble.numPredictionDimensions = dims
    offset = 0
    for j, edges in enumerate(inner):
        if onehot:
            leaves = [{offset + min(b, counts[j] - 1): 1.0} for b in range(len(edges) + 1)]
        else:
            leaves = [{j: float(b)} if b else {} for b in range(len(edges) + 1)]
        chain(ensemble, j, j, edges, leaves)
        offset += counts[j]
    return dims


def bernoulli_nb(est: Any, x: Any, source: Any) -> tuple[Any, list[Any]]:
    """BernoulliNB's predict_proba: softmax(log prior + per feature the log-probability of its binarized value)."""
    if est.binarize is None:
        raise ModelError("the Core ML target cannot express BernoulliNB(binarize=None) (inputs taken as 0/1 as given)",
                         fix="keep binarize at a number (the default 0.0)")
    flp = np.asarray(est.feature_log_prob_, dtype=np.float64)  # [K, F]
    neg = np.log(1 - np.exp(flp))
    classes = list(source.classes)
    outputs = classifier_outputs(classes)
    m = model([feature(x.name, "array", x.dim)], outputs)
    clf = m.treeEnsembleClassifier
    ensemble = clf.treeEnsemble
    k = flp.shape[0]
    ensemble.numPredictionDimensions = k
    ensemble.basePredictionValue.extend(np.asarray(est.class_log_prior_, dtype=np.float64).tolist())
    threshold = float(est.binarize)
    for j in range(flp.shape[1]):
        # x <= binarize -> 0 (NaN too: scikit-learn's binarize sets what is not > threshold to 0)
        _branch(ensemble, j, 0, j, threshold, "BranchOnValueLessThanEqual", 1, 2, True)
        _leaf(ensemble, j, 1, {c: neg[c, j] for c in range(k)})
        _leaf(ensemble, j, 2, {c: flp[c, j] for c in range(k)})
    clf.postEvaluationTransform = proto().TreeEnsemble_pb2.Classification_SoftMax
    set_class_labels(clf, classes)
    return m, outputs
