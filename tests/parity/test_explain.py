"""Tree paths against float32 thresholds, on a hand-made TreeEnsembleRegressor node."""

from __future__ import annotations

import numpy as np
from edgepack.parity.explain import NEAR_ULPS, _Ensemble, _path_splits
from onnx import helper


def _stump(threshold: float, missing_true: int = 0) -> _Ensemble:
    # tree 0: node 0 "x[1] <= threshold" -> node 1 (leaf) else node 2 (leaf)
    node = helper.make_node(
        "TreeEnsembleRegressor", ["X"], ["Y"], domain="ai.onnx.ml",
        nodes_treeids=[0, 0, 0], nodes_nodeids=[0, 1, 2], nodes_featureids=[1, 0, 0],
        nodes_modes=["BRANCH_LEQ", "LEAF", "LEAF"], nodes_values=[threshold, 0.0, 0.0],
        nodes_truenodeids=[1, 0, 0], nodes_falsenodeids=[2, 0, 0], nodes_missing_value_tracks_true=[missing_true, 0, 0],
        target_ids=[0, 0], target_nodeids=[1, 2], target_treeids=[0, 0], target_weights=[1.0, 2.0])
    return _Ensemble.parse(node)


def test_value_one_ulp_above_threshold_is_near():
    t = np.float32(0.3)
    above = np.nextafter(t, np.float32(1))
    (split,) = _path_splits(_stump(float(t)), np.array([9.0, above], dtype=np.float32))
    assert split["ulps"] == 1.0 and split["ulps"] <= NEAR_ULPS and split["feature_index"] == 1


def test_far_value_and_missing_value():
    (split,) = _path_splits(_stump(0.3), np.array([0.0, 0.8], dtype=np.float32))
    assert split["ulps"] > 1e5  # 0.5 away from 0.3: millions of ulps
    (split,) = _path_splits(_stump(0.3, missing_true=1), np.array([0.0, np.nan], dtype=np.float32))
    assert split["value"] is None and split["missing_goes"] == "true branch"


def test_a_continuous_difference_is_rounding_of_the_arithmetic_and_a_large_one_is_not():
    from edgepack.parity.explain import ARITHMETIC_ERROR, _why

    (far,) = _path_splits(_stump(0.3), np.array([0.0, 0.8], dtype=np.float32))
    far["feature"] = "x[1]"
    small = _why([], far, [], 1.8e-7, 1e-7)  # beyond a 1e-7 limit, but no split decision can be that small
    assert "rounding of the arithmetic" in small and "not a rounding effect" not in small and "1.8e-07" in small
    large = _why([], far, [], 0.25, 1e-5)
    assert "not a rounding effect" in large and ARITHMETIC_ERROR < 0.25


def test_double_thresholds_are_walked_in_double():
    # A float64 threshold one double step below the value: float32 would call them equal and go left.
    t = 0.3
    node = helper.make_node(
        "TreeEnsembleRegressor", ["X"], ["Y"], domain="ai.onnx.ml",
        nodes_treeids=[0, 0, 0], nodes_nodeids=[0, 1, 2], nodes_featureids=[0, 0, 0],
        nodes_modes=["BRANCH_LEQ", "LEAF", "LEAF"],
        nodes_values_as_tensor=helper.make_tensor("v", 11, [3], [t, 0.0, 0.0]),
        nodes_truenodeids=[1, 0, 0], nodes_falsenodeids=[2, 0, 0],
        target_ids=[0, 0], target_nodeids=[1, 2], target_treeids=[0, 0], target_weights=[1.0, 2.0])
    trees = _Ensemble.parse(node)
    assert trees.thresholds.dtype == np.float64
    (split,) = _path_splits(trees, np.array([np.nextafter(t, 1.0)]))
    assert split["value"] > split["threshold"]


def test_opset5_tree_ensemble_is_walked_with_its_double_splits():
    from onnx import numpy_helper

    # root: x[0] <= 0.3 -> leaf 0, else node 1: x[1] <= 2.0 -> leaf 1, else leaf 2
    node = helper.make_node(
        "TreeEnsemble", ["X"], ["Y"], domain="ai.onnx.ml", n_targets=1, aggregate_function=1, post_transform=0,
        tree_roots=[0], nodes_featureids=[0, 1], nodes_splits=numpy_helper.from_array(np.array([0.3, 2.0])),
        nodes_modes=numpy_helper.from_array(np.zeros(2, dtype=np.uint8)), nodes_truenodeids=[0, 1], nodes_trueleafs=[1, 1],
        nodes_falsenodeids=[1, 2], nodes_falseleafs=[0, 1], leaf_targetids=[0, 0, 0],
        leaf_weights=numpy_helper.from_array(np.array([1.0, 2.0, 3.0])))
    trees = _Ensemble.parse(node)
    splits = _path_splits(trees, np.array([np.nextafter(0.3, 1.0), 5.0]))
    assert [(s["node"], s["feature_index"]) for s in splits] == [(0, 0), (1, 1)]
    assert splits[0]["threshold"] == 0.3 and splits[1]["value"] > splits[1]["threshold"]


def test_set_membership_nodes_are_walked_by_their_sets():
    """opset 5 TreeEnsemble with two BRANCH_MEMBER nodes (sets {0, 2} and {1}, NaN-separated, in node order,
    a member 0 included): the walk takes the set's branch (hand-worked: x = 2 -> node 0 true -> leaf 0;
    x = 1 -> node 0 false -> node 1 true -> leaf 1)."""
    from onnx import numpy_helper

    node = helper.make_node(
        "TreeEnsemble", ["X"], ["Y"], domain="ai.onnx.ml", n_targets=1, aggregate_function=1, post_transform=0,
        tree_roots=[0], nodes_featureids=[0, 0], nodes_modes=numpy_helper.from_array(np.array([6, 6], dtype=np.uint8)),
        nodes_splits=numpy_helper.from_array(np.array([np.nan, np.nan])), nodes_missing_value_tracks_true=[0, 0],
        nodes_truenodeids=[0, 1], nodes_trueleafs=[1, 1], nodes_falsenodeids=[1, 2], nodes_falseleafs=[0, 1],
        membership_values=numpy_helper.from_array(np.array([0.0, 2.0, np.nan, 1.0, np.nan])),
        leaf_targetids=[0, 0, 0], leaf_weights=numpy_helper.from_array(np.array([1.0, 2.0, 3.0])))
    trees = _Ensemble.parse(node)
    (split,) = _path_splits(trees, np.array([2.0]))
    assert split["mode"] == "BRANCH_MEMBER" and split["ulps"] == float("inf")
    first, second = _path_splits(trees, np.array([1.0]))
    assert (first["node"], second["node"]) == (0, 1)
    assert len(_path_splits(trees, np.array([0.0]))) == 1  # 0 is in node 0's set
    assert len(_path_splits(trees, np.array([5.0]))) == 2  # in no set: on to node 1, then its false leaf
