"""The tiny device scorer as a black box: `python -m edgepack.runtime PACKAGE --artifact ID`, JSON lines
in and out (the scorer CLI contract), so parsing, validation and formatting are checked as a device runs them."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from ... import runtime
from .base import InputBatch, Runner

TIMEOUT_SECONDS = 600


class ScorerCliRunner(Runner):
    name = "scorer-cli"
    formats = ("onnx",)

    requires = (("edgepack.runtime.__main__", "the scorer CLI (python -m edgepack.runtime) is not installed in this edgepack"),)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "edgepack.runtime", str(self.package.location), "--artifact", self.artifact.id]

    def _predict(self, batch: InputBatch) -> dict[str, np.ndarray]:
        stdin = "".join(json.dumps(r, allow_nan=False) + "\n" for r in batch.records)
        proc = subprocess.run(self.command(), input=stdin, capture_output=True, text=True, timeout=TIMEOUT_SECONDS,
                              check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"the scorer CLI exited {proc.returncode}: {_tail(proc.stderr)}")
        lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
        if len(lines) != len(batch):
            raise RuntimeError(f"the scorer CLI wrote {len(lines)} lines for {len(batch)} records: {_tail(proc.stderr)}")
        if self.package.task == "classification":
            keys = [str(c) for c in self.package.manifest["outputs"]["classes"]]
            return {"probabilities": np.array([[line["probabilities"][k] for k in keys] for line in lines], dtype=np.float64)}
        return {"value": np.array([line["value"] for line in lines], dtype=np.float64)}

    def describe(self) -> dict[str, str]:
        return {"name": self.name, "runtime": "edgepack-score (subprocess)",
                "version": str(getattr(runtime, "__version__", "unknown"))}


def _tail(text: str, lines: int = 5) -> str:
    return " | ".join(text.strip().splitlines()[-lines:]) or "(no message)"
