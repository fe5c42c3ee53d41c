"""Keras to Core ML ML Programs (.mlpackage) through a TensorFlow concrete function.

`ct.convert(keras3_model)` does not recognise Keras 3 models; a concrete function of the model over a
[N, F] float32 tensor converts (docs/DEPENDENCIES.md). The source contract (converters/sources/keras.py):
`framework = "keras"`, `.model` a keras.Model with one flat [N, F] float32 input, `task`, `classes`.
Inputs follow the package's numeric-tensor encoding (runtime/records.py: categories as their index).

Artifacts: coreml (float32 compute), coreml-float16 (float16 compute), coreml-int8 (weights linearly
quantized to int8, coremltools.optimize.coreml), coreml-palette (weights palettized by k-means). The
weight variants are left out when no weight tensor reaches WEIGHT_THRESHOLD elements (nothing to compress).
"""

from __future__ import annotations

import importlib.metadata
import tempfile
from pathlib import Path
from typing import Any

from ....runtime.errors import ModelError
from ...lowering.keras import widened
from ..base import Artifact
from .proto import OS_FOR_SPEC

INPUT = "input"
MAX_ROWS = 4096  # the batch dimension's upper bound in the model's flexible shape
PALETTE_BITS = 6
# Constants smaller than this stay float (biases, scalars); quantizing them saves nothing.
WEIGHT_THRESHOLD = 64
# variant -> (artifact id, precision, quantization)
VARIANT_ROWS = {
    "float16": ("coreml-float16", "float16", None),
    "int8": ("coreml-int8", "int8", "weights-linear-int8"),
    "palette": ("coreml-palette", "int8", f"weights-palette-{PALETTE_BITS}bit"),
}


def _concrete_function(source: Any, n_features: int) -> Any:
    """model(x) as one concrete function; a one-unit sigmoid classifier gains its [1 - p, p] columns so
    that the output is the package's probabilities [N, C]."""
    import tensorflow as tf

    model = source.model

    def serve(x: Any) -> Any:
        y = model(x)
        return widened(tf, source, y[0] if isinstance(y, (list, tuple)) else y)

    return tf.function(serve).get_concrete_function(tf.TensorSpec([None, n_features], tf.float32))


# In the float16 variant only these ops compute in float16. Elementwise preprocessing (a Normalization
# layer's sub/mul/div on raw inputs) stays float32: raw values above 65504 overflow float16 to inf.
FLOAT16_OPS = frozenset({"linear", "matmul", "conv", "relu", "tanh", "sigmoid", "softmax", "gelu", "silu", "leaky_relu", "elu"})


def _convert(source: Any, n_features: int, precision: str) -> Any:
    import coremltools as ct

    func = _concrete_function(source, n_features)
    placeholder = func.inputs[0].name.split(":")[0]
    try:
        ml = ct.convert([func], source="tensorflow", convert_to="mlprogram",
                        inputs=[ct.TensorType(name=placeholder, shape=(ct.RangeDim(1, MAX_ROWS), n_features))],
                        compute_precision=ct.precision.FLOAT32 if precision == "float32"
                        else ct.transform.FP16ComputePrecision(op_selector=lambda op: op.op_type in FLOAT16_OPS))
    except Exception as exc:  # coremltools raises many types for unsupported graphs
        raise ModelError(f"coremltools could not convert the Keras model: {type(exc).__name__}: {exc}",
                         fix="the Core ML target supports Keras models of standard layers over one [N, F] input") from exc
    return _renamed(ml, {placeholder: INPUT, ml.get_spec().description.output[0].name: _output_name(source)})


def _output_name(source: Any) -> str:
    return "probabilities" if source.task == "classification" else "value"


def _renamed(ml: Any, names: dict[str, str]) -> Any:
    import coremltools as ct

    spec = ml.get_spec()
    for old, new in names.items():
        if old != new:
            ct.utils.rename_feature(spec, old, new)
    return ct.models.MLModel(spec, weights_dir=ml.weights_dir)


def _quantized(ml: Any, variant: str) -> Any:
    from coremltools.optimize import coreml as cto

    if variant == "int8":
        config = cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8", weight_threshold=WEIGHT_THRESHOLD)
        return cto.linear_quantize_weights(ml, cto.OptimizationConfig(global_config=config))
    config = cto.OpPalettizerConfig(mode="kmeans", nbits=PALETTE_BITS, weight_threshold=WEIGHT_THRESHOLD)
    return cto.palettize_weights(ml, cto.OptimizationConfig(global_config=config))


def _package_files(ml: Any, bundle: str) -> dict[str, bytes]:
    """The saved .mlpackage as {path inside the edge package: bytes}."""
    with tempfile.TemporaryDirectory(prefix="edgepack-coreml-") as tmp:
        target = Path(tmp) / bundle
        ml.save(str(target))
        return {f"{bundle}/{p.relative_to(target).as_posix()}": p.read_bytes() for p in sorted(target.rglob("*")) if p.is_file()}


def _artifact(ml: Any, ident: str, precision: str, quantization: str | None, source: Any, schema: Any) -> Artifact:
    bundle = "model.mlpackage" if ident == "coreml" else f"{ident.replace('coreml', 'model')}.mlpackage"
    files = _package_files(ml, bundle)
    spec_file = f"{bundle}/Data/com.apple.CoreML/model.mlmodel"
    if spec_file not in files:
        raise ModelError(f"coremltools wrote an .mlpackage without {spec_file}")
    version = int(ml.get_spec().specificationVersion)
    entry: dict[str, Any] = {
        "id": ident, "format": "coreml", "file": spec_file, "bundle": bundle, "precision": precision,
        "default": ident == "coreml",
        "converter": {"name": "coremltools", "version": importlib.metadata.version("coremltools")},
        "inputs": [{"name": INPUT, "features": schema.names, "dtype": "float32"}],
        "outputs": {_output_name(source): _output_name(source)},
        "spec_version": version, **OS_FOR_SPEC.get(version, {}),
    }
    if quantization:
        entry["quantization"] = quantization
    return Artifact(ident, "coreml", files, entry)


def artifacts(source: Any, schema: Any, variants: list[str]) -> list[Artifact]:
    """The float32 ML Program and the requested variants. Raises ModelError when conversion fails."""
    n = len(schema.features)
    ml32 = _convert(source, n, "float32")
    built = [_artifact(ml32, "coreml", "float32", None, source, schema)]
    for variant in variants:
        ident, precision, quantization = VARIANT_ROWS[variant]
        ml = _convert(source, n, "float16") if variant == "float16" else _quantized(ml32, variant)
        if quantization and not _has_compressed_weights(ml):
            continue  # every weight is below WEIGHT_THRESHOLD: the variant would be the float32 model again
        built.append(_artifact(ml, ident, precision, quantization, source, schema))
    return built


def _has_compressed_weights(ml: Any) -> bool:
    main = ml.get_spec().mlProgram.functions["main"]
    return any(op.type.startswith("constexpr_") for op in main.block_specializations[main.opset].operations)
