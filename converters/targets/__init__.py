"""The targets table: one row per artifact format.

Adding a format is one module with `emit(source, schema, options) -> Artifact` and its declared
OPTIONS, plus one row here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...runtime.errors import UsageError
from . import coreml, onnx, tfjs, tflite
from .codegen import target as codegen_target

# format name -> emitter
TARGETS: dict[str, Callable[[Any, Any, dict[str, Any]], Any]] = {
    "onnx": onnx.emit,
    "tflite": tflite.emit,
    "tfjs": tfjs.emit,
    "coreml": coreml.emit,
    "c": codegen_target.emit_c,
    "js": codegen_target.emit_js,
}


def get_target(name: str) -> Callable[[Any, Any, dict[str, Any]], Any]:
    try:
        return TARGETS[name]
    except KeyError:
        raise UsageError(f"unknown target format {name!r}", fix=f"choose from: {', '.join(TARGETS)}") from None
