"""Small helpers for writing Core ML protobuf specs by hand (coremltools.proto), and the OS table.

Why by hand: coremltools' scikit-learn converter refuses scikit-learn > 1.5.1, but its protobuf classes
describe the format itself and work with any scikit-learn. These helpers only fill messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...coreml_protobuf import module

# The classic model types edgepack emits (pipelines, GLM, tree ensembles, one-hot, imputer, scaler,
# feature vectorizer, categorical mapping, NeuralNetwork inner-product/activation/softmax) all exist
# since specification version 1; float16 and quantized NeuralNetwork weights need 2 and 3.
CLASSIC_SPEC_VERSION = 1

# Core ML specification version -> the first OS releases that run it (Apple's table in the
# coremltools documentation, "Core ML model specification versions").
OS_FOR_SPEC: dict[int, dict[str, str]] = {
    1: {"min_ios": "11.0", "min_macos": "10.13"},
    2: {"min_ios": "11.2", "min_macos": "10.13.2"},
    3: {"min_ios": "12.0", "min_macos": "10.14"},
    4: {"min_ios": "13.0", "min_macos": "10.15"},
    5: {"min_ios": "14.0", "min_macos": "11.0"},
    6: {"min_ios": "15.0", "min_macos": "12.0"},
    7: {"min_ios": "16.0", "min_macos": "13.0"},
    8: {"min_ios": "17.0", "min_macos": "14.0"},
    9: {"min_ios": "18.0", "min_macos": "15.0"},
    10: {"min_ios": "26.0", "min_macos": "26.0"},
}


class _Proto:
    """coremltools.proto's generated modules as attributes (proto().Model_pb2), loaded without importing
    coremltools itself (which pulls in TensorFlow)."""

    def __getattr__(self, name: str) -> Any:
        return module(name)


def proto() -> Any:
    return _Proto()


def feature(name: str, kind: str, dim: int | None = None, keys: str | None = None) -> Any:
    """A FeatureDescription. kind: double, int64, string, array (double, shape [dim]), float_array
    (float32, shape [dim]) or dict (keys: int64 or string, values double)."""
    p = proto()
    desc = p.Model_pb2.FeatureDescription()
    desc.name = name
    t = desc.type
    if kind == "double":
        t.doubleType.SetInParent()
    elif kind == "int64":
        t.int64Type.SetInParent()
    elif kind == "string":
        t.stringType.SetInParent()
    elif kind in ("array", "float_array"):
        arr = p.FeatureTypes_pb2.ArrayFeatureType
        t.multiArrayType.dataType = arr.DOUBLE if kind == "array" else arr.FLOAT32
        if dim is not None:
            t.multiArrayType.shape.append(int(dim))
    elif kind == "dict":
        if keys == "int64":
            t.dictionaryType.int64KeyType.SetInParent()
        else:
            t.dictionaryType.stringKeyType.SetInParent()
    else:
        raise ValueError(kind)
    return desc


def model(inputs: Sequence[Any], outputs: Sequence[Any], version: int = CLASSIC_SPEC_VERSION) -> Any:
    """An empty Model with its interface; the caller fills in the model type."""
    m = proto().Model_pb2.Model()
    m.specificationVersion = version
    m.description.input.extend(inputs)
    m.description.output.extend(outputs)
    return m


def set_class_labels(message: Any, classes: Sequence[Any]) -> str:
    """Fill int64ClassLabels or stringClassLabels; returns the label kind ("int64" or "string")."""
    if all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        message.int64ClassLabels.vector.extend(int(c) for c in classes)
        return "int64"
    message.stringClassLabels.vector.extend(str(c) for c in classes)
    return "string"


def label_kind(classes: Sequence[Any]) -> str:
    return "int64" if all(isinstance(c, int) and not isinstance(c, bool) for c in classes) else "string"


def classifier_outputs(classes: Sequence[Any]) -> list[Any]:
    kind = label_kind(classes)
    return [feature("label", kind), feature("probabilities", "dict", keys=kind)]
