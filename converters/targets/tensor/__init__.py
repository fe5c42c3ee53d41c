"""The targets table for tensor models (images, sequences, several inputs): one row per format.

Each emitter is `emit(source, options) -> list[Artifact]` (float32 first, then its variants). Tabular
models keep converters/targets/__init__.py's table; the build picks the table by the source's kind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ....runtime.errors import UsageError
from . import coreml, onnx, tfjs, tflite

TENSOR_TARGETS: dict[str, Callable[[Any, dict[str, Any]], list[Any]]] = {
    "onnx": onnx.emit,
    "tflite": tflite.emit,
    "tfjs": tfjs.emit,
    "coreml": coreml.emit,
}


def get_tensor_target(name: str) -> Callable[[Any, dict[str, Any]], list[Any]]:
    try:
        return TENSOR_TARGETS[name]
    except KeyError:
        raise UsageError(f"unknown target format {name!r}", fix=f"choose from: {', '.join(TENSOR_TARGETS)}") from None
