"""The targets table: one row per artifact format.

Adding a format is one module with `emit(source, schema, options) -> list[Artifact]` (base.Emit: the
float32 default first, then any variants the format builds itself) and its declared OPTIONS, plus one
row here.
"""

from __future__ import annotations

from ...runtime.errors import UsageError, did_you_mean
from . import coreml, onnx, tfjs, tflite
from .base import Emit
from .codegen import target as codegen_target

# format name -> emitter
TARGETS: dict[str, Emit] = {
    "onnx": onnx.emit,
    "tflite": tflite.emit,
    "tfjs": tfjs.emit,
    "coreml": coreml.emit,
    "c": codegen_target.emit_c,
    "js": codegen_target.emit_js,
}


def get_target(name: str) -> Emit:
    try:
        return TARGETS[name]
    except KeyError:
        raise UsageError(f"unknown target format {name!r}{did_you_mean(name, TARGETS)}",
                         fix=f"choose from: {', '.join(TARGETS)}") from None
