"""Keras to ONNX through tf2onnx, from the same TensorFlow function the TFLite and TF.js targets use.

The function already returns the package's outputs ({"probabilities"} with a sigmoid unit widened to
two columns, or {"value"}), so every format computes exactly the same thing.
"""

from __future__ import annotations

from typing import Any

from ...runtime.errors import ModelError
from ..lowering import INPUT_NAME, lower

OPSET = 17


def convert_with_info(source: Any, schema: Any) -> tuple[bytes, dict[str, Any], dict[str, str]]:
    """ONNX bytes, manifest fields (inputs, outputs, opset) and the converter {name, version}."""
    import tf2onnx
    from onnx import helper

    graph = lower(source, schema)
    # From the frozen graph: a Keras model's non-trainable variables (e.g. Normalization's mean) would
    # otherwise stay graph inputs.
    frozen = graph.frozen()
    try:
        proto, _ = tf2onnx.convert.from_graph_def(
            frozen.graph.as_graph_def(), input_names=[t.name for t in frozen.inputs],
            output_names=[t.name for t in frozen.outputs], opset=OPSET)
    except Exception as exc:  # tf2onnx raises many types for ops it cannot map
        raise ModelError(f"tf2onnx could not convert the model: {type(exc).__name__}: {exc}") from exc
    # tf2onnx names graph outputs after the function's structured outputs, in order; give them the package's names.
    outputs = {}
    for out, name in zip(proto.graph.output, graph.outputs):
        if out.name != name:
            proto.graph.node.append(helper.make_node("Identity", [out.name], [name], name=f"rename_{name}"))
            out.name = name
        outputs[name] = name
    if len(proto.graph.input) != 1:
        raise ModelError(f"the ONNX graph has inputs {[i.name for i in proto.graph.input]}, expected one")
    _rename_input(proto, INPUT_NAME)  # "features:0" (a TensorFlow tensor name) -> "features", as on TFLite/TF.js
    inputs = [{"name": proto.graph.input[0].name, "features": graph.features, "dtype": "float32"}]
    opsets = {o.domain or "ai.onnx": o.version for o in proto.opset_import}
    return proto.SerializeToString(), {"inputs": inputs, "outputs": outputs, "opset": opsets}, \
        {"name": "tf2onnx", "version": tf2onnx.__version__}


def _rename_input(proto: Any, name: str) -> None:
    old = proto.graph.input[0].name
    for node in proto.graph.node:
        node.input[:] = [name if i == old else i for i in node.input]
    proto.graph.input[0].name = name
