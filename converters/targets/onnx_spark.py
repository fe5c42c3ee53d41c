"""Spark ML pipelines to ONNX, lowered stage by stage in float64, the precision Spark computes in.

Why not onnxmltools' Spark converter: it builds float32 graphs (inputs, scalers, float32 tree
thresholds), and Spark compares double features with double thresholds; a float32 graph flips a tree
decision whenever a value lies within float32 rounding of a split, which on a million continuous rows
happens (GBT: a flipped split moves a probability by a leaf value, far above 1e-5). Its tree converter
also reads a categorical split's category set as a threshold. So each supported stage has a small
lowering here (one function per stage, the table LOWERINGS) into standard ONNX ops in float64 plus
ai.onnx.ml LabelEncoder (categories) and TreeEnsemble (ai.onnx.ml opset 5: double split values,
set-membership nodes for categorical splits). The result agrees with Spark to ~1e-15.

Inputs follow the package's binding contract: one tensor per input column, float64 [N, 1] for numbers,
string [N, 1] for categories. Outputs: `probabilities` [N, C] float64 (classifiers) or `value` [N]
float64 (regressors).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ...runtime.errors import ModelError
from ..sources.spark import columns_in, columns_out
from ..sources.spark_trees import normalised, tree_nodes

OPSET = {"": 15, "ai.onnx.ml": 5}
_DOUBLE = 11  # onnx.TensorProto.DOUBLE, without importing onnx at module import


class Graph:
    """A tiny ONNX graph builder: every Spark column is a float64 tensor [N, width]."""

    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.columns: dict[str, tuple[str, int]] = {}  # Spark column -> (tensor name, width)
        self._n = 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, value: Any, hint: str = "c", dtype: Any = np.float64) -> str:
        name = self.name(hint)
        self.initializers.append(self.numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, domain: str = "", **attrs: Any) -> str:
        out = self.name(hint or op_type.lower())
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], name=out, domain=domain, **attrs))
        return out

    def column(self, name: str) -> tuple[str, int]:
        try:
            return self.columns[name]
        except KeyError:
            raise ModelError(f"column {name!r} is used before any stage produces it") from None


def _inputs_of(stage: Any) -> list[str]:
    return columns_in(stage)


def _outputs_of(stage: Any) -> list[str]:
    return columns_out(stage)


# -- feature stages ----------------------------------------------------------------------------------
def _string_indexer(g: Graph, stage: Any, ctx: dict[str, Any]) -> None:
    # Category strings arrive as string tensors; an unknown one gets len(labels) (Spark's "keep" index);
    # with handleInvalid="error" the runtime refuses unknown categories before the graph runs.
    for col, out, labels in zip(_inputs_of(stage), _outputs_of(stage), stage.labelsArray):
        tensor = ctx["string_inputs"].get(col)
        if tensor is None:
            raise ModelError(f"StringIndexer {stage.uid} reads {col!r}, which is not a string input column")
        labels = [str(v) for v in labels]
        idx = g.op("LabelEncoder", [tensor], f"{out}_index", domain="ai.onnx.ml", keys_strings=labels,
                   values_floats=[float(i) for i in range(len(labels))], default_float=float(len(labels)))
        g.columns[out] = (g.op("Cast", [idx], out, to=_DOUBLE), 1)


def _one_hot_encoder(g: Graph, stage: Any, ctx: dict[str, Any]) -> None:
    keep = stage.getOrDefault("handleInvalid") == "keep"
    drop_last = bool(stage.getOrDefault("dropLast"))
    for col, out, size in zip(_inputs_of(stage), _outputs_of(stage), stage.categorySizes):
        x, _ = g.column(col)
        # Spark: width = size (+1 with keep) (-1 with dropLast); an invalid index maps to the extra slot.
        width = size + (1 if keep else 0) - (1 if drop_last else 0)
        if keep:
            valid = g.op("And", [g.op("GreaterOrEqual", [x, g.const(0.0)]), g.op("Less", [x, g.const(float(size))])])
            x = g.op("Where", [valid, x, g.const(float(size))])
        hot = g.op("Equal", [x, g.const(np.arange(width, dtype=np.float64).reshape(1, -1))])
        g.columns[out] = (g.op("Cast", [hot], out, to=_DOUBLE), width)


def _vector_assembler(g: Graph, stage: Any, ctx: dict[str, Any]) -> None:
    parts = [g.column(c) for c in _inputs_of(stage)]
    out = _outputs_of(stage)[0]
    g.columns[out] = (g.op("Concat", [t for t, _ in parts], out, axis=1), sum(w for _, w in parts))


def _vector(values: Any) -> np.ndarray:
    return np.asarray(values.toArray() if hasattr(values, "toArray") else values, dtype=np.float64).reshape(1, -1)


def _standard_scaler(g: Graph, stage: Any, ctx: dict[str, Any]) -> None:
    x, width = g.column(_inputs_of(stage)[0])
    if stage.getOrDefault("withMean"):
        x = g.op("Sub", [x, g.const(_vector(stage.mean))])
    if stage.getOrDefault("withStd"):
        std = _vector(stage.std)
        # Spark multiplies by 1/std, and by 0 where std is 0.
        scale = np.where(std != 0, 1.0 / np.where(std != 0, std, 1.0), 0.0)
        x = g.op("Mul", [x, g.const(scale)])
    g.columns[_outputs_of(stage)[0]] = (g.op("Identity", [x], _outputs_of(stage)[0]), width)


def _min_max_scaler(g: Graph, stage: Any, ctx: dict[str, Any]) -> None:
    x, width = g.column(_inputs_of(stage)[0])
    lo, hi = float(stage.getOrDefault("min")), float(stage.getOrDefault("max"))
    omin, omax = _vector(stage.originalMin), _vector(stage.originalMax)
    span = omax - omin
    scale = np.where(span != 0, (hi - lo) / np.where(span != 0, span, 1.0), 0.0)
    scaled = g.op("Add", [g.op("Mul", [g.op("Sub", [x, g.const(omin)]), g.const(scale)]), g.const(lo)])
    # A constant column maps to the middle of [min, max]; NaN stays NaN (as in Spark).
    const = g.op("Where", [g.const(span == 0, dtype=bool), g.const(np.full_like(span, 0.5 * (hi - lo) + lo)), scaled])
    out = g.op("Where", [g.op("IsNaN", [x]), x, const], _outputs_of(stage)[0])
    g.columns[_outputs_of(stage)[0]] = (out, width)


def _imputer(g: Graph, stage: Any, ctx: dict[str, Any]) -> None:
    surrogates = stage.surrogateDF.collect()[0].asDict()
    missing = float(stage.getOrDefault("missingValue"))
    for col, out in zip(_inputs_of(stage), _outputs_of(stage)):
        x, width = g.column(col)
        mask = g.op("IsNaN", [x])
        if not np.isnan(missing):
            mask = g.op("Or", [mask, g.op("Equal", [x, g.const(missing)])])
        g.columns[out] = (g.op("Where", [mask, g.const(float(surrogates[col])), x], out), width)


def _bucketizer(g: Graph, stage: Any, ctx: dict[str, Any]) -> None:
    multi = stage.isDefined("inputCols")
    all_splits = stage.getOrDefault("splitsArray") if multi else [stage.getOrDefault("splits")]
    keep = stage.getOrDefault("handleInvalid") == "keep"
    for col, out, splits in zip(_inputs_of(stage), _outputs_of(stage), all_splits):
        x, _ = g.column(col)
        inner = np.asarray(splits[1:-1], dtype=np.float64).reshape(1, -1)
        # bucket = how many inner splits x reaches (the last bucket includes the upper bound).
        count = g.op("ReduceSum", [g.op("Cast", [g.op("GreaterOrEqual", [x, g.const(inner)])], to=_DOUBLE),
                                   g.const([1], dtype=np.int64)], keepdims=1)
        if keep:  # NaN goes to the extra bucket len(splits) - 1
            count = g.op("Where", [g.op("IsNaN", [x]), g.const(float(len(splits) - 1)), count])
        g.columns[out] = (g.op("Identity", [count], out), 1)


# -- predictors ----------------------------------------------------------------------------------------
def _logistic_regression(g: Graph, stage: Any, ctx: dict[str, Any]) -> str:
    x, _ = g.column(stage.getOrDefault("featuresCol"))
    if int(stage.numClasses) == 2:
        coef = np.asarray(stage.coefficients.toArray(), dtype=np.float64).reshape(-1, 1)
        margin = g.op("Add", [g.op("MatMul", [x, g.const(coef)]), g.const(float(stage.intercept))])
        p1 = g.op("Sigmoid", [margin])
        return g.op("Concat", [g.op("Sub", [g.const(1.0), p1]), p1], "probabilities_raw", axis=1)
    coef = np.asarray(stage.coefficientMatrix.toArray(), dtype=np.float64).T
    margin = g.op("Add", [g.op("MatMul", [x, g.const(coef)]),
                          g.const(np.asarray(stage.interceptVector.toArray(), dtype=np.float64).reshape(1, -1))])
    return g.op("Softmax", [margin], "probabilities_raw", axis=1)


def _linear_regression(g: Graph, stage: Any, ctx: dict[str, Any]) -> str:
    x, _ = g.column(stage.getOrDefault("featuresCol"))
    coef = np.asarray(stage.coefficients.toArray(), dtype=np.float64).reshape(-1, 1)
    return g.op("Add", [g.op("MatMul", [x, g.const(coef)]), g.const(float(stage.intercept))], "value_raw")


def _tree_nodes(ctx: dict[str, Any], stage: Any) -> dict[int, list[dict[str, Any]]]:
    return tree_nodes(ctx["stage_dirs"].get(stage.uid), stage)


def _tree_ensemble(g: Graph, x: str, trees: list[list[dict[str, Any]]], leaf_value: Callable[[int, int, dict], float],
                   n_targets: int, aggregate: int = 1) -> str:
    """ai.onnx.ml TreeEnsemble (opset 5) over `trees`, one copy of every tree per target (its leaf values
    from `leaf_value(target, tree index, node)`). Continuous splits: x <= threshold goes left, NaN goes right (as in
    Spark); categorical splits: x in the left category set goes left."""
    modes, features, splits, true_ids, true_leaf, false_ids, false_leaf, members = [], [], [], [], [], [], [], []
    roots, leaf_targets, leaf_weights = [], [], []

    for target in range(n_targets):
        for t, nodes in enumerate(trees):
            by_id = {n["id"]: n for n in nodes}
            interior: dict[int, int] = {}
            leaves: dict[int, int] = {}
            for n in nodes:  # number interior nodes and leaves of this tree in the global arrays
                if n["leftChild"] < 0:
                    leaves[n["id"]] = len(leaf_weights) + len(leaves)
                else:
                    interior[n["id"]] = len(modes) + len(interior)
            for node_id in sorted(leaves, key=leaves.get):
                leaf_targets.append(target)
                leaf_weights.append(leaf_value(target, t, by_id[node_id]))
            root = nodes[0]["id"]
            if root in leaves:  # a single-leaf tree: a split that always goes to the same leaf
                roots.append(len(modes))
                modes.append(0)
                features.append(0)
                splits.append(np.inf)
                true_ids.append(leaves[root])
                true_leaf.append(1)
                false_ids.append(leaves[root])
                false_leaf.append(1)
                continue
            roots.append(interior[root])
            for node_id in sorted(interior, key=interior.get):
                n = by_id[node_id]
                split = n["split"]
                values = split["leftCategoriesOrThreshold"]
                features.append(int(split["featureIndex"]))
                if split["numCategories"] >= 0:  # categorical: membership in the left set
                    modes.append(6)
                    splits.append(np.nan)
                    members.extend([float(v) for v in values] + [np.nan])
                else:
                    modes.append(0)
                    splits.append(float(values[0]))
                for child, ids, is_leaf in ((n["leftChild"], true_ids, true_leaf), (n["rightChild"], false_ids, false_leaf)):
                    if child in leaves:
                        ids.append(leaves[child])
                        is_leaf.append(1)
                    else:
                        ids.append(interior[child])
                        is_leaf.append(0)
    attrs: dict[str, Any] = dict(
        n_targets=n_targets, aggregate_function=aggregate, post_transform=0, tree_roots=roots,
        nodes_modes=g.numpy_helper.from_array(np.asarray(modes, dtype=np.uint8)),
        nodes_featureids=features,
        nodes_splits=g.numpy_helper.from_array(np.asarray(splits, dtype=np.float64)),
        nodes_truenodeids=true_ids, nodes_trueleafs=true_leaf, nodes_falsenodeids=false_ids, nodes_falseleafs=false_leaf,
        leaf_targetids=leaf_targets,
        leaf_weights=g.numpy_helper.from_array(np.asarray(leaf_weights, dtype=np.float64)),
    )
    if members:
        attrs["membership_values"] = g.numpy_helper.from_array(np.asarray(members, dtype=np.float64))
    return g.op("TreeEnsemble", [x], "trees", domain="ai.onnx.ml", **attrs)


def _forest_classifier(g: Graph, stage: Any, ctx: dict[str, Any]) -> str:
    # Spark: each tree votes with its leaf's class counts normalised to 1; probability = votes / their sum
    # (a single decision tree is the one-tree case).
    x, _ = g.column(stage.getOrDefault("featuresCol"))
    trees = list(_tree_nodes(ctx, stage).values())
    n = int(stage.numClasses)
    votes = _tree_ensemble(g, x, trees, lambda c, _t, node: float(normalised(node["impurityStats"])[c]), n)
    total = g.op("ReduceSum", [votes, g.const([1], dtype=np.int64)], keepdims=1)
    return g.op("Div", [votes, total], "probabilities_raw")


def _gbt_margin(g: Graph, stage: Any, ctx: dict[str, Any]) -> str:
    x, _ = g.column(stage.getOrDefault("featuresCol"))
    trees = list(_tree_nodes(ctx, stage).values())
    weights = [float(w) for w in stage.treeWeights]
    # Spark: margin = sum_i weight_i * tree_i(x); each leaf here holds weight_i * prediction.
    return _tree_ensemble(g, x, trees, lambda _c, t, node: weights[t] * float(node["prediction"]), 1)


def _gbt_classifier(g: Graph, stage: Any, ctx: dict[str, Any]) -> str:
    margin = _gbt_margin(g, stage, ctx)
    # Spark's logistic loss: p1 = 1 / (1 + exp(-2 * margin)); probability = [1 - p1, p1].
    p1 = g.op("Sigmoid", [g.op("Mul", [margin, g.const(2.0)])])
    return g.op("Concat", [g.op("Sub", [g.const(1.0), p1]), p1], "probabilities_raw", axis=1)


def _tree_regressor(g: Graph, stage: Any, ctx: dict[str, Any]) -> str:
    # Spark: a decision tree predicts its leaf's value; a random forest the mean over its trees.
    x, _ = g.column(stage.getOrDefault("featuresCol"))
    trees = list(_tree_nodes(ctx, stage).values())
    return _tree_ensemble(g, x, trees, lambda _c, _t, node: float(node["prediction"]), 1, aggregate=0)


LOWERINGS: dict[str, Callable[[Graph, Any, dict[str, Any]], Any]] = {
    "StringIndexerModel": _string_indexer,
    "OneHotEncoderModel": _one_hot_encoder,
    "VectorAssembler": _vector_assembler,
    "StandardScalerModel": _standard_scaler,
    "MinMaxScalerModel": _min_max_scaler,
    "ImputerModel": _imputer,
    "Bucketizer": _bucketizer,
    "LogisticRegressionModel": _logistic_regression,
    "DecisionTreeClassificationModel": _forest_classifier,
    "RandomForestClassificationModel": _forest_classifier,
    "GBTClassificationModel": _gbt_classifier,
    "LinearRegressionModel": _linear_regression,
    "DecisionTreeRegressionModel": _tree_regressor,
    "RandomForestRegressionModel": _tree_regressor,
    "GBTRegressionModel": _gbt_margin,
}


def convert(source: Any, schema: Any) -> tuple[bytes, dict[str, Any]]:
    """The Spark pipeline as ONNX bytes, plus the manifest fields for its inputs and outputs.
    Raises ModelError for a stage without a lowering."""
    import onnx
    from onnx import TensorProto, helper

    plan = source.plan
    g = Graph()
    inputs, binding, string_inputs = [], [], {}
    for feat in schema.features:
        if feat.type == "category":
            inputs.append(helper.make_tensor_value_info(feat.name, TensorProto.STRING, [None, 1]))
            binding.append({"name": feat.name, "features": [feat.name], "dtype": "string"})
            string_inputs[feat.name] = feat.name
        else:
            inputs.append(helper.make_tensor_value_info(feat.name, TensorProto.DOUBLE, [None, 1]))
            binding.append({"name": feat.name, "features": [feat.name], "dtype": "float64"})
            g.columns[feat.name] = (feat.name, 1)
    ctx = {"string_inputs": string_inputs, "stage_dirs": plan.stage_dirs}
    for stage in [*plan.stages, plan.predictor]:
        lower = LOWERINGS.get(type(stage).__name__)
        if lower is None:
            raise ModelError(f"no ONNX lowering for Spark stage {type(stage).__name__}",
                             fix=f"supported stages: {', '.join(LOWERINGS)}")
        result = lower(g, stage, ctx)
    if source.task == "classification":
        g.nodes.append(helper.make_node("Identity", [result], ["probabilities"], name="probabilities"))
        outputs = [helper.make_tensor_value_info("probabilities", TensorProto.DOUBLE, [None, len(schema.classes)])]
        names = {"probabilities": "probabilities"}
    else:
        g.nodes.append(helper.make_node("Reshape", [result, g.const([-1], dtype=np.int64)], ["value"], name="value"))
        outputs = [helper.make_tensor_value_info("value", TensorProto.DOUBLE, [None])]
        names = {"value": "value"}
    graph = helper.make_graph(g.nodes, "edgepack_model", inputs, outputs, g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in OPSET.items()],
                              producer_name="edgepack")
    model.ir_version = 10
    onnx.checker.check_model(model, full_check=True)
    opsets = {d or "ai.onnx": v for d, v in OPSET.items()}
    return model.SerializeToString(), {"inputs": binding, "outputs": names, "opset": opsets}
