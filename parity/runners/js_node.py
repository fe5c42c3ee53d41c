"""A `js` artifact (an ES module) imported by Node and fed the batch's JSON records; its predictions come
back as JSON lines. The module's own record checks run too: a refused record is an error here."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .base import InputBatch, Runner

DRIVER = r"""
import { readFileSync } from 'node:fs';
const mod = await import(process.argv[2]);
const records = readFileSync(0, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const out = [];
for (const p of mod.predict(records)) out.push(JSON.stringify(p));
process.stdout.write(out.join('\n') + '\n');
"""


class JsNodeRunner(Runner):
    name = "js-node"
    formats = ("js",)

    @classmethod
    def availability(cls) -> str | None:
        return None if shutil.which("node") else "Node.js is not installed"

    def prepare(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="edgepack-js-"))
        entry = self.artifact.entry
        (self._dir / entry["file"]).write_bytes(self.package.read_file(entry["file"]))
        (self._dir / "driver.mjs").write_text(DRIVER)
        self._module = (self._dir / entry["file"]).as_uri()
        self._classes = [str(c) for c in self.package.manifest["outputs"].get("classes", [])]

    def _predict(self, batch: InputBatch) -> dict[str, np.ndarray]:
        text = "\n".join(json.dumps(r) for r in batch.records) + "\n"
        done = subprocess.run(["node", str(self._dir / "driver.mjs"), self._module], input=text, capture_output=True,
                              text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"node could not run the module: {done.stderr[-2000:]}")
        rows = [json.loads(line) for line in done.stdout.splitlines()]
        errors = [r for r in rows if "error" in r]
        if errors:
            raise RuntimeError(f"the module refused a record the package accepts: {errors[0]['error']}")
        if self._classes:
            return {"probabilities": np.array([[r["probabilities"][c] for c in self._classes] for r in rows], dtype=np.float64)}
        return {"value": np.array([r["value"] for r in rows], dtype=np.float64)}

    def close(self) -> None:
        shutil.rmtree(getattr(self, "_dir", ""), ignore_errors=True)

    def describe(self) -> dict[str, str]:
        done = subprocess.run(["node", "--version"], capture_output=True, text=True)
        return {"name": self.name, "runtime": "node", "version": done.stdout.strip()}
