"""Metadata written into every artifact, where its format keeps it, so that an IDE or a model viewer
shows what the model is: name, version, author, license, description, the inputs with their types
and the class labels (from the manifest; author, license and description from `edgepack build
--author/--license/--description`).

One row per format in STAMPS; a format without a row (c, js) is left as emitted.
- onnx: producer edgepack and its version, model_version, doc_string, metadata_props; opset imports
  listed once each (onnx.compose left them twice).
- coreml: the spec's author, license, shortDescription, versionString, userDefined metadata and one
  shortDescription per input and output (the .mlmodel, or the spec inside an .mlpackage).
- tfjs: model.json's userDefinedMetadata (tfjs-converter's field for it).
- tflite: the TFLite Support metadata Android Studio's ML model binding shows (name, description,
  version, author, license, a description per input and output tensor) and, for a classifier, labels.txt
  as the probabilities' TENSOR_AXIS_LABELS file (converters/tflite_metadata.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata as _dist
from typing import Any

from .coreml_protobuf import module
from .targets.base import Artifact
from .tflite_metadata import tensor_texts_for, texts_for, with_metadata


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    task: str
    author: str | None = None
    license: str | None = None
    description: str | None = None
    inputs: list[dict[str, Any]] = field(default_factory=list)  # the manifest's inputs.features
    classes: list[Any] = field(default_factory=list)

    def props(self) -> dict[str, str]:
        """The key -> text pairs every format gets (absent ones left out)."""
        out = {"edgepack.name": self.name, "edgepack.version": self.version, "edgepack.task": self.task,
               "edgepack.producer_version": edgepack_version()}
        for key in ("author", "license", "description"):
            if getattr(self, key):
                out[key] = str(getattr(self, key))
        out["edgepack.inputs"] = json.dumps([{"name": f["name"], "type": f["type"]} for f in self.inputs])
        if self.classes:
            out["edgepack.classes"] = json.dumps([c if isinstance(c, (int, float, str)) else str(c) for c in self.classes])
        return out

    def input_text(self, feature: dict[str, Any]) -> str:
        """`tenure_months: number, 0 .. 72` / `contract: category (month-to-month, one-year, ...)`."""
        if feature["type"] == "category":
            cats = feature.get("categories") or []
            shown = ", ".join(map(str, cats[:5])) + (", ..." if len(cats) > 5 else "")
            text = f"{feature['name']}: category ({shown})"
        else:
            text = f"{feature['name']}: {feature['type']}"
            if "min" in feature and "max" in feature:
                text += f", {feature['min']} .. {feature['max']}"
        return text + ("; may be missing" if feature.get("nullable") else "")


def edgepack_version() -> str:
    try:
        return _dist.version("edgepack")
    except _dist.PackageNotFoundError:
        return "0+unknown"


def stamp(art: Artifact, info: ModelInfo) -> None:
    """Write `info` into the artifact's files in place (its format's row of STAMPS, if any)."""
    fn = STAMPS.get(art.format)
    if fn is not None:
        art.files = {name: fn(name, data, info, art.entry) for name, data in art.files.items()}


def _onnx(name: str, data: bytes, info: ModelInfo, entry: dict[str, Any]) -> bytes:
    if not name.endswith(".onnx"):
        return data
    import onnx
    from onnx import helper

    model = onnx.load_from_string(data)
    model.producer_name = "edgepack"
    model.producer_version = edgepack_version()
    if info.version.isdigit():
        model.model_version = int(info.version)
    model.doc_string = info.description or f"{info.name} {info.version} ({info.task}), built by edgepack"
    helper.set_model_props(model, info.props())
    versions: dict[str, int] = {}
    for o in model.opset_import:
        versions[o.domain] = max(versions.get(o.domain, 0), o.version)
    if len(versions) != len(model.opset_import):
        del model.opset_import[:]
        model.opset_import.extend(helper.make_opsetid(d, v) for d, v in versions.items())
    return model.SerializeToString()


def _coreml(name: str, data: bytes, info: ModelInfo, entry: dict[str, Any]) -> bytes:
    if not name.endswith(".mlmodel"):
        return data
    spec = module("Model_pb2").Model()
    spec.ParseFromString(data)
    meta = spec.description.metadata
    meta.shortDescription = info.description or f"{info.name} {info.version} ({info.task}), built by edgepack"
    meta.versionString = info.version
    if info.author:
        meta.author = info.author
    if info.license:
        meta.license = info.license
    for key, value in info.props().items():
        meta.userDefined[key] = value
    by_name = {f["name"]: f for f in info.inputs}
    for desc in spec.description.input:
        if desc.name in by_name and not desc.shortDescription:
            desc.shortDescription = info.input_text(by_name[desc.name])
    words = {"label": "predicted class", "probabilities": "probability of each class", "value": "predicted value"}
    for desc in spec.description.output:
        if desc.name in words and not desc.shortDescription:
            desc.shortDescription = words[desc.name]
    return spec.SerializeToString()


def _tfjs(name: str, data: bytes, info: ModelInfo, entry: dict[str, Any]) -> bytes:
    if not name.endswith("model.json"):
        return data
    model_json = json.loads(data)
    model_json["userDefinedMetadata"] = {**model_json.get("userDefinedMetadata", {}), "edgepack": info.props()}
    return json.dumps(model_json).encode()


def _tflite(name: str, data: bytes, info: ModelInfo, entry: dict[str, Any]) -> bytes:
    if not name.endswith(".tflite") or "features" not in (entry.get("inputs") or [{}])[0]:
        return data  # a tensor package's artifact (format version 2) has no tabular binding to describe
    return with_metadata(data, texts_for(info, entry, data))


def stamp_tensor(art: Artifact, info: ModelInfo, inputs: list[Any], outputs: list[Any]) -> None:
    """A tensor package's artifact (format version 2; `inputs`/`outputs`: its TensorSpecs): TFLite gets its
    metadata (an image input's size, color space and normalization; a classifier's labels); the other
    formats are left as converted for now."""
    if art.format != "tflite":
        return
    art.files = {name: with_metadata(data, tensor_texts_for(info, inputs, outputs, art.entry, data))
                 if name.endswith(".tflite") else data for name, data in art.files.items()}


# format -> (file name, bytes, info, the artifact's manifest entry) -> bytes
STAMPS: dict[str, Callable[[str, bytes, ModelInfo, dict[str, Any]], bytes]] = {
    "onnx": _onnx, "coreml": _coreml, "tfjs": _tfjs, "tflite": _tflite}
