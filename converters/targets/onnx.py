"""The ONNX target: float32 compute with plain tensor outputs, the hub every runtime can read."""

from __future__ import annotations

from typing import Any

from ...runtime.errors import ModelError
from .base import Artifact, check_options

OPTIONS: dict[str, Any] = {}


def _spark(source: Any, schema: Any) -> tuple[bytes, dict[str, Any], dict[str, str]]:
    from importlib.metadata import version

    from .onnx_spark import convert

    data, fields = convert(source, schema)
    return data, fields, {"name": "edgepack.converters.targets.onnx_spark", "version": version("edgepack")}


def _sklearn(source: Any, schema: Any) -> tuple[bytes, dict[str, Any], dict[str, str]]:
    from .onnx_sklearn import convert_with_info

    return convert_with_info(source, schema)


def _keras(source: Any, schema: Any) -> tuple[bytes, dict[str, Any], dict[str, str]]:
    from .onnx_keras import convert_with_info

    return convert_with_info(source, schema)


# framework -> converter returning (ONNX bytes, manifest fields, converter {name, version})
CONVERTERS: dict[str, Any] = {
    "scikit-learn": _sklearn,
    "keras": _keras,
    "spark": _spark,
}


def emit(source: Any, schema: Any, options: dict[str, Any] | None = None) -> Artifact:
    """Convert the source's model to ONNX. Raises ModelError when no converter covers it."""
    check_options("onnx", options or {}, OPTIONS)
    convert = CONVERTERS.get(source.framework)
    if convert is None:
        raise ModelError(f"no ONNX converter for {source.framework} models yet",
                         fix=f"frameworks with an ONNX converter: {', '.join(CONVERTERS)}")
    data, fields, converter = convert(source, schema)
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
