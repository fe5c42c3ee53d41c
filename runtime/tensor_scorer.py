"""The device scorer for tensor packages (format version 2): the ONNX artifact in onnxruntime.

Example:
    from edgepack.runtime.tensor_scorer import TensorScorer
    scorer = TensorScorer.load("build/digits/package")
    scorer.predict({"image": images})            # -> {"probabilities": [N, 10]}
    scorer.score([{"image": [[[0.0], ...]]}])    # -> ([0], [{"label": 3, "top_k": [...]}], [])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import PackageError, RecordError
from .judge import TensorMetrics, TensorProfile, judge_tensors, recorded_tensor_profile
from .package import ArtifactInfo, Package
from .tensors import (
    CLASS_KINDS,
    artifact_feeds,
    as_batch,
    format_outputs,
    input_specs,
    output_specs,
    stack_records,
)


@dataclass(frozen=True)
class TensorSelfTest:
    rows: int
    top1_agreement: float | None
    max_abs_error: float
    min_cosine: float
    tolerance: dict[str, float]
    passed: bool


class TensorScorer:
    """Scores named tensors with one ONNX artifact of a tensor package. Use `TensorScorer.load(path)`."""

    tensor = True  # the CLI's cue: JSON lines of named tensors, not records of features

    def __init__(self, package: Package, artifact: ArtifactInfo, session: Any) -> None:
        self.package = package
        self.artifact = artifact
        self.inputs = input_specs(package.manifest)
        self.outputs = output_specs(package.manifest)
        self.classes = list(package.manifest["outputs"].get("classes", []))
        self.top_k = int(package.manifest["outputs"].get("top_k", 5))
        self._session = session
        self._binding = artifact.entry["inputs"]
        self._names = artifact.entry["outputs"]

    @classmethod
    def load(cls, path: Any, artifact: str | None = None, threads: int = 1, trust: Any = None) -> TensorScorer:
        """Open and verify a package and load its ONNX artifact (or, by id, a TFLite one). `trust`: as for
        Scorer.load, a public key file, a directory of them or a TrustSet the package must be signed by.
        Raises PackageError (UsageError for an unusable `trust`)."""
        package = path if isinstance(path, Package) else Package.open(path)
        if trust is not None:
            from .signing import (  # deferred: a start-up without --trust stays as small
                TrustSet,
                verify_package,
            )

            verify_package(package, trust if isinstance(trust, TrustSet) else TrustSet.load(trust))
        package.check_golden()  # every checksum verified before anything is scored, as Scorer.load does
        art = package.artifact(artifact, format="onnx")
        if art.format == "tflite":  # boards without an onnxruntime wheel: the optional tflite extra
            from .tflite_session import TFLiteSession  # deferred: only a chosen TFLite artifact needs it

            return cls(package, art, TFLiteSession(package.artifact_bytes(art), art.entry, threads))
        if art.format != "onnx":
            raise PackageError(f"artifact {art.id!r} is {art.format}; this scorer runs ONNX and TFLite artifacts",
                               fix="choose an ONNX or TFLite artifact (edgepack inspect lists them)")
        import onnxruntime as ort  # the one heavy import of the device runtime

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(package.artifact_bytes(art), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise PackageError(f"onnxruntime cannot load {art.file!r}: {exc}", where=str(package.location)) from exc
        return cls(package, art, session)

    def predict(self, inputs: dict[str, Any]) -> dict[str, np.ndarray]:
        """Batched inputs by package input name -> raw outputs by package output name.
        Raises RecordError when an input is missing or has the wrong shape."""
        batches = {}
        for spec in self.inputs:
            if spec.name not in inputs:
                raise RecordError(f"missing input {spec.name!r}", field=spec.name)
            batches[spec.name] = as_batch(inputs[spec.name], spec, batched=True)
        names = list(self._names.values())
        results = self._session.run(names, artifact_feeds(self._binding, self.inputs, batches))
        return dict(zip(self._names.keys(), results))

    def score(self, records: list[Any], start: int = 0) -> tuple[list[int], list[dict[str, Any]], list[RecordError]]:
        """Validate and score JSON records. Returns (indices scored, their output rows, rejections)."""
        inputs, good, errors = stack_records(records, self.inputs, start)
        if not good:
            return [], [], errors
        return good, self.format(self.predict(inputs)), errors

    def format(self, raw: dict[str, np.ndarray]) -> list[dict[str, Any]]:
        return format_outputs(raw, self.outputs, self.classes, self.top_k)

    def selftest(self) -> TensorSelfTest:
        """Run the golden inputs and compare with the source model's stored outputs."""
        golden = self.package.golden()
        raw = self.predict({k: np.asarray(v) for k, v in golden["inputs"].items()})
        tolerance = recorded_tensor_profile(self.artifact.precision, self.package.manifest)
        worst, cosine, agree = 0.0, 1.0, None
        for spec in self.outputs:
            got = np.asarray(raw[spec.name], dtype=np.float64).reshape(len(raw[spec.name]), -1)
            want = np.asarray(golden["outputs"][spec.name], dtype=np.float64).reshape(got.shape)
            worst = max(worst, float(np.max(np.abs(got - want))) if got.size else 0.0)
            cosine = min(cosine, _min_cosine(got, want))
            if spec.kind in CLASS_KINDS:
                agree = float(np.mean(np.argmax(got, 1) == np.argmax(want, 1)))
        # The self-test checks top-1 only: top-5 is a parity metric (golden rows are few).
        verdict = judge_tensors(TensorMetrics(max_abs_error=worst, min_cosine=cosine, top1_agreement=agree),
                                TensorProfile.from_dict(tolerance))
        ok = verdict.passed
        return TensorSelfTest(len(next(iter(raw.values()))), agree, worst, cosine, tolerance, ok)


def _min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    dots = np.sum(a * b, axis=1)
    # Two all-zero rows are the same vector: cosine 1.
    cos = np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0), np.where(np.all(a == b, axis=1), 1.0, 0.0))
    return float(np.min(cos)) if len(cos) else 1.0
