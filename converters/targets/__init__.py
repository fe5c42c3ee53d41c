"""The targets table: one row per artifact format.

Adding a format is one module with `emit(source, schema, options) -> Artifact` and its declared
OPTIONS, plus one row here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...runtime.errors import UsageError


def _onnx(source: Any, schema: Any, options: dict[str, Any]) -> Any:
    from .onnx import emit

    return emit(source, schema, options)


def _coreml(source: Any, schema: Any, options: dict[str, Any]) -> Any:
    from .coreml import emit

    return emit(source, schema, options)


# format name -> emitter
TARGETS: dict[str, Callable[[Any, Any, dict[str, Any]], Any]] = {
    "onnx": _onnx,
    "coreml": _coreml,
}
DEFAULT_TARGETS = ["onnx"]


def get_target(name: str) -> Callable[[Any, Any, dict[str, Any]], Any]:
    try:
        return TARGETS[name]
    except KeyError:
        raise UsageError(f"unknown target format {name!r}", fix=f"choose from: {', '.join(TARGETS)}") from None
