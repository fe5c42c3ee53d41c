"""Quantized ONNX variants of tensor models: float16 (the tabular quantizer's conversion), int8 dynamic
(weights of Conv/MatMul/Gemm, activations per call) and int8 static (QDQ, activation ranges calibrated on
the build's sample). The build keeps each only if it passes its precision's profile."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ....runtime.tensors import DTYPES
from ...quantize.base import variant_artifact
from ...quantize.onnx import _float16, _ort_converter, _quiet_quantizer
from ..base import Artifact

WEIGHT_OPS = ["Conv", "MatMul", "Gemm"]
# Static int8: the compute-heavy ops and what sits between them; Softmax stays float32 (probabilities
# at 8 bits add error for no size gain).
STATIC_OPS = ["Conv", "MatMul", "Gemm", "Add", "Relu", "Clip", "MaxPool", "GlobalAveragePool", "AveragePool"]
CALIBRATION_ROWS = 100
VARIANTS = ("float16", "int8-dynamic", "int8-static")


def emit_variant(base: Artifact, mode: str, source: Any) -> Artifact:
    """The `mode` variant of the float32 ONNX artifact."""
    import onnx

    model = onnx.load_from_string(base.files[base.entry["file"]])
    if mode == "float16":
        data, converter = _float16(model)
        return variant_artifact(base, mode, data, "model.float16.onnx", "float16", "float16", converter)
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    with tempfile.TemporaryDirectory(prefix="edgepack-q-") as tmp, _quiet_quantizer():
        src, dst = Path(tmp) / "in.onnx", Path(tmp) / "out.onnx"
        onnx.save(model, src)
        if mode == "int8-dynamic":
            quantize_dynamic(src, dst, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=WEIGHT_OPS)
            quantization = "dynamic"
        else:
            sample = getattr(source, "sample_inputs", None) or {}
            feeds = {t["name"]: np.asarray(sample[t["input"]][:CALIBRATION_ROWS], dtype=DTYPES[t["dtype"]])
                     for t in base.entry["inputs"]}
            rows = [{k: v[i:i + 1] for k, v in feeds.items()} for i in range(len(next(iter(feeds.values()))))]

            class Reader(CalibrationDataReader):
                def __init__(self) -> None:
                    self._it = iter(rows)

                def get_next(self) -> dict[str, Any] | None:
                    return next(self._it, None)

            quantize_static(src, dst, Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=STATIC_OPS)
            quantization = "static-qdq"
        return variant_artifact(base, mode, dst.read_bytes(), f"model.{mode}.onnx", "int8", quantization, _ort_converter())
