"""onnxruntime-web (WebAssembly) in Node, through web/bin/score.mjs: the engine pages use, run headless."""

from __future__ import annotations

import os

import numpy as np

from .base import InputBatch, Runner
from .node_cli import NODE, WEB_DIR, node_availability, npm_version, raw_outputs, run_jsonl


class NodeScoreRunner(Runner):
    """Runs an artifact with `node web/bin/score.mjs PACKAGE --artifact ID --backend B` (one subprocess
    per batch). Subclasses set `name`, `formats` and `backend` (and the npm packages it needs)."""

    backend = "ort-wasm"
    needs: tuple[str, ...] = ("onnxruntime-web",)
    runtime_package = "onnxruntime-web"

    @classmethod
    def availability(cls) -> str | None:
        return node_availability(*cls.needs)

    def command(self) -> list[str]:
        # Absolute: run_jsonl starts the CLI in web/, where a relative package path would not resolve.
        return [NODE, str(WEB_DIR / "bin" / "score.mjs"), os.path.abspath(self.package.location),
                "--artifact", self.artifact.id, "--backend", self.backend]

    def _predict(self, batch: InputBatch) -> dict[str, np.ndarray]:
        lines = run_jsonl(self.command(), batch.records, f"{self.name} ({self.backend})")
        return raw_outputs(lines, self.package.manifest["outputs"].get("classes", []))

    def describe(self) -> dict[str, str]:
        return {"name": self.name, "runtime": f"{self.runtime_package} in Node ({self.backend})",
                "version": npm_version(self.runtime_package)}


class OrtWebNodeRunner(NodeScoreRunner):
    name = "ort-web-node"
    formats = ("onnx",)
