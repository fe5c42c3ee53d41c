"""TreeEnsembleClassifier / TreeEnsembleRegressor, as the specification documents them.

Each tree starts at its root (the one node no other node of the tree names as a child). A branch node
compares the input's value at branchFeatureIndex with branchFeatureValue by its behaviour
(BranchOnValueLessThanEqual: x <= v, ...LessThan, ...GreaterThanEqual, ...GreaterThan, ...Equal,
...NotEqual); true goes to trueChildNodeId, false to falseChildNodeId. A missing value (NaN) goes to the
true child when missingValueTracksTrueChild is set, else to the false child. A leaf adds each
evaluationInfo's value to prediction dimension evaluationIndex. The sums start from
basePredictionValue. Then postEvaluationTransform:
    NoTransform                                   the sums as they are
    Classification_SoftMax                        softmax over the dimensions
    Classification_SoftMaxWithZeroClassReference  softmax over [0, dimensions...]
    Regression_Logistic                           1 / (1 + e^-sum) per dimension
A classifier with one dimension and two classes reports [1 - p, p] (p belongs to the second class).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .values import SpecError, as_columns, class_labels, classifier_result, feature_kind

_COMPARE = {
    "BranchOnValueLessThanEqual": np.less_equal,
    "BranchOnValueLessThan": np.less,
    "BranchOnValueGreaterThanEqual": np.greater_equal,
    "BranchOnValueGreaterThan": np.greater,
    "BranchOnValueEqual": np.equal,
    "BranchOnValueNotEqual": np.not_equal,
}


_ORDER = list(_COMPARE)


def _tree_arrays(nodes: list[Any], node_enum: Any, dims: int, tree_id: int) -> dict[str, np.ndarray]:
    """One tree's nodes as arrays indexed by position (node ids need not be contiguous)."""
    pos = {nd.nodeId: i for i, nd in enumerate(nodes)}
    if len(pos) != len(nodes):
        raise SpecError(f"tree {tree_id} repeats a nodeId")
    behaviour = [node_enum.Name(nd.nodeBehavior) for nd in nodes]
    leaf = np.array([b == "LeafNode" for b in behaviour])
    children = set()
    true_child = np.zeros(len(nodes), dtype=np.int64)
    false_child = np.zeros(len(nodes), dtype=np.int64)
    values = np.zeros((len(nodes), dims), dtype=np.float64)
    for i, nd in enumerate(nodes):
        if leaf[i]:
            for info in nd.evaluationInfo:
                if info.evaluationIndex >= dims:
                    raise SpecError(f"evaluationIndex {info.evaluationIndex} >= numPredictionDimensions {dims}")
                values[i, info.evaluationIndex] += info.evaluationValue
            continue
        for child in (nd.trueChildNodeId, nd.falseChildNodeId):
            if child not in pos:
                raise SpecError(f"tree {tree_id} node {nd.nodeId} names a missing child {child}")
            children.add(child)
        true_child[i], false_child[i] = pos[nd.trueChildNodeId], pos[nd.falseChildNodeId]
    roots = [pos[nd.nodeId] for nd in nodes if nd.nodeId not in children]
    if len(roots) != 1:
        raise SpecError(f"tree {tree_id} has {len(roots)} roots; the specification requires exactly one")
    return {
        "root": np.int64(roots[0]), "leaf": leaf, "true": true_child, "false": false_child, "values": values,
        "feature": np.array([nd.branchFeatureIndex for nd in nodes], dtype=np.int64),
        "threshold": np.array([nd.branchFeatureValue for nd in nodes], dtype=np.float64),
        "missing_true": np.array([nd.missingValueTracksTrueChild for nd in nodes], dtype=bool),
        "mode": np.array([_ORDER.index(b) if b in _COMPARE else -1 for b in behaviour], dtype=np.int64),
    }


def _sums(params: Any, x: np.ndarray) -> np.ndarray:
    dims = params.numPredictionDimensions
    n = len(x)
    total = np.zeros((n, dims), dtype=np.float64)
    if len(params.basePredictionValue):
        total += np.asarray(params.basePredictionValue, dtype=np.float64)
    node_enum = type(params).TreeNode.TreeNodeBehavior
    grouped: dict[int, list[Any]] = {}
    for node in params.nodes:
        grouped.setdefault(node.treeId, []).append(node)
    rows = np.arange(n)
    for tree_id, nodes in grouped.items():
        t = _tree_arrays(nodes, node_enum, dims, tree_id)
        at = np.full(n, t["root"], dtype=np.int64)
        for _ in range(len(nodes) + 1):  # a path visits each node at most once
            moving = ~t["leaf"][at]
            if not moving.any():
                break
            here = at[moving]
            value = x[rows[moving], t["feature"][here]]
            with np.errstate(invalid="ignore"):
                outcomes = np.stack([op(value, t["threshold"][here]) for op in _COMPARE.values()])
            go_true = outcomes[t["mode"][here], np.arange(len(here))]
            go_true = np.where(np.isnan(value), t["missing_true"][here], go_true)
            at[moving] = np.where(go_true, t["true"][here], t["false"][here])
        else:
            raise SpecError(f"tree {tree_id} has a cycle")
        total += t["values"][at]
    return total


def _transform(name: str, s: np.ndarray) -> np.ndarray:
    if name == "NoTransform":
        return s
    if name == "Regression_Logistic":
        return 1.0 / (1.0 + np.exp(-s))
    if name == "Classification_SoftMaxWithZeroClassReference":
        s = np.concatenate([np.zeros((len(s), 1)), s], axis=1)
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _input(model: Any, feeds: dict[str, Any]) -> np.ndarray:
    return np.concatenate([as_columns(feeds[i.name]) for i in model.description.input], axis=1)


def tree_regressor(model: Any, feeds: dict[str, Any]) -> dict[str, Any]:
    spec = model.treeEnsembleRegressor
    names = type(spec).DESCRIPTOR.fields_by_name["postEvaluationTransform"].enum_type.values_by_number
    y = _transform(names[spec.postEvaluationTransform].name, _sums(spec.treeEnsemble, _input(model, feeds)))
    out = model.description.output[0]
    return {out.name: y[:, 0] if feature_kind(out.type) == "double" else y}


def tree_classifier(model: Any, feeds: dict[str, Any]) -> dict[str, Any]:
    spec = model.treeEnsembleClassifier
    labels = class_labels(spec)
    names = type(spec).DESCRIPTOR.fields_by_name["postEvaluationTransform"].enum_type.values_by_number
    p = _transform(names[spec.postEvaluationTransform].name, _sums(spec.treeEnsemble, _input(model, feeds)))
    if p.shape[1] == 1 and len(labels) == 2:
        p = np.concatenate([1.0 - p, p], axis=1)
    if p.shape[1] != len(labels):
        raise SpecError(f"the ensemble gives {p.shape[1]} scores for {len(labels)} classes")
    return classifier_result(model.description, labels, p)
