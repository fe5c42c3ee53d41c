"""The TFLite target: float32, float16, weight-only int8, dynamic-range int8 and full int8 flatbuffers.

Every variant is converted from the same frozen TensorFlow function (converters/lowering/) with
TFLite builtin operators only: a Flex (Select TF) operator would need the full TensorFlow runtime on
the device, so the converter is told to fail instead. Inputs and outputs stay float32 in every
variant (full int8 quantizes inside the graph), so one encoding (contract 2) feeds them all: the graph's
(float32 [N, F], or float64-parts [N, F, 3] for trees that decide in float64).
Weight-only int8 is the float32 flatbuffer with its weights rewritten (converters/quantize/tflite.py).
The build checks each variant under its precision's profile and keeps only those that pass.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from ...runtime.errors import ModelError
from ...runtime.records import tensors_for
from ..lowering import lower
from ..quantize.tflite import int8_weights
from ..sources.sample import frame_columns
from .base import Artifact, check_options, chosen_variants

OPTIONS: dict[str, Any] = {"tree_strategy": "auto", "variants": "float32,float16,int8-weights,int8-dynamic,int8"}
REPRESENTATIVE_ROWS = 200

# variant -> (artifact id, file, precision, quantization or None)
VARIANTS: dict[str, tuple[str, str, str, str | None]] = {
    "float32": ("tflite", "model.tflite", "float32", None),
    "float16": ("tflite-float16", "model-float16.tflite", "float16", "float16-weights"),
    "int8-weights": ("tflite-int8-weights", "model-int8-weights.tflite", "int8", "weights-int8"),
    "int8-dynamic": ("tflite-int8-dynamic", "model-int8-dynamic.tflite", "int8", "dynamic"),
    "int8": ("tflite-int8", "model-int8.tflite", "int8", "full-int8"),
}


def sample_tensor(source: Any, schema: Any, rows: int = REPRESENTATIVE_ROWS, dtype: str = "float32") -> np.ndarray:
    """The build's sample encoded as the input tensor of `dtype` (contract 2), at most `rows` rows."""

    frame = getattr(source, "sample", None)
    if frame is None:
        raise ModelError("full int8 quantization needs the build's sample as representative data")
    frame = frame.head(rows)
    binding = [{"name": "x", "features": list(schema.names), "dtype": dtype}]
    return tensors_for(binding, frame_columns(frame, schema), schema)["x"]


# Elementwise ops kept in float in full int8: a model's input scaling (e.g. a Keras Normalization layer)
# would otherwise take its raw features through one per-tensor int8 scale, which wipes out the features
# with small ranges (measured: 86.7 % label agreement on a 100k-parameter network, 100 % with these in float).
FLOAT_OPS_IN_INT8 = ["SUB", "MUL", "DIV", "SQRT", "RSQRT", "MAXIMUM"]


def _converter(graph: Any, variant: str, source: Any, schema: Any) -> Any:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_concrete_functions([graph.frozen()])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if variant != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "float16":
        converter.target_spec.supported_types = [tf.float16]
    return converter


def convert(graph: Any, variant: str, source: Any, schema: Any) -> bytes:
    """One variant's flatbuffer. Raises ModelError when TFLite builtins cannot express the graph."""
    import tensorflow as tf

    converter = _converter(graph, variant, source, schema)
    try:
        if variant != "int8":
            return bytes(converter.convert())
        data = sample_tensor(source, schema, dtype=graph.dtype)
        rows = lambda: ([data[i:i + 1]] for i in range(len(data)))  # noqa: E731
        converter.representative_dataset = rows
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter, debug_dataset=rows,
            debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=FLOAT_OPS_IN_INT8))
        return bytes(debugger.get_nondebug_quantized_model())
    except Exception as exc:  # the converter raises ConverterError and others
        raise ModelError(f"TFLite could not convert the model ({variant}): {type(exc).__name__}: {exc}") from exc


def weights_only(float32: bytes) -> bytes:
    """The int8-weights variant of the float32 flatbuffer. Raises ModelError when it cannot be rewritten."""
    try:
        return int8_weights(float32)
    except Exception as exc:  # a flatbuffer layout the rewrite does not know
        raise ModelError(f"TFLite weights could not be quantized: {type(exc).__name__}: {exc}") from exc


def tensor_names(data: bytes) -> tuple[str, list[str]]:
    """(input tensor name, output tensor names) as the interpreter reports them."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=data)
    return interpreter.get_input_details()[0]["name"], [o["name"] for o in interpreter.get_output_details()]


def emit(source: Any, schema: Any, options: dict[str, Any] | None = None) -> list[Artifact]:
    """Every requested variant as an Artifact (float32 first, the default)."""
    import tensorflow as tf

    opts = check_options("tflite", options or {}, OPTIONS)
    graph = lower(source, schema, {"tree_strategy": opts["tree_strategy"]})
    artifacts = []
    float32 = b""
    # float32 first: the default, and what int8-weights rewrites
    for variant in sorted(chosen_variants("tflite", opts["variants"], VARIANTS), key=lambda v: v != "float32"):
        art_id, file, precision, quantization = VARIANTS[variant]
        if variant != "float32" and graph.unquantizable:
            print(f"{art_id}: not built: {graph.unquantizable}", file=sys.stderr)
            continue
        try:
            data = weights_only(float32) if variant == "int8-weights" else convert(graph, variant, source, schema)
        except ModelError as err:
            if variant == "float32":
                raise
            print(f"{art_id}: not built: {err.what}", file=sys.stderr)  # a variant, not the package, failed
            continue
        if variant == "float32":
            float32 = data
        input_name, output_names = tensor_names(data)
        entry = {
            "id": art_id, "format": "tflite", "file": file, "precision": precision,
            "default": variant == "float32",
            "converter": {"name": "tensorflow.lite", "version": tf.__version__},
            "inputs": [{"name": input_name, "features": graph.features, "dtype": graph.dtype}],
            "outputs": dict(zip(graph.outputs, output_names)),
        }
        if quantization:
            entry["quantization"] = quantization
        artifacts.append(Artifact(id=art_id, format="tflite", files={file: data}, entry=entry, notes=list(graph.notes)))
    return artifacts
