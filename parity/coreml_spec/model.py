"""Open a Core ML artifact (.mlmodel file or .mlpackage directory) and evaluate it on a batch.

Dispatch is one table from the Model's type to the function that evaluates it; pipelines run their
models in order over a shared pool of named features.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...converters.coreml_protobuf import module
from . import classic, neural_network, svm, trees
from .mlprogram import ml_program
from .values import SpecError, feature_kind

ReadFile = Callable[[str], bytes]

EVALUATORS: dict[str, Callable[[Any, dict[str, Any]], dict[str, Any]]] = {
    "featureVectorizer": classic.feature_vectorizer,
    "imputer": classic.imputer,
    "scaler": classic.scaler,
    "oneHotEncoder": classic.one_hot_encoder,
    "categoricalMapping": classic.categorical_mapping,
    "glmRegressor": classic.glm_regressor,
    "glmClassifier": classic.glm_classifier,
    "treeEnsembleRegressor": trees.tree_regressor,
    "treeEnsembleClassifier": trees.tree_classifier,
    "neuralNetworkClassifier": neural_network.neural_network_classifier,
    "neuralNetworkRegressor": neural_network.neural_network_regressor,
    "neuralNetwork": neural_network.neural_network_regressor,
    "supportVectorClassifier": svm.svm_classifier,
    "supportVectorRegressor": svm.svm_regressor,
}
PIPELINES = ("pipeline", "pipelineClassifier", "pipelineRegressor")


def _no_files(name: str) -> bytes:
    raise SpecError(f"the model refers to {name!r} but was opened without its package")


class CoreMLModel:
    """A parsed Core ML model. `spec` is the Model protobuf message (coremltools.proto.Model_pb2.Model)."""

    def __init__(self, spec: Any, read_file: ReadFile = _no_files) -> None:
        self.spec = spec
        self.read_file = read_file

    @classmethod
    def from_bytes(cls, data: bytes, read_file: ReadFile = _no_files) -> CoreMLModel:
        """Parse a serialized Model. `read_file(name)` returns the bytes of a file the model refers to
        (an ML Program's "@model_path/weights/weight.bin")."""
        spec = module("Model_pb2").Model()
        try:
            spec.ParseFromString(data)
        except Exception as exc:  # protobuf's DecodeError and friends
            raise SpecError(f"not a Core ML model: {exc}") from exc
        if spec.WhichOneof("Type") is None:
            raise SpecError("not a Core ML model: no model type is set")
        return cls(spec, read_file)

    @classmethod
    def open(cls, path: str | Path) -> CoreMLModel:
        path = Path(path)
        if path.is_dir():
            manifest = json.loads((path / "Manifest.json").read_text())
            root = manifest["itemInfoEntries"][manifest["rootModelIdentifier"]]["path"]
            spec_path = path / "Data" / root
        else:
            spec_path = path
        base = spec_path.parent

        def read_file(name: str) -> bytes:
            rel = name.removeprefix("@model_path/")
            target = (base / rel).resolve()
            if base.resolve() not in target.parents:
                raise SpecError(f"the model refers to a file outside its package: {name!r}")
            return target.read_bytes()

        return cls.from_bytes(spec_path.read_bytes(), read_file)

    @property
    def specification_version(self) -> int:
        return int(self.spec.specificationVersion)

    def inputs(self) -> dict[str, str]:
        """Input name -> kind (double, string, int64, multiArray, ...)."""
        return {i.name: feature_kind(i.type) for i in self.spec.description.input}

    def outputs(self) -> dict[str, str]:
        return {o.name: feature_kind(o.type) for o in self.spec.description.output}

    def predict(self, feeds: dict[str, Any]) -> dict[str, Any]:
        """Outputs for a batch: feeds maps every input name to N values (or an [N, ...] array)."""
        missing = [name for name in self.inputs() if name not in feeds]
        if missing:
            raise SpecError(f"inputs missing: {', '.join(missing)}")
        return self._evaluate(self.spec, dict(feeds))

    def _evaluate(self, model: Any, pool: dict[str, Any]) -> dict[str, Any]:
        kind = model.WhichOneof("Type")
        if kind in PIPELINES:
            sub = getattr(model, kind)
            inner = sub.pipeline if kind != "pipeline" else sub
            for part in inner.models:
                pool.update(self._evaluate(part, pool))
            return {o.name: pool[o.name] for o in model.description.output}
        if kind == "mlProgram":

            return ml_program(model, pool, self.read_file, module("MIL_pb2"))
        fn = EVALUATORS.get(kind)
        if fn is None:
            raise SpecError(f"Core ML model type {kind} is outside the supported subset")
        feeds = {}
        for i in model.description.input:
            if i.name not in pool:
                raise SpecError(f"{kind} needs the feature {i.name!r}, which nothing before it produces")
            feeds[i.name] = pool[i.name]
        result = fn(model, feeds)
        for o in model.description.output:
            if o.name not in result:
                raise SpecError(f"{kind} did not produce its declared output {o.name!r}")
        return result


__all__ = ["CoreMLModel", "SpecError"]
