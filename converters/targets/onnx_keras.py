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
    try:
        proto, _ = tf2onnx.convert.from_function(graph.function, input_signature=graph.function.input_signature,
                                                 opset=OPSET)
    except Exception as exc:  # tf2onnx raises many types for ops it cannot map
        raise ModelError(f"tf2onnx could not convert the model: {type(exc).__name__}: {exc}") from exc
    # tf2onnx names graph outputs after the function's structured outputs, in order; give them the package's names.
    outputs = {}
    for out, name in zip(proto.graph.output, graph.outputs):
        if out.name != name:
            proto.graph.node.append(helper.make_node("Identity", [out.name], [name], name=f"rename_{name}"))
            out.name = name
        outputs[name] = name
    inputs = [{"name": proto.graph.input[0].name, "features": graph.features, "dtype": "float32"}]
    assert proto.graph.input[0].name in (INPUT_NAME, f"{INPUT_NAME}:0"), proto.graph.input[0].name
    opsets = {o.domain or "ai.onnx": o.version for o in proto.opset_import}
    return proto.SerializeToString(), {"inputs": inputs, "outputs": outputs, "opset": opsets}, \
        {"name": "tf2onnx", "version": tf2onnx.__version__}
