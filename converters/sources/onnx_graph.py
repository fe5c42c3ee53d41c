"""ONNX graphs as a source (`edgepack build model.onnx --sample x.npz`): the route for PyTorch
(`torch.onnx.export`) and any other exporter, opset 13 or newer.

The reference outputs come from ONNX's own reference evaluator (`onnx.reference`), an engine independent
of onnxruntime, so the ONNX artifact checked in onnxruntime is compared with something else than itself.
When the evaluator lacks an operator the graph uses, onnxruntime on the source graph is the reference
and `describe()` says so. Loading an ONNX file runs no code.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from ...runtime.errors import ModelError
from ...runtime.tensors import TensorSpec
from .tensor_io import input_spec, read_sidecars, softmax_like

MIN_OPSET = 13
# onnx TensorProto element types -> the package's dtype names
_DTYPES = {1: "float32", 11: "float64", 7: "int64", 6: "int32", 2: "uint8", 9: "bool"}


def _shape(value_info: Any) -> tuple[int | None, ...]:
    dims = value_info.type.tensor_type.shape.dim
    return tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in dims)


class OnnxSource:
    """An ONNX model file. Tensor inputs and outputs; a classifier when a classes file sits beside it or its
    first output ends in Softmax."""

    framework = "onnx"
    kind = "tensor"

    def __init__(self, model: Any, path: Path) -> None:
        import onnx

        self.model = model
        self.path = path
        self.data = path.read_bytes()
        opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        if opset < MIN_OPSET:
            raise ModelError(f"the model uses opset {opset}; edgepack takes opset {MIN_OPSET} or newer", where=str(path),
                             fix=f"export again with opset_version={MIN_OPSET} or newer (torch.onnx.export(..., opset_version=17))")
        self.opset = opset
        try:
            onnx.checker.check_model(model, full_check=True)
        except Exception as exc:  # onnx raises ValidationError and shape inference errors
            raise ModelError(f"the ONNX model fails onnx.checker: {exc}", where=str(path),
                             fix="export the model again with a current exporter") from exc
        classes, extra = read_sidecars(path)
        initializers = {i.name for i in model.graph.initializer}
        self.inputs: list[TensorSpec] = []
        for value in model.graph.input:
            if value.name in initializers:
                continue
            dtype = _DTYPES.get(value.type.tensor_type.elem_type)
            if dtype is None:
                raise ModelError(f"input {value.name!r} has an element type edgepack does not take",
                                 where=str(path), fix="inputs must be float32/float64/int32/int64/uint8/bool tensors")
            self.inputs.append(input_spec(value.name, dtype, _shape(value), extra.get(value.name, {})))
        last_ops = {out: node.op_type for node in model.graph.node for out in node.output}
        self.outputs: list[TensorSpec] = []
        for i, value in enumerate(model.graph.output):
            shape = _shape(value)
            kind = "tensor"
            if i == 0 and len(shape) == 2 and (classes is not None or last_ops.get(value.name) == "Softmax"):
                kind = "probabilities" if last_ops.get(value.name) == "Softmax" else "scores"
            dtype = _DTYPES.get(value.type.tensor_type.elem_type, "float32")
            self.outputs.append(TensorSpec(name=value.name, dtype=dtype, shape=(None, *shape[1:]), kind=kind))
        scored = self.outputs[0]
        self.task = "classification" if scored.kind != "tensor" else "tensor"
        n_classes = scored.shape[1] if self.task == "classification" else None
        self.classes: list[Any] = list(classes) if classes is not None else list(range(n_classes or 0))
        if self.task == "classification" and n_classes is not None and len(self.classes) != n_classes:
            raise ModelError(f"{len(self.classes)} class names for an output of {n_classes} scores",
                             where=str(path.with_suffix(".classes.json")))
        self._reference: Any = None
        self.reference_engine = "onnx.reference"

    @classmethod
    def load(cls, path: Path) -> OnnxSource:
        import onnx

        try:
            model = onnx.load(str(path))
        except Exception as exc:  # protobuf DecodeError and others on a file that is not ONNX
            raise ModelError(f"cannot read {path.name} as an ONNX model: {exc}", where=str(path),
                             fix="pass a file written by torch.onnx.export, tf2onnx or onnx.save") from exc
        return cls(model, path)

    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def describe(self) -> dict[str, Any]:
        import onnx

        producer = f"{self.model.producer_name} {self.model.producer_version}".strip() or "unknown"
        ops = sorted({n.op_type for n in self.model.graph.node})
        return {"framework": "onnx", "framework_version": onnx.__version__, "estimator": f"onnx.ModelProto ({producer})",
                "summary": f"opset {self.opset}, {len(self.model.graph.node)} nodes: {', '.join(ops[:12])}"
                           + (" ..." if len(ops) > 12 else "") + f"; reference: {self.reference_engine}",
                "family": "onnx_graph"}

    def predict_tensors(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Outputs by name for batched inputs by name, from the reference evaluator (or onnxruntime)."""
        feeds = {s.name: np.asarray(inputs[s.name]) for s in self.inputs}
        names = [o.name for o in self.outputs]
        if self._reference is None:
            self._reference = self._make_reference(feeds)
        results = self._reference(names, feeds)
        return {n: np.asarray(r) for n, r in zip(names, results)}

    def _make_reference(self, feeds: dict[str, np.ndarray]) -> Any:
        from onnx.reference import ReferenceEvaluator

        try:
            evaluator = ReferenceEvaluator(self.model)
            probe = {k: v[:1] for k, v in feeds.items()}
            evaluator.run(None, probe)
            return evaluator.run
        except Exception:  # an operator the reference evaluator lacks: onnxruntime on the source graph
            import onnxruntime as ort

            self.reference_engine = "onnxruntime (onnx.reference cannot run this graph)"
            session = ort.InferenceSession(self.data, providers=["CPUExecutionProvider"])
            return session.run

    def check_classifier(self, outputs: dict[str, np.ndarray]) -> None:
        """A "probabilities" output must hold probabilities on the sample; else it is scores (logits)."""
        first = self.outputs[0]
        if first.kind == "probabilities" and not softmax_like(np.asarray(outputs[first.name], dtype=np.float64)):
            self.outputs[0] = TensorSpec(first.name, first.dtype, first.shape, kind="scores")
