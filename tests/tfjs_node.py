"""Run TF.js graph artifacts in Node (tests/tfjs_predict.mjs) on an encoded float32 tensor: shared by
the tests and benchmarks/formats.py. Independent of web/'s scoring code, so it checks the artifact alone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
NODE_SCRIPT = ROOT / "tests" / "tfjs_predict.mjs"


def tfjs_modules() -> Path | None:
    """node_modules holding @tensorflow/tfjs-core: web/'s (installed by make), or EDGEPACK_TFJS_MODULES."""
    for candidate in (os.environ.get("EDGEPACK_TFJS_MODULES"), ROOT / "web" / "node_modules"):
        if candidate and (Path(candidate) / "@tensorflow" / "tfjs-core").is_dir() and shutil.which("node"):
            return Path(candidate)
    return None


def run_tfjs(package: Path, entry: dict[str, Any], x: np.ndarray, backend: str, modules: Path,
             repeats: int = 0) -> dict[str, Any]:
    """{package output name: array}, plus "median_ms" when `repeats` > 0. Raises RuntimeError on failure."""
    request = {"input": entry["inputs"][0]["name"], "data": np.where(np.isnan(x), None, x).tolist(),
               "outputs": list(entry["outputs"].values())}
    done = subprocess.run(["node", str(NODE_SCRIPT), str(package / entry["file"]), "--backend", backend,
                           "--modules", str(modules), "--time", str(repeats)],
                          input=json.dumps(request), capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    out = json.loads(done.stdout)
    if out["backend"] != backend:
        raise RuntimeError(f"TF.js ran on {out['backend']}, not {backend}")
    result: dict[str, Any] = {name: np.asarray(out[node], dtype=np.float64) for name, node in entry["outputs"].items()}
    if repeats:
        result["median_ms"] = out["median_ms"]
    return result
