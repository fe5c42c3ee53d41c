"""Quantized variants of the ONNX artifact: float16, dynamic int8, static int8 (QDQ), weight-only int8.

Where they apply: to weight tensors of MatMul/Gemm nodes, i.e. scikit-learn's MLPs (and Keras networks).
skl2onnx writes linear models (LinearClassifier/LinearRegressor) and tree ensembles (TreeEnsemble*) as
ai.onnx.ml operators whose parameters are node attributes, not tensors: onnxruntime's quantizer has
nothing to quantize there and those operators have no float16 kernels, so every mode is reported as not
applicable for them rather than emitting a copy that is no smaller.

The scikit-learn graph takes float64 numbers and string categories and computes the estimator in float32
(tree models: in float64, targets/onnx_trees.py; targets/onnx_sklearn.py); the variants keep those inputs and the float32 `probabilities`/`value` outputs
as they are, so callers feed and read every variant the same way.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...runtime.records import tensors_for
from ..targets.base import Artifact
from .base import NotApplicable, QuantizeContext, variant_artifact

MODES: dict[str, str] = {
    "float16": "weights and float32 compute in half precision (onnxconverter-common); inputs/outputs unchanged",
    "int8-dynamic": "int8 weights, activations quantized per batch at run time (onnxruntime.quantization)",
    "int8-static": "int8 weights and activations, QDQ, ranges calibrated on the sample (onnxruntime.quantization)",
    "int8-weights": "int8 weights per output channel, dequantized when the model loads; float32 compute",
}
WEIGHT_OPS = ("MatMul", "Gemm")
# Ops quantized by the static mode. Softmax and what follows stay float32: quantizing the probabilities
# themselves to 8 bits added up to 0.004 of error for no size gain (measured on a digits MLP).
STATIC_OPS = ["MatMul", "Gemm", "Add", "Relu"]
CALIBRATION_BATCH = 64
FLOAT = 1


def emit_variant(base: Artifact, mode: str, context: QuantizeContext) -> Artifact:
    """The `mode` variant of the float32 ONNX artifact. Raises NotApplicable (with the reason) or KeyError."""
    import onnx

    model = onnx.load_from_string(base.files[base.entry["file"]])
    _check_applicable(model)
    _merge_opset_imports(model)
    if mode == "float16":
        data, converter = _float16(model)
        precision, quantization = "float16", "float16"
    elif mode == "int8-dynamic":
        data, converter = _int8_dynamic(model)
        precision, quantization = "int8", "dynamic"
    elif mode == "int8-weights":
        data, converter = _int8_weights(model)
        precision, quantization = "int8", "weights-int8"
    elif mode == "int8-static":
        data, converter = _int8_static(model, base, context)
        precision, quantization = "int8", "static-qdq"
    else:
        raise KeyError(mode)
    return variant_artifact(base, mode, data, f"model.{mode}.onnx", precision, quantization, converter)


def weight_parameters(model: Any) -> int:
    """Number of float32 weights held in initializers that feed MatMul/Gemm nodes."""
    from onnx import numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    total = 0
    for node in model.graph.node:
        if node.op_type in WEIGHT_OPS:
            for name in node.input[1:]:
                init = inits.get(name)
                if init is not None and init.data_type == FLOAT:
                    total += numpy_helper.to_array(init).size
    return total


def _check_applicable(model: Any) -> None:
    if weight_parameters(model):
        return
    ml_ops = sorted({n.op_type for n in model.graph.node if n.domain == "ai.onnx.ml"})
    where = f" of ai.onnx.ml {', '.join(ml_ops)}" if ml_ops else ""
    raise NotApplicable(f"no MatMul/Gemm weight tensors: the parameters are node attributes{where}, "
                        "which onnxruntime's quantizer cannot reach")


def _merge_opset_imports(model: Any) -> None:
    """One entry per domain (the merged scikit-learn graph may repeat them; the quantizer refuses that)."""
    from onnx import helper

    versions: dict[str, int] = {}
    for o in model.opset_import:
        versions[o.domain] = max(versions.get(o.domain, 0), o.version)
    del model.opset_import[:]
    model.opset_import.extend(helper.make_opsetid(d, v) for d, v in versions.items())


def _float16(model: Any) -> tuple[bytes, dict[str, str]]:
    import onnx
    import onnxconverter_common
    from onnx import numpy_helper
    from onnxconverter_common import float16

    # Casts to float32 (the float64 -> float32 step, skl2onnx's own casts) keep their float32 output:
    # converted in place they would still say to=FLOAT while their output is typed float16, which
    # onnxruntime refuses. Blocked, the converter inserts a float32 -> float16 Cast after each.
    casts = [n.name for n in model.graph.node
             if n.op_type == "Cast" and any(a.name == "to" and a.i == FLOAT for a in n.attribute)]
    ml_ops = sorted({n.op_type for n in model.graph.node if n.domain == "ai.onnx.ml"})
    with warnings.catch_warnings():  # "truncated to 1e-07" for near-zero weights: expected, and measured
        warnings.simplefilter("ignore", UserWarning)
        f16 = float16.convert_float_to_float16(model, keep_io_types=True, node_block_list=casts,
                                               op_block_list=sorted(set(float16.DEFAULT_OP_BLOCK_LIST) | set(ml_ops)))
    # The converter stores float16 initializers in int32_data (a varint per value, up to 3 bytes);
    # raw_data holds exactly 2 bytes per value, which is what makes the file half the size.
    for i, init in enumerate(f16.graph.initializer):
        if init.data_type == onnx.TensorProto.FLOAT16 and not init.raw_data:
            f16.graph.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init), init.name))
    # The converter writes a value_info entry per tensor; onnxruntime infers them, and on a small MLP they
    # were 3 % of the float32 size (the difference between 55.6 % and 53 % of it).
    del f16.graph.value_info[:]
    onnx.checker.check_model(f16)
    return f16.SerializeToString(), {"name": "onnxconverter-common", "version": onnxconverter_common.__version__}


@contextlib.contextmanager
def _quiet_quantizer() -> Iterator[None]:
    # onnxruntime.quantization logs a "consider pre-processing" warning on root for every call.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _ort_converter() -> dict[str, str]:
    import onnxruntime

    return {"name": "onnxruntime.quantization", "version": onnxruntime.__version__}


def _int8_dynamic(model: Any) -> tuple[bytes, dict[str, str]]:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="edgepack-q-") as tmp, _quiet_quantizer():
        src, dst = Path(tmp) / "in.onnx", Path(tmp) / "out.onnx"
        onnx.save(model, src)
        # Per-channel scales: on a digits MLP they cut the largest probability error from 0.021 to 0.018.
        quantize_dynamic(src, dst, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=list(WEIGHT_OPS))
        return dst.read_bytes(), _ort_converter()


def _int8_static(model: Any, base: Artifact, context: QuantizeContext) -> tuple[bytes, dict[str, str]]:
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static


    binding = base.entry["inputs"]
    n = len(context.records)
    if n == 0:
        raise NotApplicable("no calibration rows: the sample is too small to hold some out and calibrate on the rest")
    batches = []
    for start in range(0, n, CALIBRATION_BATCH):
        part = {k: v[start:start + CALIBRATION_BATCH] for k, v in context.columns.items()}
        batches.append(tensors_for(binding, part, context.schema))

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(batches)

        def get_next(self) -> dict[str, Any] | None:
            return next(self._it, None)

    with tempfile.TemporaryDirectory(prefix="edgepack-q-") as tmp, _quiet_quantizer():
        src, dst = Path(tmp) / "in.onnx", Path(tmp) / "out.onnx"
        onnx.save(model, src)
        quantize_static(src, dst, Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, op_types_to_quantize=STATIC_OPS)
        return dst.read_bytes(), _ort_converter()


def _int8_weights(model: Any) -> tuple[bytes, dict[str, str]]:
    """Weight-only int8: each MatMul/Gemm weight becomes int8 with one float32 scale per output channel,
    restored by Cast(int8 -> float32) * scale; activations stay float32.

    Why this mode beside onnxruntime's two: on a digits MLP (128, 64) it was the smallest file (31 % of
    float32, no zero points, no activation ranges) and the only int8 variant that kept every label on rows
    the model never saw (max probability error 0.009; dynamic 0.02, static QDQ 0.79 with 1.2 % of labels
    flipped because those rows left the calibrated ranges). Cast * scale rather than DequantizeLinear:
    onnxruntime keeps DequantizeLinear out of constant folding and dequantized on every call (6.7 times the
    float32 single-row latency), while Cast and Mul of initializers fold into float32 weights when the
    session loads, so the variant runs like float32 and only the file shrinks (benchmarks/quantize.py).
    """
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    dequantize = []
    done: set[str] = set()
    for node in graph.node:
        if node.op_type not in WEIGHT_OPS:
            continue
        name = node.input[1]
        init = inits.get(name)
        if init is None or init.data_type != FLOAT or name in done:
            continue
        weights = numpy_helper.to_array(init)
        # Gemm with transB=1 holds weights as [N, K]: the output channel is then axis 0.
        trans_b = node.op_type == "Gemm" and any(a.name == "transB" and a.i for a in node.attribute)
        axis = 0 if trans_b or weights.ndim == 1 else 1
        if weights.ndim != 2:
            continue
        shape = (-1, 1) if axis == 0 else (1, -1)
        scale = (np.abs(weights).max(axis=1 - axis) / 127.0).reshape(shape)
        scale[scale == 0] = 1.0
        q = np.clip(np.round(weights / scale), -127, 127).astype(np.int8)
        graph.initializer.remove(init)
        graph.initializer.extend([numpy_helper.from_array(q, f"{name}_int8"),
                                  numpy_helper.from_array(scale.astype(np.float32), f"{name}_scale")])
        dequantize += [
            helper.make_node("Cast", [f"{name}_int8"], [f"{name}_int8_as_float"], to=FLOAT, name=f"{name}_cast"),
            helper.make_node("Mul", [f"{name}_int8_as_float", f"{name}_scale"], [name], name=f"{name}_dequantize"),
        ]
        done.add(name)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(dequantize + nodes)
    onnx.checker.check_model(model)
    return model.SerializeToString(), {"name": "edgepack", "version": _edgepack_version()}


def _edgepack_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("edgepack")
    except PackageNotFoundError:
        return "unknown"
