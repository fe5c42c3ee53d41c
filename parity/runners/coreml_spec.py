"""The Core ML spec evaluator (edgepack.parity.coreml_spec) as a runner: checks Core ML artifacts on
Linux from the specification's documented semantics, where Core ML itself cannot run."""

from __future__ import annotations

import posixpath

import numpy as np

from ...runtime.schema import IOSchema
from ..coreml_spec import CoreMLModel, SpecError
from .base import InputBatch, Runner
from .coreml_io import feeds_for, package_outputs


class CoreMLSpecRunner(Runner):
    name = "coreml-spec"
    formats = ("coreml",)

    requires = (("coremltools", "coremltools (for Core ML's protobuf definitions) is not installed: pip install 'edgepack[coreml]'"),)

    def prepare(self) -> None:
        entry = self.artifact.entry
        hashes = {f["file"]: f["sha256"] for f in entry.get("files", [])}
        folder = posixpath.dirname(self.artifact.file)

        def read_file(name: str) -> bytes:
            rel = posixpath.normpath(posixpath.join(folder, name.removeprefix("@model_path/")))
            if rel not in hashes:

                raise SpecError(f"the model refers to {name!r}, which the manifest does not list")
            return self.package.verify_file(rel, hashes[rel])

        self._model = CoreMLModel.from_bytes(self.package.artifact_bytes(self.artifact), read_file)
        self._schema = IOSchema.from_manifest(self.package.manifest)

    def _predict(self, batch: InputBatch) -> dict[str, np.ndarray]:
        entry = self.artifact.entry
        result = self._model.predict(feeds_for(entry, batch.columns, self._schema))
        return package_outputs(entry, result, list(self._schema.classes))

    def describe(self) -> dict[str, str]:
        from importlib.metadata import version

        return {"name": self.name, "runtime": "edgepack Core ML spec evaluator",
                "version": f"coremltools.proto {version('coremltools')}"}
