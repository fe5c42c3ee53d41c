"""Core ML ML Programs (.mlpackage) of tensor models, from the source's TensorFlow function
(coremltools' TensorFlow front end): float32 compute, and float16 compute as a variant.

Inputs are TensorType multi-arrays in the function's layout (channels-last), batch 1..MAX_ROWS, except an
input with declared image preprocessing: an ImageType (the app hands a CVPixelBuffer; the entry records
the color layout, scale and bias Core ML applies). The classifier's labels go to the model's metadata
(`edgepack.classes`) and the package manifest. On Linux the artifact is checked by the coreml-spec
evaluator (parity/coreml_spec), which takes pixels for an image input as Core ML does, never by coremltools.
"""

from __future__ import annotations

import importlib.metadata
import json
from typing import Any

import numpy as np

from ....runtime.errors import ModelError, UsageError
from ..base import Artifact, check_options, chosen_variants
from ..coreml.keras import _package_files, _renamed
from ..coreml.proto import OS_FOR_SPEC
from .tf_graph import input_dtype, tf_function

# image_input: "auto" makes an input with declared image preprocessing a Core ML image (ct.ImageType: the
# app hands a CVPixelBuffer, Core ML applies scale and bias) when one scale serves every channel (Core ML
# has a single scale and a bias per channel); "tensor" keeps every input an MLMultiArray.
OPTIONS: dict[str, Any] = {"variants": "float32,float16", "image_input": "auto"}
IMAGE_INPUT = ("auto", "tensor")
COLOR_LAYOUTS = {"RGB": "RGB", "BGR": "BGR", "L": "GRAYSCALE"}
VARIANTS = {"float32": ("coreml", "float32"), "float16": ("coreml-float16", "float16")}
MAX_ROWS = 64


def image_record(spec: Any) -> dict[str, Any] | None:
    """What Core ML does to an image input of this package input: pixels (in `color_layout` order) * scale
    + bias per channel, then, only when the channels' std differ (Core ML has one scale for all
    channels), a division by `std` per channel that the program itself does. None: no picture declared."""
    image = spec.image
    if not image or spec.layout not in ("NHWC", "NCHW"):
        return None
    record: dict[str, Any] = {"color_layout": COLOR_LAYOUTS[image["channels"]]}
    if len(set(image["std"])) == 1:  # folded into Core ML's own scale and bias
        std = float(image["std"][0])
        return {**record, "scale": float(image["scale"]) / std, "bias": [-float(m) / std for m in image["mean"]]}
    return {**record, "scale": float(image["scale"]), "bias": [-float(m) for m in image["mean"]],
            "std": [float(v) for v in image["std"]]}


def _divided_by_std(fn: Any, images: dict[str, dict[str, Any]]) -> Any:
    """The function with the per-channel division by std in front of the inputs whose record has one
    (the last axis: the function is channels-last)."""
    import tensorflow as tf

    if not any("std" in r for r in images.values()):
        return fn.function
    specs = [tf.TensorSpec(t.shape, t.dtype, name=n) for n, t in zip(fn.inputs, fn.function.inputs)]

    def call(*args: Any) -> Any:
        return fn.function(*[a / tf.constant(images[n]["std"], tf.float32) if "std" in images.get(n, {}) else a
                             for n, a in zip(fn.inputs, args)])

    return tf.function(call, input_signature=specs).get_concrete_function()


def _convert(fn: Any, source: Any, precision: str, images: dict[str, dict[str, Any]]) -> Any:
    import coremltools as ct

    # The ImageType conversion reads ct.proto.FeatureTypes_pb2 and Model_pb2 as attributes, which exist
    # only once imported (measured: AttributeError in a fresh process).
    from coremltools.proto import FeatureTypes_pb2, Model_pb2  # noqa: F401

    func = _divided_by_std(fn, images)
    placeholders = [t.name.split(":")[0] for t in func.inputs if t.dtype != "resource"][: len(fn.inputs)]
    inputs = []
    for name, p, t in zip(fn.inputs, placeholders, func.inputs):
        shape = (ct.RangeDim(1, MAX_ROWS), *[int(d) for d in t.shape[1:]])
        record = images.get(name)
        if record is None:
            inputs.append(ct.TensorType(name=p, shape=shape, dtype=np.int32 if t.dtype.is_integer else np.float32))
            continue
        # The function is channels-last (tf_graph.py); Core ML hands the program [N, C, H, W] pixels and
        # the converter inserts the scale, the bias and the transpose.
        inputs.append(ct.ImageType(name=p, shape=shape, scale=record["scale"],
                                   bias=record["bias"] if len(record["bias"]) > 1 else record["bias"][0],
                                   color_layout=getattr(ct.colorlayout, record["color_layout"]), channel_first=False))
    try:
        ml = ct.convert([func], source="tensorflow", convert_to="mlprogram", inputs=inputs,
                        compute_precision=ct.precision.FLOAT32 if precision == "float32" else ct.precision.FLOAT16)
    except Exception as exc:  # coremltools raises many types for unsupported graphs
        raise ModelError(f"coremltools could not convert the model: {type(exc).__name__}: {exc}") from exc
    spec = ml.get_spec()
    names = dict(zip(placeholders, fn.inputs))
    # A tf.function's dict outputs flatten in sorted key order.
    names.update(dict(zip([o.name for o in spec.description.output], sorted(fn.outputs))))
    ml = _renamed(ml, names)
    if source.task == "classification":
        ml.user_defined_metadata["edgepack.classes"] = json.dumps([str(c) for c in source.classes])
    return ml


def emit(source: Any, options: dict[str, Any] | None = None) -> list[Artifact]:
    opts = check_options("coreml", options or {}, OPTIONS)
    if opts["image_input"] not in IMAGE_INPUT:
        raise UsageError(f"bad coreml image_input {opts['image_input']!r}", where="--option coreml.image_input",
                         fix=f"choose from: {', '.join(IMAGE_INPUT)}")
    fn = tf_function(source)
    images: dict[str, dict[str, Any]] = {}
    if opts["image_input"] == "auto":
        images = {s.name: r for s in source.inputs if (r := image_record(s)) is not None}
    artifacts = []
    for variant in chosen_variants("coreml", opts["variants"], VARIANTS):
        ident, precision = VARIANTS[variant]
        ml = _convert(fn, source, precision, images)
        bundle = "model.mlpackage" if ident == "coreml" else f"{ident.replace('coreml', 'model')}.mlpackage"
        files = _package_files(ml, bundle)
        spec_file = f"{bundle}/Data/com.apple.CoreML/model.mlmodel"
        version = int(ml.get_spec().specificationVersion)
        entry: dict[str, Any] = {
            "id": ident, "format": "coreml", "file": spec_file, "bundle": bundle, "precision": precision,
            "default": ident == "coreml",
            "converter": {"name": f"coremltools (from {fn.converter['name']} {fn.converter['version']})",
                          "version": importlib.metadata.version("coremltools")},
            "inputs": [{"name": n, "input": n, "dtype": input_dtype(fn, n), **({"layout": fn.layouts[n]} if fn.layouts.get(n) else {}),
                        **({"image": images[n]} if n in images else {})} for n in fn.inputs],
            "outputs": {o: o for o in fn.outputs},
            "spec_version": version, **OS_FOR_SPEC.get(version, {}),
        }
        artifacts.append(Artifact(ident, "coreml", files, entry))
    return artifacts
