"""The runners table: one row per runtime. Adding a runtime is one module plus one row here.

Rows are (name, formats it runs, "module:Class"); classes are imported only when used, so a runner whose
runtime is missing costs nothing until asked for, and then reports itself unavailable.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any


def _core_ml_runs_here() -> bool:
    """Core ML predicts only on macOS (coremltools' native part); cheap check, no import."""
    return sys.platform == "darwin" and importlib.util.find_spec("coremltools") is not None


# Core ML itself first where it runs; elsewhere the spec evaluator checks Core ML artifacts and the
# `coreml` runner stays last, reporting itself unavailable when asked.
_COREML_ROWS = [("coreml", ("coreml",), "coreml:CoreMLRunner"), ("coreml-spec", ("coreml",), "coreml_spec:CoreMLSpecRunner")]

RUNNERS: list[tuple[str, tuple[str, ...], str]] = [
    ("onnxruntime", ("onnx",), "onnxruntime:OnnxRuntimeRunner"),
    ("tflite", ("tflite",), "tflite:TFLiteRunner"),
    ("tfjs-node-wasm", ("tfjs",), "tfjs_node:TfjsNodeWasmRunner"),
    ("tfjs-node-cpu", ("tfjs",), "tfjs_node:TfjsNodeCpuRunner"),
    ("c-gcc", ("c",), "c_gcc:CGccRunner"),
    ("js-node", ("js",), "js_node:JsNodeRunner"),
    # The same module in a browser page (a browser start per batch): after js-node, never the build's check.
    ("js-chromium", ("js",), "chromium:JsChromiumRunner"),
    ("onnx-reference", ("onnx",), "onnx_reference:OnnxReferenceRunner"),
    ("scorer-cli", ("onnx",), "scorer_cli:ScorerCliRunner"),
    # The original model (--reference MODEL): runs no artifact, gives the reference outputs.
    ("reference", (), "reference:ReferenceRunner"),
    ("ort-web-node", ("onnx",), "ort_web_node:OrtWebNodeRunner"),
    # Last: a browser start per batch is the slowest check, never the build's first choice for a format.
    ("chromium", ("onnx", "tfjs"), "chromium:ChromiumRunner"),
    *(_COREML_ROWS if _core_ml_runs_here() else _COREML_ROWS[::-1]),
    # The original Spark ML pipeline (model=DIR): runs no artifact, gives the reference outputs.
    ("spark", (), "spark:SparkRunner"),
]


def runner_class(name: str) -> Any:
    for row_name, _formats, target in RUNNERS:
        if row_name == name:
            module, cls = target.split(":")
            return getattr(importlib.import_module(f"{__name__}.{module}"), cls)
    raise KeyError(name)


def runners_for(fmt: str) -> list[str]:
    return [name for name, formats, _ in RUNNERS if fmt in formats]
