"""Core ML itself, through coremltools' MLModel.predict: macOS only (coremltools' native part does not
exist on Linux, where this runner reports itself unavailable and coreml-spec checks the artifacts)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from ...runtime.schema import IOSchema
from .base import InputBatch, Runner
from .coreml_io import feeds_for, package_outputs


class CoreMLRunner(Runner):
    name = "coreml"
    formats = ("coreml",)

    @classmethod
    def availability(cls) -> str | None:
        if sys.platform != "darwin":
            return "Core ML runs only on macOS/iOS; on this system the coreml-spec evaluator checks Core ML artifacts"
        try:
            import coremltools.libcoremlpython  # noqa: F401
        except ImportError:
            return "coremltools' native Core ML bridge is not installed (pip install 'edgepack[coreml]' on macOS)"
        return None

    def prepare(self) -> None:
        import coremltools as ct

        entry = self.artifact.entry
        self._dir = Path(tempfile.mkdtemp(prefix="edgepack-coreml-"))
        parts = {f["file"]: f for f in entry.get("files", [])}
        for name in parts or [self.artifact.file]:
            target = self._dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            part = parts.get(name)  # every file checked against the manifest before Core ML reads it
            target.write_bytes(self.package.verify_file(name, part["sha256"], size=part["size"]) if part
                               else self.package.artifact_bytes(self.artifact))
        bundle = entry.get("bundle")
        self._model = ct.models.MLModel(str(self._dir / (bundle or self.artifact.file)), compute_units=ct.ComputeUnit.CPU_ONLY)
        self._schema = IOSchema.from_manifest(self.package.manifest)

    def _predict(self, batch: InputBatch) -> dict[str, np.ndarray]:
        entry = self.artifact.entry
        feeds = feeds_for(entry, batch.columns, self._schema)
        rows = []
        for i in range(len(batch)):
            row = {k: (v[i] if v.ndim == 1 else v[i:i + 1]) for k, v in feeds.items()}
            rows.append({k: (float(v) if isinstance(v, np.floating) else v) for k, v in row.items()})
        results = self._model.predict(rows)
        merged = {name: [r[name] for r in results] for name in results[0]} if isinstance(results, list) else results
        merged = {k: (np.concatenate(v) if v and isinstance(v[0], np.ndarray) else v) for k, v in merged.items()}
        return package_outputs(entry, merged, list(self._schema.classes))

    def close(self) -> None:
        if getattr(self, "_dir", None):
            shutil.rmtree(self._dir, ignore_errors=True)

    def describe(self) -> dict[str, str]:
        import coremltools as ct

        return {"name": self.name, "runtime": "Core ML (coremltools MLModel)", "version": ct.__version__}
