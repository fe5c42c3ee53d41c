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
