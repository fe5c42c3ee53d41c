"""TFLite metadata as Android Studio's ML model binding reads it (the TFLite Support metadata schema,
tensorflow/tflite-support metadata_schema.fbs, file identifier "M001"): the model's name, description,
version, author and license, one description per input and output tensor, and for a classifier the class
labels as a TENSOR_AXIS_LABELS file.

The tflite-support package writes this with its MetadataPopulator, but it pins protobuf < 4, which the
rest of the stack (onnx, TensorFlow 2.19) cannot take; so the metadata flatbuffer is built here with the
`flatbuffers` runtime, field by field after the schema's field ids, and attached the way the populator
attaches it: a buffer named "TFLITE_METADATA" in the model's `metadata` list (TensorFlow's own TFLite
schema objects), and the associated files in a zip archive appended to the flatbuffer (a TFLite
interpreter ignores bytes after the model; Android's metadata extractor and Python's zipfile read them).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

METADATA_NAME = "TFLITE_METADATA"
FILE_IDENTIFIER = b"M001"
MIN_PARSER_VERSION = "1.0.0"  # every field written here is in the schema's first version
LABELS_FILE = "labels.txt"
TENSOR_AXIS_LABELS = 2  # AssociatedFileType
FEATURE_PROPERTIES, IMAGE_PROPERTIES = 1, 2  # ContentProperties union members
NORMALIZATION_OPTIONS = 1  # ProcessUnitOptions union: NormalizationOptions
COLOR_SPACES = {"RGB": 1, "L": 2, "GRAY": 2, "GRAYSCALE": 2}  # ColorSpaceType (BGR has none: UNKNOWN, 0)
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # a fixed time: the same model gives the same bytes (package checksums)

# Field slots (ids) of the schema's tables, in declaration order.
MODEL_FIELDS = ("name", "description", "version", "subgraph_metadata", "author", "license", "associated_files",
                "min_parser_version")
SUBGRAPH_FIELDS = ("name", "description", "input_tensor_metadata", "output_tensor_metadata", "associated_files")
TENSOR_FIELDS = ("name", "description", "dimension_names", "content", "process_units", "stats", "associated_files")
FILE_FIELDS = ("name", "description", "type", "locale")
CONTENT_FIELDS = ("content_properties_type", "content_properties", "range")
IMAGE_FIELDS = ("color_space", "default_size")
SIZE_FIELDS = ("width", "height")
NORMALIZATION_FIELDS = ("mean", "std")
PROCESS_UNIT_FIELDS = ("options_type", "options")


@dataclass(frozen=True)
class TensorText:
    name: str
    description: str
    labels: list[str] | None = None  # the classes along the last axis (a classifier's probabilities)
    # an image input: color space, [height, width] and the normalization of 0..255 pixels: (p - mean) / std
    image: tuple[int, tuple[int, int], list[float], list[float]] | None = None


@dataclass(frozen=True)
class ModelText:
    model: Any  # converters.metadata.ModelInfo: name, version, author, license
    description: str
    inputs: list[TensorText] = field(default_factory=list)  # in the subgraph's input order
    outputs: list[TensorText] = field(default_factory=list)  # in the subgraph's output order


def metadata_flatbuffer(text: ModelText) -> bytes:
    """The ModelMetadata flatbuffer (identifier M001) for `text`."""
    import flatbuffers

    b = flatbuffers.Builder(1024)

    def table(slots: tuple[str, ...], offsets: dict[str, int], bytes_: dict[str, int] | None = None) -> int:
        b.StartObject(len(slots))
        for slot, name in enumerate(slots):
            if name in offsets:
                b.PrependUOffsetTRelativeSlot(slot, offsets[name], 0)
            elif bytes_ and name in bytes_:
                b.PrependUint8Slot(slot, bytes_[name], 0)
        return int(b.EndObject())

    def vector(items: list[int]) -> int:
        b.StartVector(4, len(items), 4)
        for item in reversed(items):
            b.PrependUOffsetTRelative(item)
        return int(b.EndVector())

    def floats(values: list[float]) -> int:
        b.StartVector(4, len(values), 4)
        for value in reversed(values):
            b.PrependFloat32(float(value))
        return int(b.EndVector())

    def tensor(t: TensorText) -> int:
        files = []
        if t.labels is not None:
            files.append(table(FILE_FIELDS, {"name": b.CreateString(LABELS_FILE),
                                             "description": b.CreateString("class labels, one per line, in output order")},
                               {"type": TENSOR_AXIS_LABELS}))
        units = []
        if t.image is None:
            b.StartObject(0)  # FeatureProperties: an empty table
            properties, kind = b.EndObject(), FEATURE_PROPERTIES
        else:
            color, (height, width), mean, std = t.image
            norm = table(NORMALIZATION_FIELDS, {"mean": floats(mean), "std": floats(std)})
            units.append(table(PROCESS_UNIT_FIELDS, {"options": norm}, {"options_type": NORMALIZATION_OPTIONS}))
            b.StartObject(len(SIZE_FIELDS))
            b.PrependUint32Slot(0, width, 0)
            b.PrependUint32Slot(1, height, 0)
            size = b.EndObject()
            properties = table(IMAGE_FIELDS, {"default_size": size}, {"color_space": color})
            kind = IMAGE_PROPERTIES
        content = table(CONTENT_FIELDS, {"content_properties": properties}, {"content_properties_type": kind})
        offsets = {"name": b.CreateString(t.name), "description": b.CreateString(t.description), "content": content}
        if units:
            offsets["process_units"] = vector(units)
        if files:
            offsets["associated_files"] = vector(files)
        return table(TENSOR_FIELDS, offsets)

    inputs = vector([tensor(t) for t in text.inputs])
    outputs = vector([tensor(t) for t in text.outputs])
    model = text.model
    subgraph = table(SUBGRAPH_FIELDS, {"name": b.CreateString(model.name), "input_tensor_metadata": inputs,
                                       "output_tensor_metadata": outputs})
    offsets = {"name": b.CreateString(model.name), "description": b.CreateString(text.description),
               "version": b.CreateString(model.version), "subgraph_metadata": vector([subgraph]),
               "min_parser_version": b.CreateString(MIN_PARSER_VERSION)}
    if model.author:
        offsets["author"] = b.CreateString(model.author)
    if model.license:
        offsets["license"] = b.CreateString(model.license)
    b.Finish(table(MODEL_FIELDS, offsets), file_identifier=FILE_IDENTIFIER)
    return bytes(b.Output())


def subgraph_tensor_names(data: bytes) -> tuple[list[str], list[str]]:
    """(input tensor names, output tensor names) of the model's main subgraph, in its order."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(data))
    graph = model.subgraphs[0]
    name = lambda i: (graph.tensors[i].name or b"").decode()  # noqa: E731
    return [name(i) for i in graph.inputs], [name(i) for i in graph.outputs]


def with_metadata(data: bytes, text: ModelText) -> bytes:
    """The TFLite flatbuffer `data` with `text` as its TFLITE_METADATA buffer (replacing one already there)
    and, when a tensor has labels, labels.txt in a zip appended to it."""
    from tensorflow.lite.python import schema_py_generated as fb
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(data))
    buffer = fb.BufferT()
    buffer.data = np.frombuffer(metadata_flatbuffer(text), dtype=np.uint8)
    model.buffers.append(buffer)
    entries = [m for m in (model.metadata or []) if (m.name or b"").decode() != METADATA_NAME]
    entry = fb.MetadataT()
    entry.name, entry.buffer = METADATA_NAME, len(model.buffers) - 1
    model.metadata = [*entries, entry]
    out = bytes(flatbuffer_utils.convert_object_to_bytearray(model))
    labels = next((t.labels for t in text.outputs if t.labels is not None), None)
    if labels is None:
        return out
    sink = io.BytesIO(out)
    with zipfile.ZipFile(sink, "a") as archive:  # appended after the flatbuffer, as tflite-support does
        info = zipfile.ZipInfo(LABELS_FILE, date_time=ZIP_TIME)
        info.compress_type = zipfile.ZIP_STORED
        archive.writestr(info, "".join(f"{label}\n" for label in labels))
    return sink.getvalue()


def texts_for(info: Any, entry: dict[str, Any], data: bytes) -> ModelText:
    """The metadata of a tabular package's TFLite artifact (contract 2: one float32 [N, F] input) from the
    manifest's facts (`info`: converters.metadata.ModelInfo) and the artifact entry's tensor names."""
    input_names, output_names = subgraph_tensor_names(data)
    by_name = {f["name"]: f for f in info.inputs}
    inputs = []
    for tensor in input_names:
        binding = next((t for t in entry.get("inputs", []) if t["name"] == tensor), None)
        features = binding["features"] if binding else [f["name"] for f in info.inputs]
        listed = "; ".join(info.input_text(by_name[f]) if f in by_name else f for f in features)
        inputs.append(TensorText("features", f"float32 [N, {len(features)}], one row per record, columns in this "
                                             f"order (categories as their index in the manifest): {listed}"))
    package_name = {tensor: name for name, tensor in entry.get("outputs", {}).items()}
    outputs = []
    for tensor in output_names:
        name = package_name.get(tensor, tensor)
        if name == "probabilities":
            outputs.append(TensorText(name, "probability of each class, in the order of labels.txt",
                                      [str(c) for c in info.classes]))
        else:
            outputs.append(TensorText(name, "predicted value" if name == "value" else name))
    description = info.description or f"{info.name} {info.version} ({info.task}), built by edgepack"
    return ModelText(info, description, inputs, outputs)


def tensor_texts_for(info: Any, inputs: list[Any], outputs: list[Any], entry: dict[str, Any], data: bytes) -> ModelText:
    """The metadata of a tensor package's TFLite artifact (format version 2): `inputs`/`outputs` are the
    package's TensorSpecs (runtime/tensors.py), matched to the subgraph's tensors through the artifact's
    signature (the entry maps package names to signature keys). An image input gets ImageProperties and
    its normalization as TFLite states it for 0..255 pixels: (p * scale - mean) / std is
    (p - mean / scale) / (std / scale)."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(data))
    graph = model.subgraphs[0]
    signature = (model.signatureDefs or [None])[0]
    key_of = {} if signature is None else {
        **{m.tensorIndex: m.name.decode() for m in signature.inputs}, **{m.tensorIndex: m.name.decode() for m in signature.outputs}}
    by_key_in = {t["name"]: t.get("input", t["name"]) for t in entry.get("inputs", [])}
    by_key_out = {key: name for name, key in entry.get("outputs", {}).items()}
    specs_in, specs_out = {s.name: s for s in inputs}, {s.name: s for s in outputs}

    def shape(spec: Any) -> str:
        return "[" + ", ".join("N" if d is None else str(d) for d in spec.shape) + "]"

    texts_in: list[TensorText] = []
    for index in graph.inputs:
        spec = specs_in.get(by_key_in.get(key_of.get(index, ""), ""))
        if spec is None:
            texts_in.append(TensorText(f"input_{len(texts_in)}", "model input"))
            continue
        image = spec.image
        if not image:
            texts_in.append(TensorText(spec.name, f"{spec.dtype} {shape(spec)}"))
            continue
        scale = float(image["scale"])
        mean = [float(m) / scale for m in image["mean"]]
        std = [float(d) / scale for d in image["std"]]
        height, width = (int(v) for v in image["size"])
        text = (f"{image.get('channels', 'RGB')} image {height}x{width}, pixels 0..255 normalized as (p - mean) / std "
                f"with mean {[round(m, 4) for m in mean]} and std {[round(d, 4) for d in std]}")
        texts_in.append(TensorText(spec.name, text, image=(COLOR_SPACES.get(str(image.get("channels", "RGB")).upper(), 0),
                                                           (height, width), mean, std)))
    texts_out: list[TensorText] = []
    for index in graph.outputs:
        spec = specs_out.get(by_key_out.get(key_of.get(index, ""), ""))
        if spec is None:
            texts_out.append(TensorText(f"output_{len(texts_out)}", "model output"))
        elif spec.kind in ("probabilities", "scores") and info.classes:
            what = "probability" if spec.kind == "probabilities" else "score (logit)"
            texts_out.append(TensorText(spec.name, f"{what} of each class, in the order of labels.txt",
                                        [str(c) for c in info.classes]))
        else:
            texts_out.append(TensorText(spec.name, f"{spec.dtype} {shape(spec)}"))
    description = info.description or f"{info.name} {info.version} ({info.task}), built by edgepack"
    return ModelText(info, description, texts_in, texts_out)
