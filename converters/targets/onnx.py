"""The ONNX target: float32 compute with plain tensor outputs, the hub every runtime can read."""

from __future__ import annotations

import importlib
from typing import Any

from ...runtime.errors import ModelError
from .base import Artifact, check_options

OPTIONS: dict[str, Any] = {}

# framework -> "module:convert(source, schema) -> (onnx bytes, manifest fields, converter {name, version})"
CONVERTERS: dict[str, str] = {
    "scikit-learn": "onnx_sklearn:convert_with_info",
    "keras": "onnx_keras:convert_with_info",
}


def emit(source: Any, schema: Any, options: dict[str, Any] | None = None) -> Artifact:
    """Convert the source's model to ONNX. Raises ModelError when no converter covers it."""
    check_options("onnx", options or {}, OPTIONS)
    target = CONVERTERS.get(source.framework)
    if target is None:
        raise ModelError(f"no ONNX converter for {source.framework} models yet",
                         fix=f"frameworks with an ONNX converter: {', '.join(CONVERTERS)}")
    module, func = target.split(":")
    data, fields, converter = getattr(importlib.import_module(f"{__package__}.{module}"), func)(source, schema)
    entry = {
        "id": "onnx",
        "format": "onnx",
        "file": "model.onnx",
        "precision": "float32",
        "default": True,
        "converter": converter,
        **fields,
    }
    return Artifact(id="onnx", format="onnx", files={"model.onnx": data}, entry=entry)
