"""TF.js graph models in Node, through web/'s scoring CLI (contract 5), with the cpu or wasm backend.

`node web/bin/score.mjs PACKAGE --artifact ID --backend tfjs-cpu|tfjs-wasm` reads JSONL records on stdin
and writes one JSON line per record; web/ encodes the records itself (contract 2), so this checks the
browser-side encoding and the artifact together.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np

from .base import InputBatch, Runner

WEB = Path(__file__).resolve().parents[2] / "web"
SCORE = WEB / "bin" / "score.mjs"


class TfjsNodeRunner(Runner):
    name = "tfjs-node"
    formats = ("tfjs",)
    backend = "tfjs-cpu"

    @classmethod
    def availability(cls) -> str | None:
        if shutil.which("node") is None:
            return "node is not installed"
        if not SCORE.is_file():
            return f"{SCORE.relative_to(WEB.parent)} is missing (web/ scoring CLI)"
        if not (WEB / "node_modules" / "@tensorflow").is_dir():
            return "web/node_modules has no TF.js: run make (npm ci in web/)"
        return None

    def _predict(self, batch: InputBatch) -> dict[str, np.ndarray]:
        lines = "".join(json.dumps(r, allow_nan=False) + "\n" for r in batch.records)
        done = subprocess.run(["node", str(SCORE), str(self.package.location), "--artifact", self.artifact.id,
                               "--backend", self.backend], input=lines, capture_output=True, text=True, timeout=600)
        results = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
        errors = [r["error"] for r in results if "error" in r]
        if done.returncode not in (0, 3) or errors or len(results) != len(batch):
            raise RuntimeError(f"score.mjs exit {done.returncode}: {errors[:3] or done.stderr.strip()[-500:]}")
        if "value" in results[0]:
            return {"value": np.array([r["value"] for r in results], dtype=np.float64)}
        keys = [str(c) for c in self.package.manifest["outputs"]["classes"]]
        return {"probabilities": np.array([[r["probabilities"][k] for k in keys] for r in results], dtype=np.float64)}

    def describe(self) -> dict[str, str]:
        return {"name": self.name, "runtime": f"@tensorflow/tfjs ({self.backend}) in Node", "version": "see web/package.json"}


class TfjsNodeCpuRunner(TfjsNodeRunner):
    name = "tfjs-node-cpu"
    backend = "tfjs-cpu"


class TfjsNodeWasmRunner(TfjsNodeRunner):
    name = "tfjs-node-wasm"
    backend = "tfjs-wasm"
