"""scikit-learn to ONNX through skl2onnx, shaped so that the graph agrees with scikit-learn.

Why the graph is built in two parts: scikit-learn preprocesses in float64 and tree models then cast to
float32 before comparing with their thresholds. A float32 preprocessing graph lands a few ulps away from
scikit-learn's values, which flips a tree decision whenever a value sits at a split (measured on the
churn example: 2 of 1,000 rows off by 0.026 in probability). So numeric inputs are float64, the
preprocessing runs in float64, one Cast to float32 happens where scikit-learn casts, and the final
estimator runs in float32 with skl2onnx's sklearn-adjusted thresholds. Tree models are the exception:
their estimator is built from the shared tree reader (onnx_trees.py) and takes the float64 values
itself, so each split decides in the precision the source decides in. Plain tensor outputs (no ZipMap),
because browser runtimes cannot read sequences of maps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...runtime.errors import ModelError
from ..sources.sklearn import TREE_FAMILIES, walk
from ..sources.trees import read
from .onnx_trees import tree_graph

OPSET = {"": 17, "ai.onnx.ml": 3}


def _initial_types(source: Any, schema: Any) -> tuple[list[tuple[str, Any]], list[dict[str, Any]]]:
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType

    if source.fitted_on_frame and (any(not f.numeric for f in schema.features) or _has_column_transformer(source)):
        types, binding = [], []
        for feat in schema.features:
            kind = "string" if feat.type == "category" else "float64"
            types.append((feat.name, StringTensorType([None, 1]) if kind == "string" else DoubleTensorType([None, 1])))
            binding.append({"name": feat.name, "features": [feat.name], "dtype": kind})
        return types, binding
    n = len(schema.features)
    return [("input", DoubleTensorType([None, n]))], [{"name": "input", "features": schema.names, "dtype": "float64"}]


def _has_column_transformer(source: Any) -> bool:
    return any(type(p).__name__ == "ColumnTransformer" for p in walk(source.model))


def _split(model: Any) -> tuple[Any | None, Any]:
    """(preprocessing pipeline or None, final estimator)."""
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline):
        head = model[:-1] if len(model.steps) > 1 else None
        pre, final = _split(model.steps[-1][1])
        if pre is not None:
            head = pre if head is None else Pipeline([("head", head), ("inner", pre)])
        return head, final
    return None, model


def _imputers_to_standard_ops(graph: Any, statistics: list[np.ndarray]) -> None:
    """onnxruntime implements ai.onnx.ml Imputer for float32 only; express it with IsNaN/Where for float64.
    The Imputer's attribute holds float32 values; the fill is the fitted imputer's own float64 statistics
    (`statistics`: each SimpleImputer's, matched by value), so an imputed value is exactly scikit-learn's
    (a tree comparing in float64 may split right at it: imputed rows are many)."""
    from onnx import helper, numpy_helper

    nodes = []
    for node in graph.node:
        if node.op_type != "Imputer":
            nodes.append(node)
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        fill = np.asarray(attrs.get("imputed_value_floats") or attrs.get("imputed_value_int64s"), dtype=np.float64)
        fill = next((s for s in statistics if s.shape == fill.shape and np.array_equal(s.astype(np.float32), fill.astype(np.float32))),
                    fill)
        replaced = float(attrs.get("replaced_value_float", np.nan))
        const = f"{node.name}_fill"
        graph.initializer.append(numpy_helper.from_array(fill.reshape(1, -1), const))
        mask = f"{node.name}_mask"
        if np.isnan(replaced):
            nodes.append(helper.make_node("IsNaN", [node.input[0]], [mask], name=f"{node.name}_isnan"))
        else:
            value = f"{node.name}_replaced"
            graph.initializer.append(numpy_helper.from_array(np.array(replaced, dtype=np.float64), value))
            nodes.append(helper.make_node("Equal", [node.input[0], value], [mask], name=f"{node.name}_eq"))
        nodes.append(helper.make_node("Where", [mask, const, node.input[0]], [node.output[0]], name=f"{node.name}_where"))
    del graph.node[:]
    graph.node.extend(nodes)


def _align_opsets(*models: Any) -> None:
    """onnx.compose needs equal opset imports; the ops emitted here mean the same across these versions."""
    from onnx import helper

    want: dict[str, int] = {}
    for m in models:
        for o in m.opset_import:
            want[o.domain] = max(want.get(o.domain, 0), o.version)
    ir = max(m.ir_version for m in models)
    for m in models:
        del m.opset_import[:]
        m.opset_import.extend(helper.make_opsetid(d, v) for d, v in sorted(want.items()))
        m.ir_version = ir


def _rename_outputs(model: Any, names: dict[str, str]) -> None:
    """Give the graph outputs the package's names (label, probabilities, value)."""
    from onnx import helper

    graph = model.graph
    for out in list(graph.output):
        new = names.get(out.name)
        if new and new != out.name:
            graph.node.append(helper.make_node("Identity", [out.name], [new], name=f"rename_{new}"))
            out.name = new


def convert(source: Any, schema: Any) -> tuple[bytes, dict[str, Any]]:
    """The scikit-learn model as ONNX bytes, plus the manifest fields for its inputs and outputs."""
    import onnx
    from onnx import TensorProto, compose, helper
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    types, binding = _initial_types(source, schema)
    pre, final = _split(source.model)
    final_options = {id(final): {"zipmap": False}} if source.task == "classification" else {}
    try:
        if pre is not None:
            head = convert_sklearn(pre, initial_types=types, target_opset=OPSET)
            _imputers_to_standard_ops(head.graph, [np.asarray(p.statistics_, dtype=np.float64) for p in walk(pre)
                                                   if type(p).__name__ == "SimpleImputer"])
            n_features = int(final.n_features_in_)
        else:
            n_features = len(schema.features)
            head = helper.make_model(
                helper.make_graph([], "inputs", [helper.make_tensor_value_info("input", TensorProto.DOUBLE, [None, n_features])],
                                  [helper.make_tensor_value_info("input", TensorProto.DOUBLE, [None, n_features])]),
                opset_imports=[helper.make_opsetid("", OPSET[""])],
            )
        trees = type(final).__name__ in TREE_FAMILIES
        if trees:
            tail = tree_graph(read(final), n_features, getattr(final, "classes_", None))
        else:
            tail = convert_sklearn(final, initial_types=[("features", FloatTensorType([None, n_features]))],
                                   options=final_options, target_opset=OPSET)
    except Exception as exc:  # skl2onnx raises RuntimeError, NotImplementedError, ...
        raise ModelError(f"skl2onnx could not convert the model: {type(exc).__name__}: {exc}",
                         fix="report the model's structure; the estimators listed by edgepack build --help convert") from exc

    head_out = head.graph.output[0].name
    if not trees:
        # The one float64 -> float32 cast, where scikit-learn's estimators cast.
        head.graph.node.append(helper.make_node("Cast", [head_out], ["features_f32"], to=TensorProto.FLOAT, name="to_float32"))
        del head.graph.output[:]
        head.graph.output.append(helper.make_tensor_value_info("features_f32", TensorProto.FLOAT, [None, n_features]))
        head_out = "features_f32"
    _align_opsets(head, tail)
    merged = compose.merge_models(head, tail, io_map=[(head_out, "features")], prefix2="est_")

    if source.task == "classification":
        outputs = {"label": "label", "probabilities": "probabilities"}
        _rename_outputs(merged, {"est_label": "label", "est_probabilities": "probabilities"})
    else:
        outputs = {"value": "value"}
        _rename_outputs(merged, {"est_variable": "value"})
    merged.producer_name = "edgepack"
    merged.graph.name = "edgepack_model"
    onnx.checker.check_model(merged, full_check=True)
    opsets = {o.domain or "ai.onnx": o.version for o in merged.opset_import}
    return merged.SerializeToString(), {"inputs": binding, "outputs": outputs, "opset": opsets}


def convert_with_info(source: Any, schema: Any) -> tuple[bytes, dict[str, Any], dict[str, str]]:
    """convert() plus the converter's name and version for the manifest."""
    import skl2onnx

    data, fields = convert(source, schema)
    return data, fields, {"name": "skl2onnx", "version": skl2onnx.__version__}
