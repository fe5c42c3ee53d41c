"""scikit-learn Core ML artifacts: the float32 .mlmodel and, for neural-network final models, its
reduced-precision variants (weights rewritten in the NeuralNetwork spec's own float16 / quantized forms).
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

import numpy as np

from ..base import Artifact
from .proto import OS_FOR_SPEC
from .sklearn_2_pipeline import convert, flatten_steps
from .sklearn_3_final_model import FINAL_MODELS, VARIANT_BUILDERS

PALETTE_BITS = 8
# variant -> (artifact id, precision, quantization, minimum specification version)
VARIANT_ROWS = {
    "float16": ("coreml-float16", "float16", None, 2),
    "int8": ("coreml-int8", "int8", "weights-linear-int8", 3),
    "palette": ("coreml-palette", "int8", f"weights-palette-{PALETTE_BITS}bit", 3),
}


def binding(schema: Any) -> list[dict[str, Any]]:
    """One named Core ML input per feature: Double for numbers (NaN = missing), String for categories."""
    return [{"name": f.name, "features": [f.name], "dtype": "string" if f.type == "category" else "float64"}
            for f in schema.features]


def entry_for(ident: str, file: str, precision: str, spec: Any, schema: Any, source: Any) -> dict[str, Any]:
    version = int(spec.specificationVersion)
    outputs = {"label": "label", "probabilities": "probabilities"} if source.task == "classification" else {"value": "value"}
    return {
        "id": ident, "format": "coreml", "file": file, "precision": precision, "default": ident == "coreml",
        "converter": {"name": "edgepack (coremltools.proto)", "version": importlib.metadata.version("coremltools")},
        "inputs": binding(schema), "outputs": outputs,
        "spec_version": version, **OS_FOR_SPEC.get(version, {}),
    }


def _layers(spec: Any) -> list[Any]:
    """Every NeuralNetwork layer in the model (inside pipelines too)."""
    kind = spec.WhichOneof("Type")
    if kind in ("pipeline", "pipelineClassifier", "pipelineRegressor"):
        inner = getattr(spec, kind)
        models = inner.models if kind == "pipeline" else inner.pipeline.models
        return [layer for m in models for layer in _layers(m)]
    if kind in ("neuralNetwork", "neuralNetworkClassifier", "neuralNetworkRegressor"):
        return list(getattr(spec, kind).layers)
    return []


def _kmeans_1d(values: np.ndarray, k: int) -> np.ndarray:
    """A k-entry palette for `values` (Lloyd's iterations from quantile starts)."""
    centers = np.quantile(values, np.linspace(0, 1, k))
    for _ in range(30):
        idx = np.abs(values[:, None] - centers[None, :]).argmin(axis=1)
        for j in range(k):
            if np.any(idx == j):
                centers[j] = values[idx == j].mean()
    return centers


def _pack_msb_first(idx: np.ndarray, nbits: int) -> bytes:
    bits = ((idx[:, None] >> np.arange(nbits - 1, -1, -1)) & 1).astype(np.uint8).reshape(-1)
    return np.packbits(bits).tobytes()


def _rewrite(params: Any, rows: int, variant: str) -> None:
    """Rewrite one WeightParams (float32 values) in the variant's storage form."""
    w = np.asarray(params.floatValue, dtype=np.float32)
    params.ClearField("floatValue")
    if variant == "float16":
        params.float16Value = w.astype("<f2").tobytes()
        return
    q = params.quantization
    if variant == "int8":
        per_row = w.reshape(rows, -1)
        lo, hi = per_row.min(axis=1), per_row.max(axis=1)
        scale = np.where(hi > lo, (hi - lo) / 255.0, 1.0).astype(np.float32)
        idx = np.clip(np.rint((per_row - lo[:, None]) / scale[:, None]), 0, 255).astype(np.int64).reshape(-1)
        q.numberOfBits = 8
        q.linearQuantization.scale.extend(scale.tolist())
        q.linearQuantization.bias.extend(lo.astype(np.float32).tolist())
        params.rawValue = _pack_msb_first(idx, 8)
    else:
        k = 1 << PALETTE_BITS
        table = _kmeans_1d(w.astype(np.float64), k).astype(np.float32)
        idx = np.abs(w[:, None] - table[None, :]).argmin(axis=1).astype(np.int64)
        q.numberOfBits = PALETTE_BITS
        q.lookupTableQuantization.floatValue.extend(table.tolist())
        params.rawValue = _pack_msb_first(idx, PALETTE_BITS)


def variant_spec(spec: Any, variant: str) -> Any | None:
    """A copy of the spec with its neural-network weights in the variant's form; None when the model
    has no neural network (trees, GLMs: their doubles have no reduced form in Core ML)."""
    copy = type(spec)()
    copy.CopyFrom(spec)
    layers = [layer for layer in _layers(copy) if layer.WhichOneof("layer") == "innerProduct"]
    if not layers:
        return None
    for layer in layers:
        ip = layer.innerProduct
        _rewrite(ip.weights, ip.outputChannels, variant)
        if variant == "float16" and ip.hasBias:
            _rewrite(ip.bias, ip.outputChannels, variant)  # biases stay float32 for the quantized forms
    _, _, _, version = VARIANT_ROWS[variant]
    _raise_version(copy, version)
    return copy


def _raise_version(spec: Any, version: int) -> None:
    spec.specificationVersion = max(spec.specificationVersion, version)
    kind = spec.WhichOneof("Type")
    if kind in ("pipeline", "pipelineClassifier", "pipelineRegressor"):
        inner = getattr(spec, kind)
        for m in inner.models if kind == "pipeline" else inner.pipeline.models:
            _raise_version(m, version)


def artifacts(source: Any, schema: Any, variants: list[str]) -> list[Artifact]:
    spec = convert(source, schema)
    built = [Artifact("coreml", "coreml", {"model.mlmodel": spec.SerializeToString()},
                      entry_for("coreml", "model.mlmodel", "float32", spec, schema, source))]
    builder = FINAL_MODELS.get(type(flatten_steps(source.model)[-1]).__name__)
    for variant in variants if builder is not None and builder.__name__ in VARIANT_BUILDERS else []:
        reduced = variant_spec(spec, variant)
        if reduced is None:
            continue
        ident, precision, quantization, _ = VARIANT_ROWS[variant]
        file = f"{ident.replace('coreml', 'model')}.mlmodel"
        entry = entry_for(ident, file, precision, reduced, schema, source)
        if quantization:
            entry["quantization"] = quantization
        built.append(Artifact(ident, "coreml", {file: reduced.SerializeToString()}, entry))
    return built
