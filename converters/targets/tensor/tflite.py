"""TFLite artifacts of tensor models: float32, float16 weights, dynamic-range int8 and full int8
calibrated on the build's sample (inputs and outputs float32 by default, so one feed serves every variant;
int8 or uint8 on request: --option tflite.int8_io=int8).

Converted from the source's TensorFlow function (tf_graph.py) with TFLite builtins only (a Flex op
would need full TensorFlow on the device). Artifacts are run through their signature (`serving_default`):
input and output names there are the package's, whatever the flatbuffer calls its tensors.
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

import numpy as np

from ....runtime.errors import ModelError, UsageError
from ....runtime.tensors import DTYPES, relayout
from ..base import Artifact, check_options, chosen_variants
from .tf_graph import TFFunction, input_dtype, save_model, tf_function

# int8_io: the full int8 variant's input/output type. "float32" (default) keeps float tensors at the edges
# (one feed serves every variant); "int8"/"uint8" make an all-integer model for accelerators and apps
# that hand it quantized data: the entry records each tensor's scale and zero point, and every runner
# quantizes inputs and dequantizes outputs from that record (runtime/tensors.py).
OPTIONS: dict[str, Any] = {"variants": "float32,float16,int8-dynamic,int8", "int8_io": "float32"}
INT8_IO = ("float32", "int8", "uint8")
REPRESENTATIVE_ROWS = 100
SIGNATURE = "serving_default"

VARIANTS: dict[str, tuple[str, str, str, str | None]] = {
    "float32": ("tflite", "model.tflite", "float32", None),
    "float16": ("tflite-float16", "model-float16.tflite", "float16", "float16-weights"),
    "int8-dynamic": ("tflite-int8-dynamic", "model-int8-dynamic.tflite", "int8", "dynamic"),
    "int8": ("tflite-int8", "model-int8.tflite", "int8", "full-int8"),
}


def convert(fn: TFFunction, saved: str, variant: str, sample: dict[str, np.ndarray] | None,
            int8_io: str = "float32") -> bytes:
    """One variant's flatbuffer from the function's SavedModel (`saved`). Raises ModelError when TFLite
    builtins cannot express the graph."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=[SIGNATURE])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if variant != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if variant == "int8":
        if sample is None:
            raise ModelError("full int8 needs the build's sample as representative data")
        arrays = [_to_layout(sample[name], fn, name)[:REPRESENTATIVE_ROWS] for name in fn.inputs]
        converter.representative_dataset = lambda: ({n: a[i:i + 1] for n, a in zip(fn.inputs, arrays)}
                                                    for i in range(len(arrays[0])))
        if int8_io != "float32":
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = converter.inference_output_type = tf.as_dtype(int8_io)
    try:
        return bytes(converter.convert())
    except Exception as exc:  # the converter raises ConverterError and others
        raise ModelError(f"TFLite could not convert the model ({variant}): {type(exc).__name__}: {exc}") from exc


def _to_layout(array: np.ndarray, fn: TFFunction, name: str) -> np.ndarray:
    return relayout(np.asarray(array, dtype=DTYPES[input_dtype(fn, name)]), _package_layout(fn, name), fn.layouts.get(name))


def _package_layout(fn: TFFunction, name: str) -> str | None:
    return getattr(fn, "package_layouts", {}).get(name, fn.layouts.get(name))


def signature_names(data: bytes) -> tuple[list[str], list[str]]:
    from ai_edge_litert.interpreter import Interpreter

    sig = Interpreter(model_content=data).get_signature_list()[SIGNATURE]
    return list(sig["inputs"]), list(sig["outputs"])


def integer_io(data: bytes) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The signature's int8/uint8 inputs and outputs: {tensor name: {"dtype", "scale", "zero_point"}}
    (real value = (q - zero_point) * scale), as the interpreter reads them from the flatbuffer."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=data).get_signature_runner(SIGNATURE)
    found = []
    for details in (runner.get_input_details(), runner.get_output_details()):
        found.append({name: {"dtype": np.dtype(d["dtype"]).name, "scale": float(d["quantization"][0]),
                             "zero_point": int(d["quantization"][1])}
                      for name, d in details.items() if np.dtype(d["dtype"]) in (np.int8, np.uint8)})
    return found[0], found[1]


def emit(source: Any, options: dict[str, Any] | None = None) -> list[Artifact]:
    import tensorflow as tf

    opts = check_options("tflite", options or {}, OPTIONS)
    if opts["int8_io"] not in INT8_IO:
        raise UsageError(f"bad tflite int8_io {opts['int8_io']!r}", where="--option tflite.int8_io",
                         fix=f"choose from: {', '.join(INT8_IO)} (the full int8 variant's input/output type)")
    fn = tf_function(source)
    fn.package_layouts = {s.name: s.layout for s in source.inputs}  # type: ignore[attr-defined]
    batch = None
    try:
        built = _convert_all(fn, opts, source)
    except ModelError as err:
        # A loop over a TensorList needs a static element shape: TFLite's builtins take it only with a
        # fixed batch. One row per call then. (Keras GRU/LSTM no longer come here: tf_graph.unrolled.)
        if "TensorList" not in err.what or source.framework != "keras":
            raise
        batch = 1
        fn = tf_function(source, batch=batch)
        fn.package_layouts = {s.name: s.layout for s in source.inputs}  # type: ignore[attr-defined]
        built = _convert_all(fn, opts, source)
    artifacts = []
    for variant, data in built.items():
        art_id, file, precision, quantization = VARIANTS[variant]
        sig_in, sig_out = signature_names(data)
        int_in, int_out = integer_io(data) if variant == "int8" else ({}, {})
        entry = {"id": art_id, "format": "tflite", "file": file, "precision": precision, "default": variant == "float32",
                 "converter": {"name": f"tensorflow.lite (from {fn.converter['name']} {fn.converter['version']})",
                               "version": tf.__version__},
                 "signature": SIGNATURE,
                 "inputs": [_input_entry(fn, n, _pick(n, sig_in), int_in) for n in fn.inputs],
                 "outputs": {o: _pick(o, sig_out) for o in fn.outputs}}
        if int_out:  # outputs the app dequantizes: (q - zero_point) * scale
            entry["output_quantization"] = int_out
        if quantization:
            entry["quantization"] = quantization
        if batch:
            entry["batch"] = batch  # the artifact takes exactly this many rows per call
        artifacts.append(Artifact(id=art_id, format="tflite", files={file: data}, entry=entry))
    return artifacts


def _input_entry(fn: TFFunction, name: str, tensor: str, integer: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One artifact input; an int8/uint8 one records the scale and zero point its values are quantized with."""
    entry: dict[str, Any] = {"name": tensor, "input": name, "dtype": input_dtype(fn, name)}
    if fn.layouts.get(name):
        entry["layout"] = fn.layouts[name]
    if tensor in integer:
        entry["dtype"] = integer[tensor]["dtype"]
        entry["quantization"] = {"scale": integer[tensor]["scale"], "zero_point": integer[tensor]["zero_point"]}
    return entry


def _convert_all(fn: TFFunction, opts: dict[str, Any], source: Any) -> dict[str, bytes]:
    """Every requested variant's flatbuffer; a variant other than float32 that fails is left out (said on
    stderr), float32 failing raises ModelError."""
    built = {}
    with tempfile.TemporaryDirectory(prefix="edgepack-tflite-") as tmp:
        saved = save_model(fn, os.path.join(tmp, "saved_model"))
        for variant in chosen_variants("tflite", opts["variants"], VARIANTS):
            try:
                io = opts["int8_io"] if variant == "int8" else "float32"
                built[variant] = convert(fn, saved, variant, getattr(source, "sample_inputs", None), io)
            except ModelError as err:
                if variant == "float32":
                    raise
                print(f"{VARIANTS[variant][0]}: not built: {err.what}", file=sys.stderr)
    return built


def _pick(name: str, names: list[str]) -> str:
    if name in names:
        return name
    if len(names) == 1:
        return names[0]
    raise ModelError(f"the TFLite signature has no tensor {name!r} (it has {', '.join(names)})")
