"""Boosted trees (XGBoost, LightGBM, CatBoost) to ONNX: ai.onnx.ml TreeEnsemble (opset 5) in double.

Why edgepack writes this graph instead of using onnxmltools' converters or CatBoost's own export (measured,
docs/ARCHITECTURE.md "Boosted trees"): onnxmltools' XGBoost converter refuses any model fitted on named
columns (it wants f0, f1...), CatBoost's export covers a bare model only (not a Pipeline), and both
write float32 TreeEnsembleRegressor/Classifier that sum leaves in float32 (LightGBM Tweedie on diabetes:
1.5e-4 off). One writer over the arrays every reader produces (sources/boosted_trees.py) serves the three
libraries alone or behind scikit-learn preprocessing, and the same arrays are what the TensorFlow and
Core ML tree readers will take. Opset 5 takes double thresholds and a double input: the graph compares
exactly in the precision each library compares in (XGBoost and CatBoost: the input rounded to float32 by
a Cast pair, thresholds that are float32 values; LightGBM: float64 as is), routes NaN per node as the
library does (`nodes_missing_value_tracks_true`), and sums leaves in double.

Input: one tensor [N, F] float64 (`input` for a booster file; the preprocessing's output inside a
scikit-learn Pipeline). Outputs: `probabilities` [N, C] or `value` [N], float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...runtime.errors import ModelError
from ..sources.boosted_trees import BoostedEnsemble

OPSET = {"": 17, "ai.onnx.ml": 5}
BRANCH = {"<=": 0, "<": 1}  # TreeEnsemble nodes_modes: BRANCH_LEQ, BRANCH_LT


def _tree_ensemble_node(ensemble: BoostedEnsemble, x: str, out: str) -> Any:
    from onnx import helper, numpy_helper

    mode = BRANCH[ensemble.decision]
    modes: list[int] = []
    features: list[int] = []
    splits: list[float] = []
    missing: list[int] = []
    members: list[float] = []
    true_ids: list[int] = []
    true_leaf: list[int] = []
    false_ids: list[int] = []
    false_leaf: list[int] = []
    roots: list[int] = []
    leaf_targets: list[int] = []
    leaf_weights: list[float] = []
    for tree in ensemble.trees:
        is_leaf = tree.left < 0
        # number this tree's interior nodes and leaves in the global arrays, in node order
        inner_at = np.cumsum(~is_leaf) - 1 + len(modes)
        leaf_at = np.cumsum(is_leaf) - 1 + len(leaf_weights)
        for i in np.flatnonzero(is_leaf):
            leaf_targets.append(tree.target)
            leaf_weights.append(float(tree.value[i]))
        if is_leaf[0]:  # a single-leaf tree: a split whose two branches reach the same leaf
            roots.append(len(modes))
            modes.append(mode)
            features.append(0)
            splits.append(0.0)
            missing.append(0)
            true_ids.append(int(leaf_at[0]))
            true_leaf.append(1)
            false_ids.append(int(leaf_at[0]))
            false_leaf.append(1)
            continue
        roots.append(int(inner_at[0]))
        for i in np.flatnonzero(~is_leaf):
            features.append(int(tree.feature[i]))
            left_set = (tree.left_categories or {}).get(int(i))
            if left_set is not None:  # BRANCH_MEMBER: x in the node's set (membership_values, NaN-separated)
                modes.append(6)
                splits.append(np.nan)
                members.extend([*map(float, left_set), np.nan])
            else:
                modes.append(mode)
                splits.append(float(tree.threshold[i]))
            missing.append(int(tree.missing_left[i]))  # the true branch is the left child
            for child, ids, leafs in ((tree.left[i], true_ids, true_leaf), (tree.right[i], false_ids, false_leaf)):
                ids.append(int(leaf_at[child] if is_leaf[child] else inner_at[child]))
                leafs.append(int(is_leaf[child]))
    extra = {"membership_values": numpy_helper.from_array(np.asarray(members, dtype=np.float64), "membership_values")} \
        if members else {}
    return helper.make_node(
        "TreeEnsemble", [x], [out], domain="ai.onnx.ml", name="trees", **extra,
        n_targets=ensemble.n_targets, aggregate_function=1, post_transform=0, tree_roots=roots,
        nodes_modes=numpy_helper.from_array(np.asarray(modes, dtype=np.uint8), "nodes_modes"),
        nodes_featureids=features,
        nodes_splits=numpy_helper.from_array(np.asarray(splits, dtype=np.float64), "nodes_splits"),
        nodes_missing_value_tracks_true=missing,
        nodes_truenodeids=true_ids, nodes_trueleafs=true_leaf, nodes_falsenodeids=false_ids, nodes_falseleafs=false_leaf,
        leaf_targetids=leaf_targets,
        leaf_weights=numpy_helper.from_array(np.asarray(leaf_weights, dtype=np.float64), "leaf_weights"),
    )


def tail_model(ensemble: BoostedEnsemble, input_name: str) -> Any:
    """The trees as an ONNX model from a float64 [N, F] tensor `input_name` to `probabilities` or `value`."""
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    x = input_name
    if ensemble.input_precision == "float32":  # the library rounds its input to float32 before comparing
        nodes.append(helper.make_node("Cast", [x], ["x_f32"], to=TensorProto.FLOAT, name="round_to_float32"))
        nodes.append(helper.make_node("Cast", ["x_f32"], ["x_rounded"], to=TensorProto.DOUBLE, name="back_to_double"))
        x = "x_rounded"
    nodes.append(_tree_ensemble_node(ensemble, x, "tree_sum"))
    inits.append(numpy_helper.from_array(ensemble.base.reshape(1, -1).astype(np.float64), "base"))
    nodes.append(helper.make_node("Add", ["tree_sum", "base"], ["raw"], name="add_base"))
    inits.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), "flat"))
    if ensemble.link == "sigmoid":
        inits.append(numpy_helper.from_array(np.array(1.0, dtype=np.float64), "one"))
        nodes += [helper.make_node("Sigmoid", ["raw"], ["p1"], name="sigmoid"),
                  helper.make_node("Sub", ["one", "p1"], ["p0"], name="complement"),
                  helper.make_node("Concat", ["p0", "p1"], ["probabilities"], axis=1, name="probabilities")]
        out = helper.make_tensor_value_info("probabilities", TensorProto.DOUBLE, [None, 2])
    elif ensemble.link == "softmax":
        nodes.append(helper.make_node("Softmax", ["raw"], ["probabilities"], axis=1, name="probabilities"))
        out = helper.make_tensor_value_info("probabilities", TensorProto.DOUBLE, [None, ensemble.n_targets])
    else:
        last = "raw"
        if ensemble.link == "exp":
            nodes.append(helper.make_node("Exp", ["raw"], ["raw_exp"], name="exp"))
            last = "raw_exp"
        nodes.append(helper.make_node("Reshape", [last, "flat"], ["value"], name="value"))
        out = helper.make_tensor_value_info("value", TensorProto.DOUBLE, [None])
    graph = helper.make_graph(nodes, "edgepack_trees",
                              [helper.make_tensor_value_info(input_name, TensorProto.DOUBLE, [None, ensemble.n_features])],
                              [out], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in OPSET.items()],
                              producer_name="edgepack")
    model.ir_version = 10
    return model


def output_names(ensemble: BoostedEnsemble) -> dict[str, str]:
    return {"probabilities": "probabilities"} if ensemble.link in ("sigmoid", "softmax") else {"value": "value"}


def convert_with_info(source: Any, schema: Any) -> tuple[bytes, dict[str, Any], dict[str, str]]:
    """A booster file's model as ONNX bytes, its manifest fields and the converter's name and version."""
    from importlib.metadata import version

    import onnx

    ensemble = source.ensemble
    if len(schema.features) != ensemble.n_features:
        raise ModelError(f"the schema has {len(schema.features)} features but the trees read {ensemble.n_features}")
    model = tail_model(ensemble, "input")
    onnx.checker.check_model(model, full_check=True)
    fields = {"inputs": [{"name": "input", "features": schema.names, "dtype": "float64"}],
              "outputs": output_names(ensemble), "opset": {d or "ai.onnx": v for d, v in OPSET.items()}}
    return model.SerializeToString(), fields, {"name": "edgepack.converters.targets.onnx_boosting",
                                               "version": version("edgepack")}
