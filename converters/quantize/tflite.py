"""TFLite's quantized variants: the modes `--quantize` names, and weight-only int8.

The TFLite target builds its variants itself from the lowered TensorFlow function (targets/tflite.py:
the float32 flatbuffer first, the others from the same function or from that flatbuffer), so this
module has MODES and no emit_variant: the build hands the wanted modes to the target as its `variants`
option (TARGET_OPTION).

Why weight-only int8 beside TensorFlow's two int8 modes: on a 16-512-384-3 Keras network dynamic-range
int8 (activations quantized per batch at run time) and full int8 (activations on calibrated ranges)
missed the int8 profile, while int8 weights with float32 compute kept every label (docs/BENCHMARKS.md).
TensorFlow's converter has no weight-only mode, so the float32 flatbuffer is rewritten here: each
FULLY_CONNECTED / CONV_2D / DEPTHWISE_CONV_2D weight becomes an int8 tensor with one scale per output
channel (symmetric, zero point 0) feeding a DEQUANTIZE op, the same pattern the converter writes for
float16 weights. The interpreter dequantizes constant inputs once, when it prepares the graph, so the
variant computes in float32 like the float32 artifact; only the file shrinks (about 4x on weights).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .weights import quantize_per_channel, with_float32

MODES: dict[str, str] = {
    "float16": "float16 weights dequantized at load; float32 compute (tf.lite float16 quantization)",
    "int8-weights": "int8 weights per output channel, dequantized at load by DEQUANTIZE; float32 compute",
    "int8-dynamic": "int8 weights, activations quantized per batch at run time (tf.lite dynamic range)",
    "int8": "int8 weights and activations on ranges calibrated on the sample; float32 inputs/outputs",
}
# builtin op -> which input holds the weights, and its output-channel axis
WEIGHT_INPUTS: dict[str, tuple[int, int]] = {"FULLY_CONNECTED": (1, 0), "CONV_2D": (1, 0), "DEPTHWISE_CONV_2D": (1, 3)}
MIN_WEIGHTS = 64  # smaller tensors (biases of tiny layers) cost more in scales and ops than they save
TARGET_OPTION = "variants"  # the target option that takes the wanted modes
target_option = with_float32  # the target always builds float32, its default


def int8_weights(data: bytes) -> bytes:
    """The float32 flatbuffer `data` with its layer weights stored as per-channel int8 + DEQUANTIZE.
    Returns `data` unchanged when no weight tensor qualifies (the build then drops the variant as not smaller)."""
    from tensorflow.lite.python import schema_py_generated as fb
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(data))
    ops = {fb.BuiltinOperator.__dict__[name]: spec for name, spec in WEIGHT_INPUTS.items()}
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    dequantize = _opcode(model, fb, fb.BuiltinOperator.DEQUANTIZE)
    changed = False
    for graph in model.subgraphs:
        done: set[int] = set()
        new_ops = []
        for op in graph.operators:
            spec = ops.get(codes[op.opcodeIndex])
            if spec is None or len(op.inputs) <= spec[0]:
                continue
            index = int(op.inputs[spec[0]])
            if index < 0 or index in done:
                continue
            tensor = graph.tensors[index]
            buf = model.buffers[tensor.buffer]
            if tensor.type != fb.TensorType.FLOAT32 or buf.data is None or len(buf.data) < 4 * MIN_WEIGHTS:
                continue
            weights = np.frombuffer(bytes(bytearray(buf.data)), dtype="<f4").reshape(tensor.shape)
            q, scale = quantize_per_channel(weights, spec[1])
            qt = fb.TensorT()
            qt.shape, qt.type, qt.name = list(tensor.shape), fb.TensorType.INT8, (tensor.name or b"") + b"_int8"
            qt.quantization = fb.QuantizationParametersT()
            qt.quantization.scale = [float(s) for s in scale]
            qt.quantization.zeroPoint = [0] * len(scale)
            qt.quantization.quantizedDimension = spec[1]
            qbuf = fb.BufferT()
            qbuf.data = np.frombuffer(q.tobytes(), dtype=np.uint8)
            model.buffers.append(qbuf)
            qt.buffer = len(model.buffers) - 1
            buf.data = None  # the float32 tensor is now the DEQUANTIZE op's output
            graph.tensors.append(qt)
            op_t = fb.OperatorT()
            op_t.opcodeIndex, op_t.inputs, op_t.outputs = dequantize, [len(graph.tensors) - 1], [index]
            new_ops.append(op_t)
            done.add(index)
        if new_ops:
            graph.operators = new_ops + list(graph.operators)
            changed = True
    if not changed:
        return data
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _opcode(model: Any, fb: Any, builtin: int) -> int:
    """The index of `builtin`'s operator code in the model, added when absent."""
    for i, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            return i
    code = fb.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode, code.version = builtin, min(builtin, 127), 4
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1

