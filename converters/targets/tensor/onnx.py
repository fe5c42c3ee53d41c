"""ONNX artifacts of tensor models: an ONNX source is its own artifact (checked with onnx.checker and run
in onnxruntime against the reference evaluator by the build); a Keras model goes through tf2onnx from
the same TensorFlow function the other targets convert."""

from __future__ import annotations

import sys
from typing import Any

from ....runtime.errors import ModelError
from ..base import Artifact, check_options, chosen_variants
from .onnx_variants import VARIANTS, emit_variant
from .tf_graph import frozen, recursion_limit_kept, tf_function

OPTIONS: dict[str, Any] = {"variants": "float32,float16,int8-dynamic,int8-static"}
KNOWN = {"float32": None, **{v: None for v in VARIANTS}}
OPSET = 17


def emit(source: Any, options: dict[str, Any] | None = None) -> list[Artifact]:
    opts = check_options("onnx", options or {}, OPTIONS)
    if source.framework == "onnx":
        import onnx

        data = source.data
        converter = {"name": "onnx (source graph, checked)", "version": onnx.__version__}
        opsets = {o.domain or "ai.onnx": o.version for o in source.model.opset_import}
    else:
        data, converter, opsets = _from_keras(source)
    entry = {"id": "onnx", "format": "onnx", "file": "model.onnx", "precision": "float32", "default": True,
             "converter": converter, "opset": opsets,
             "inputs": [{"name": s.name, "input": s.name, "dtype": s.dtype, **({"layout": s.layout} if s.layout else {})}
                        for s in source.inputs],
             "outputs": {o.name: o.name for o in source.outputs}}
    base = Artifact(id="onnx", format="onnx", files={"model.onnx": data}, entry=entry)
    built = [base]
    for mode in chosen_variants("onnx", opts["variants"], KNOWN):
        if mode == "float32":
            continue
        try:
            built.append(emit_variant(base, mode, source))
        except Exception as exc:  # a quantizer refusing a graph loses the variant, not the package
            print(f"onnx-{mode}: not built: {type(exc).__name__}: {exc}", file=sys.stderr)
    return built


def _from_keras(source: Any) -> tuple[bytes, dict[str, str], dict[str, int]]:
    with recursion_limit_kept():
        return _tf2onnx(source)


def _tf2onnx(source: Any) -> tuple[bytes, dict[str, str], dict[str, int]]:
    import tf2onnx
    from onnx import helper

    fn = tf_function(source)
    graph = frozen(fn)
    try:
        proto, _ = tf2onnx.convert.from_graph_def(
            graph.graph.as_graph_def(), input_names=[t.name for t in graph.inputs],
            output_names=[t.name for t in graph.outputs], opset=OPSET)
    except Exception as exc:  # tf2onnx raises many types for ops it cannot map
        raise ModelError(f"tf2onnx could not convert the model: {type(exc).__name__}: {exc}") from exc
    # Graph inputs "image:0" -> "image"; outputs in the function's (sorted) output order -> package names.
    for value in proto.graph.input:
        old, new = value.name, value.name.split(":")[0]
        for node in proto.graph.node:
            node.input[:] = [new if i == old else i for i in node.input]
        value.name = new
    order = sorted(fn.outputs)  # a tf.function's dict outputs flatten in sorted key order
    for value, name in zip(proto.graph.output, order):
        if value.name != name:
            proto.graph.node.append(helper.make_node("Identity", [value.name], [name], name=f"rename_{name}"))
            value.name = name
    opsets = {o.domain or "ai.onnx": o.version for o in proto.opset_import}
    return proto.SerializeToString(), {"name": "tf2onnx", "version": tf2onnx.__version__}, opsets
