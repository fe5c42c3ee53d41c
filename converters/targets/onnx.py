"""The ONNX target: float32 compute with plain tensor outputs, the hub every runtime can read."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from ...runtime.errors import ModelError
from . import onnx_boosting, onnx_keras, onnx_sklearn, onnx_spark
from .base import Artifact, check_options

OPTIONS: dict[str, Any] = {}


def _spark(source: Any, schema: Any) -> tuple[bytes, dict[str, Any], dict[str, str]]:
    data, fields = onnx_spark.convert(source, schema)
    return data, fields, {"name": "edgepack.converters.targets.onnx_spark", "version": version("edgepack")}


# framework -> converter returning (ONNX bytes, manifest fields, converter {name, version})
CONVERTERS: dict[str, Any] = {
    "scikit-learn": onnx_sklearn.convert_with_info,
    "keras": onnx_keras.convert_with_info,
    "spark": _spark,
    "xgboost": onnx_boosting.convert_with_info,
    "lightgbm": onnx_boosting.convert_with_info,
    "catboost": onnx_boosting.convert_with_info,
}


def emit(source: Any, schema: Any, options: dict[str, Any] | None = None) -> list[Artifact]:
    """The source's model as one float32 ONNX artifact (ONNX variants are built by --quantize, see
    converters/quantize/onnx.py). Raises ModelError when no converter covers it."""
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
    return [Artifact(id="onnx", format="onnx", files={"model.onnx": data}, entry=entry)]
