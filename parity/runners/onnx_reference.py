"""onnx.reference.ReferenceEvaluator: the ONNX specification's own Python implementation of every
operator, written independently of onnxruntime, so a bug in one runtime's kernel shows as a disagreement."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...runtime.records import tensors_for
from ...runtime.schema import IOSchema
from .base import InputBatch, Runner, Unavailable

BRANCH_MEMBER = 6  # ai.onnx.ml TreeEnsemble's nodes_modes value for a set-membership split


def _svm_couples_classes(node: Any) -> bool:
    """An SVMClassifier that turns pairwise Platt probabilities into class probabilities (prob_a given)
    over three or more classes."""
    attrs = {a.name: a for a in node.attribute}
    classes = max(len(attrs["classlabels_ints"].ints) if "classlabels_ints" in attrs else 0,
                  len(attrs["classlabels_strings"].strings) if "classlabels_strings" in attrs else 0)
    return "prob_a" in attrs and len(attrs["prob_a"].floats) > 0 and classes >= 3


class OnnxReferenceRunner(Runner):
    name = "onnx-reference"
    formats = ("onnx",)

    requires = (("onnx.reference", "the onnx package (onnx.reference) is not installed"),)

    def prepare(self) -> None:
        import onnx
        import onnx.numpy_helper
        from onnx.reference import ReferenceEvaluator

        model = onnx.load_from_string(self.package.artifact_bytes(self.artifact))
        for node in model.graph.node:
            modes = next((a for a in node.attribute if a.name == "nodes_modes"), None)
            if node.op_type == "TreeEnsemble" and modes is not None and BRANCH_MEMBER in onnx.numpy_helper.to_array(modes.t):
                # its loop `while (member := next(values)) and not isnan(member)` ends a set at a member 0.0
                # and reads the rest as the next node's: category 0 (the first code) is everywhere
                raise Unavailable(f"onnx.reference {onnx.__version__} misreads TreeEnsemble set-membership (BRANCH_MEMBER) "
                                  "nodes: a member 0 ends the set")
            if node.op_type == "SVMClassifier" and _svm_couples_classes(node):
                # its multiclass_probability writes Q[t, t+1:] = -R[t+1:, t] @ R[t, t+1:] (one dot product for
                # the whole row) where libsvm multiplies element by element: 3+ class probabilities are wrong
                raise Unavailable(f"onnx.reference {onnx.__version__} couples SVMClassifier's pairwise probabilities "
                                  "wrongly for three or more classes")
        try:
            self._evaluator = ReferenceEvaluator(model)
        except (NotImplementedError, RuntimeError, TypeError, KeyError) as exc:
            # The evaluator lacks an operator this graph uses: this artifact cannot be checked here.
            ops = sorted({f"{n.domain or 'ai.onnx'}.{n.op_type}" for n in model.graph.node})
            raise Unavailable(f"onnx.reference cannot run this graph ({exc}); its operators: {', '.join(ops)}") from exc
        self._schema = IOSchema.from_manifest(self.package.manifest)
        outputs = self.artifact.entry["outputs"]
        self._wanted = {k: v for k, v in outputs.items() if k in ("probabilities", "value")}

    def _predict(self, batch: InputBatch) -> dict[str, np.ndarray]:
        feeds = tensors_for(self.artifact.entry["inputs"], batch.columns, self._schema)
        results = self._evaluator.run(list(self._wanted.values()), feeds)
        out = {k: np.asarray(v, dtype=np.float64) for k, v in zip(self._wanted, results)}
        if "value" in out:
            out["value"] = out["value"].reshape(-1)
        return out

    def describe(self) -> dict[str, str]:
        import onnx

        return {"name": self.name, "runtime": "onnx.reference", "version": onnx.__version__}
