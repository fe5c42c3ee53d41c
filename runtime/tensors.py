"""Tensor packages (format version 2): models whose inputs are named tensors (images, sequences, several
inputs), not a row of features. What a device needs to read them: the declared inputs and outputs, record
validation (nested JSON arrays or numpy arrays -> typed batches) and the layout change an artifact may need.

Manifest (docs/package-format.md):
    inputs.tensors:  [{name, dtype, shape: [null, ...], layout?: NHWC|NCHW|..., image?: {...}}]
    outputs.tensors: [{name, dtype, shape, kind: "probabilities" | "tensor"}]; outputs.classes, outputs.top_k
    artifact.inputs: [{name (in the artifact), input (package input), dtype, layout?,
                       quantization?: {scale, zero_point} (an int8/uint8 input: q = round(x / scale) + zero_point)}]
    artifact.outputs: {package output name: artifact tensor name}
    artifact.output_quantization?: {artifact tensor name: {dtype, scale, zero_point}} (x = (q - zero_point) * scale)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import PackageError, RecordError

DTYPES = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "int32": np.int32,
          "uint8": np.uint8, "int8": np.int8, "bool": np.bool_}
# Layouts as axis letters; an artifact whose layout differs from its package input's gets a transpose.
LAYOUTS = ("NHWC", "NCHW", "NWC", "NCW", "NC", "N")


@dataclass(frozen=True)
class TensorSpec:
    """One input or output tensor of a package: shape[0] is the batch (None: any)."""

    name: str
    dtype: str
    shape: tuple[int | None, ...]
    layout: str | None = None
    kind: str = "tensor"  # outputs: a classifier's "probabilities" or "scores" (logits): top-k; else "tensor"
    image: dict[str, Any] | None = None

    @classmethod
    def from_manifest(cls, entry: dict[str, Any]) -> TensorSpec:
        return cls(name=entry["name"], dtype=entry["dtype"], shape=tuple(entry["shape"]), layout=entry.get("layout"),
                   kind=entry.get("kind", "tensor"), image=entry.get("image"))

    def to_manifest(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}
        if self.layout:
            out["layout"] = self.layout
        if self.image:
            out["image"] = self.image
        return out


def is_tensor_package(manifest: dict[str, Any]) -> bool:
    return "tensors" in manifest.get("inputs", {})


def input_specs(manifest: dict[str, Any]) -> list[TensorSpec]:
    return [TensorSpec.from_manifest(t) for t in manifest["inputs"]["tensors"]]


def output_specs(manifest: dict[str, Any]) -> list[TensorSpec]:
    return [TensorSpec.from_manifest(t) for t in manifest["outputs"]["tensors"]]


def as_batch(value: Any, spec: TensorSpec, record: int | None = None, batched: bool = False) -> np.ndarray:
    """One record's value (nested lists or an array of shape spec.shape[1:]) or, with `batched`, a whole
    batch, as an array of the spec's dtype. Raises RecordError naming the input and the expected shape."""
    want = spec.shape if batched else spec.shape[1:]
    try:
        array = np.asarray(value, dtype=np.float64 if spec.dtype.startswith("float") else None)
    except (TypeError, ValueError):
        raise RecordError(f"expected a nested array of numbers with shape {_shape_text(want)}",
                          field=spec.name, record=record) from None
    if array.dtype == object or array.dtype.kind not in "fiub":
        raise RecordError(f"expected a nested array of numbers with shape {_shape_text(want)} (ragged or not numeric)",
                          field=spec.name, record=record)
    if array.ndim != len(want) or any(w is not None and w != g for w, g in zip(want, array.shape)):
        raise RecordError(f"shape {_shape_text(array.shape)} where the model takes {_shape_text(want)}",
                          field=spec.name, record=record)
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise RecordError("NaN or infinity in a tensor input", field=spec.name, record=record)
    dtype = DTYPES[spec.dtype]
    if dtype not in (np.float32, np.float64) and array.dtype.kind == "f" and np.any(array != np.round(array)):
        raise RecordError(f"expected integers ({spec.dtype})", field=spec.name, record=record)
    out = array.astype(dtype, copy=False)
    return out if batched else out[None]


def stack_records(records: list[Any], specs: list[TensorSpec], start: int = 0
                  ) -> tuple[dict[str, np.ndarray], list[int], list[RecordError]]:
    """Validate JSON records ({input name: nested array}) into batched inputs.
    Returns (inputs for the valid records, their indices, the errors of the others)."""
    parts: dict[str, list[np.ndarray]] = {s.name: [] for s in specs}
    good: list[int] = []
    errors: list[RecordError] = []
    for i, record in enumerate(records):
        index = start + i
        if not isinstance(record, dict):
            errors.append(RecordError("expected a JSON object of named tensors", record=index))
            continue
        try:
            missing = [s.name for s in specs if s.name not in record]
            if missing:
                raise RecordError(f"missing input(s) {', '.join(missing)}", field=missing[0], record=index)
            arrays = [as_batch(record[s.name], s, index) for s in specs]
        except RecordError as err:
            errors.append(err)
            continue
        for spec, array in zip(specs, arrays):
            parts[spec.name].append(array)
        good.append(index)
    inputs = {name: np.concatenate(arrays) for name, arrays in parts.items() if arrays}
    return inputs, good, errors


def relayout(array: np.ndarray, source: str | None, target: str | None) -> np.ndarray:
    """Transpose a batch from the package input's layout to an artifact's (same letters, other order)."""
    if not source or not target or source == target:
        return array
    if sorted(source) != sorted(target) or len(source) != array.ndim:
        raise PackageError(f"cannot turn layout {source} into {target} for an array of rank {array.ndim}",
                           fix="rebuild the package")
    return np.ascontiguousarray(np.transpose(array, [source.index(axis) for axis in target]))


def artifact_feeds(binding: list[dict[str, Any]], specs: list[TensorSpec], inputs: dict[str, np.ndarray]
                   ) -> dict[str, np.ndarray]:
    """Package inputs -> the artifact's named tensors (dtype and layout as the artifact entry declares)."""
    by_name = {s.name: s for s in specs}
    feeds = {}
    for tensor in binding:
        spec = by_name[tensor["input"]]
        array = relayout(inputs[spec.name], spec.layout, tensor.get("layout", spec.layout))
        if "quantization" in tensor:  # an int8/uint8 input of a fully quantized artifact
            feeds[tensor["name"]] = quantize(array, tensor["quantization"], tensor["dtype"])
        else:
            feeds[tensor["name"]] = array.astype(DTYPES[tensor["dtype"]], copy=False)
    return feeds


def quantize(array: np.ndarray, record: dict[str, Any], dtype: str) -> np.ndarray:
    """Real values -> an integer tensor: q = round(x / scale) + zero_point, clipped to the type's range
    (TFLite's rule for its int8/uint8 inputs; the scale and zero point come from the artifact entry)."""
    info = np.iinfo(dtype)  # "int8" or "uint8"
    q = np.round(np.asarray(array, dtype=np.float64) / float(record["scale"])) + int(record["zero_point"])
    return np.clip(q, info.min, info.max).astype(DTYPES[dtype])


def dequantize_outputs(entry: dict[str, Any], outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Artifact outputs by tensor name; those listed in the entry's `output_quantization` turned back to
    real values, (q - zero_point) * scale, as float32."""
    records = entry.get("output_quantization") or {}
    return {name: ((np.asarray(value, dtype=np.float32) - np.float32(records[name]["zero_point"]))
                   * np.float32(records[name]["scale"])) if name in records else value
            for name, value in outputs.items()}


CLASS_KINDS = ("probabilities", "scores")


def top_k(scores: np.ndarray, classes: list[Any], k: int, key: str = "probability") -> list[dict[str, Any]]:
    """Per row {"label", "top_k": [{"class", key}]}: the highest score first, the first class on ties."""
    k = min(k, scores.shape[1])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    rows = []
    for row, idx in zip(scores, order):
        best = [{"class": classes[j], key: float(row[j])} for j in idx]
        rows.append({"label": best[0]["class"], "top_k": best})
    return rows


def format_outputs(raw: dict[str, np.ndarray], outputs: list[TensorSpec], classes: list[Any], k: int
                   ) -> list[dict[str, Any]]:
    """Raw batched outputs -> one JSON-ready dict per row: top-k for a classifier's probabilities, nested
    lists for plain tensors."""
    n = len(next(iter(raw.values())))
    rows: list[dict[str, Any]] = [{} for _ in range(n)]
    for spec in outputs:
        value = np.asarray(raw[spec.name])
        if spec.kind in CLASS_KINDS:
            key = "probability" if spec.kind == "probabilities" else "score"
            for row, labelled in zip(rows, top_k(value.reshape(n, -1).astype(np.float64), classes, k, key)):
                row.update(labelled)
        else:
            for row, part in zip(rows, value.astype(np.float64).tolist()):
                row[spec.name] = part
    return rows


def image_to_input(pixels: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """Pictures already at the input's size, as [N, height, width, channels] 0..255 values in the
    declared channel order, -> the model's input: (p * scale - mean) / std per channel, in the input's
    layout and dtype. The one preprocessing rule every runtime applies (docs/package-format.md)."""
    image = spec.image or {}
    if not image:
        raise RecordError("this input takes no pictures (no image preprocessing is declared)", field=spec.name)
    x = np.asarray(pixels, dtype=np.float32)
    mean = np.asarray(image["mean"], dtype=np.float32)
    std = np.asarray(image["std"], dtype=np.float32)
    x = (x * np.float32(image["scale"]) - mean) / std
    if spec.layout == "NCHW":
        x = np.transpose(x, (0, 3, 1, 2))
    return np.ascontiguousarray(x, dtype=DTYPES[spec.dtype])


def input_to_pixels(x: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """The inverse of image_to_input: a batch of the input (its layout) -> the pictures it was made from,
    [N, height, width, channels] float32 values on the 0..255 scale in the declared channel order (what a
    Core ML image input is handed; parity shows them in reports)."""
    image = spec.image or {}
    if not image:
        raise RecordError("this input takes no pictures (no image preprocessing is declared)", field=spec.name)
    x = np.asarray(x, dtype=np.float32)
    if spec.layout == "NCHW":
        x = np.transpose(x, (0, 2, 3, 1))
    std, mean = np.asarray(image["std"], dtype=np.float32), np.asarray(image["mean"], dtype=np.float32)
    return np.ascontiguousarray((x * std + mean) / np.float32(image["scale"]))


def _shape_text(shape: Any) -> str:
    return "[" + ", ".join("N" if d is None else str(d) for d in shape) + "]"
