"""A read tree ensemble (converters/sources/trees.py) as an ONNX graph that decides exactly as the source.

The graph takes the estimator's input in float64 (no cast) and one TreeEnsemble node (ai.onnx.ml opset
5, the form with typed tensors) compares it with float64 thresholds and sums float64 leaf values:
onnxruntime and the ONNX reference evaluator both run it in double. The thresholds are the source's own:
as fitted where the library compares float64 values (HistGradientBoosting), and, where it first casts
its input to float32 (DecisionTree, RandomForest, ExtraTrees, GradientBoosting), the double T with
`x <= T` exactly when `float32(x) <= t` (lowering/thresholds.py), so the cast is folded in rather than
run. The base score, the link (sigmoid, softmax, exp) and the label (ArgMax, looked up in the classes)
follow in double; the package's outputs are cast to float32 at the end, as before.

skl2onnx's tree converters cast to float32 before comparing with float32 thresholds: a float64 value
within a float32 step of a HistGradientBoosting threshold took the other branch (0.25 in probability
on rows placed on the thresholds), which this graph cannot do. (TreeEnsembleRegressor's
`*_as_tensor` attributes would carry doubles too, but the ONNX reference evaluator ignores them.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...runtime.errors import ModelError
from ..lowering.thresholds import float32_cast_thresholds
from ..sources.trees import Ensemble, Tree

INPUT = "features"
ML_OPSET = 5  # TreeEnsemble
ONNX_OPSET = 21  # the default-domain opset ai.onnx.ml 5 is defined with
BRANCH_LEQ = 0  # TreeEnsemble's nodes_modes: x <= split goes to the true branch


def _one_output_trees(ens: Ensemble) -> tuple[list[Tree], np.ndarray]:
    """TreeEnsemble's leaves add one weight to one output: a tree writing k outputs (a classifier tree's
    class fractions) becomes k trees of the same shape, and a tree that is a single leaf joins the base."""
    base = np.asarray(ens.base, dtype=np.float64).copy()
    trees = []
    for tree in ens.trees:
        if not np.any(tree.feature >= 0):
            base[tree.output:tree.output + tree.value.shape[1]] += tree.value[0]
            continue
        for d in range(tree.value.shape[1]):
            trees.append(Tree(tree.feature, tree.threshold, tree.missing_left, tree.left, tree.right,
                              tree.value[:, d:d + 1], tree.output + d))
    return trees, base


def _tree_attributes(trees: list[Tree], float32_inputs: bool) -> dict[str, Any]:
    """TreeEnsemble's arrays: internal nodes and leaves numbered across all trees; a child is a node or a
    leaf index, told apart by the *_leafs flags."""
    from onnx import numpy_helper

    roots: list[int] = []
    nodes: dict[str, list[Any]] = {k: [] for k in ("featureids", "splits", "truenodeids", "trueleafs", "falsenodeids",
                                                  "falseleafs", "missing_value_tracks_true")}
    leaf_targets: list[int] = []
    leaf_weights: list[float] = []
    for tree in trees:
        thresholds = float32_cast_thresholds(tree.threshold) if float32_inputs else tree.threshold
        internal, leaves = np.flatnonzero(tree.feature >= 0), np.flatnonzero(tree.feature < 0)
        node_at = {int(n): len(nodes["featureids"]) + i for i, n in enumerate(internal)}
        leaf_at = {int(n): len(leaf_targets) + i for i, n in enumerate(leaves)}
        leaf_targets.extend([tree.output] * len(leaves))
        leaf_weights.extend(float(v) for v in tree.value[leaves, 0])
        roots.append(node_at[int(internal[0])])
        for n in internal:
            nodes["featureids"].append(int(tree.feature[n]))
            nodes["splits"].append(float(thresholds[n]))
            nodes["missing_value_tracks_true"].append(int(tree.missing_left[n]))  # true branch = the left child
            for child, ids, flags in ((int(tree.left[n]), "truenodeids", "trueleafs"), (int(tree.right[n]), "falsenodeids", "falseleafs")):
                is_leaf = tree.feature[child] < 0
                nodes[ids].append(leaf_at[child] if is_leaf else node_at[child])
                nodes[flags].append(int(is_leaf))
    attrs: dict[str, Any] = {f"nodes_{k}": v for k, v in nodes.items() if k != "splits"}
    attrs["nodes_splits"] = numpy_helper.from_array(np.asarray(nodes["splits"], dtype=np.float64))
    attrs["nodes_modes"] = numpy_helper.from_array(np.full(len(nodes["featureids"]), BRANCH_LEQ, dtype=np.uint8))
    attrs.update(tree_roots=roots, leaf_targetids=leaf_targets,
                 leaf_weights=numpy_helper.from_array(np.asarray(leaf_weights, dtype=np.float64)))
    return attrs


def _classes_tensor(classes: Any) -> Any:
    from onnx import numpy_helper

    values = np.asarray(classes)
    if values.dtype.kind in "iub":
        return numpy_helper.from_array(values.astype(np.int64), "classes")
    if values.dtype.kind in "UO":
        return numpy_helper.from_array(np.asarray([str(c) for c in values], dtype=object), "classes")
    raise ModelError(f"tree classifier classes of type {values.dtype} cannot be labels in ONNX",
                     fix="use integer or string class labels")


def tree_graph(ens: Ensemble, n_features: int, classes: Any | None) -> Any:
    """The ONNX model: input `features` (float64 [N, n_features]) -> `label` + `probabilities`
    (classifiers, `classes` given) or `variable` ([N, 1], regressors), outputs float32."""
    from onnx import TensorProto, helper, numpy_helper

    trees, base = _one_output_trees(ens)
    if not trees:
        raise ModelError("a tree model without a single split has no ONNX TreeEnsemble form here")
    inits = [numpy_helper.from_array(base.reshape(1, -1), "base")]
    nodes = [helper.make_node("TreeEnsemble", [INPUT], ["sums"], domain="ai.onnx.ml", name="trees", n_targets=ens.n_out,
                              aggregate_function=1, post_transform=0, **_tree_attributes(trees, ens.float32_inputs)),
             helper.make_node("Add", ["sums", "base"], ["scores"], name="base_score")]
    if classes is None:
        if ens.link not in ("identity", "exp"):
            raise ModelError(f"a tree regressor with a {ens.link} link has no ONNX form here")
        nodes += [helper.make_node("Exp" if ens.link == "exp" else "Identity", ["scores"], ["value64"], name="link"),
                  helper.make_node("Cast", ["value64"], ["variable"], to=TensorProto.FLOAT, name="to_float32")]
        outputs = [helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, 1])]
    else:
        if ens.link == "sigmoid":
            inits.append(numpy_helper.from_array(np.array(1.0, dtype=np.float64), "one"))
            nodes += [helper.make_node("Sigmoid", ["scores"], ["p1"], name="link"),
                      helper.make_node("Sub", ["one", "p1"], ["p0"], name="complement"),
                      helper.make_node("Concat", ["p0", "p1"], ["p64"], axis=1, name="two_classes")]
        elif ens.link == "softmax":
            nodes.append(helper.make_node("Softmax", ["scores"], ["p64"], axis=1, name="link"))
        elif ens.link == "identity":  # class fractions already
            nodes.append(helper.make_node("Identity", ["scores"], ["p64"], name="link"))
        else:
            raise ModelError(f"a tree classifier with a {ens.link} link has no ONNX form here")
        inits.append(_classes_tensor(classes))
        label_type = TensorProto.INT64 if inits[-1].data_type == TensorProto.INT64 else TensorProto.STRING
        nodes += [helper.make_node("Cast", ["p64"], ["probabilities"], to=TensorProto.FLOAT, name="to_float32"),
                  helper.make_node("ArgMax", ["p64"], ["index"], axis=1, keepdims=0, name="argmax"),
                  helper.make_node("Gather", ["classes", "index"], ["label"], axis=0, name="label_of_index")]
        outputs = [helper.make_tensor_value_info("label", label_type, [None]),
                   helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, len(classes)])]
    graph = helper.make_graph(nodes, "trees", [helper.make_tensor_value_info(INPUT, TensorProto.DOUBLE, [None, n_features])],
                              outputs, initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET), helper.make_opsetid("ai.onnx.ml", ML_OPSET)])
