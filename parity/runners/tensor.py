"""Runners for tensor packages (format version 2): each runs one artifact on batched inputs by package
input name and returns outputs by package output name. One row per runtime in TENSOR_RUNNERS; the first
row of a format is the build's check. Each transposes the package's inputs to its artifact's layout.
"""

from __future__ import annotations

import json
import posixpath
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ...runtime.errors import EdgepackError
from ...runtime.tensor_scorer import TensorScorer
from ...runtime.tensors import artifact_feeds, input_specs, input_to_pixels
from ..coreml_spec import CoreMLModel, SpecError
from .base import Unavailable
from .node_cli import NODE, TIMEOUT, WEB_DIR, node_availability


def run_scorer(package: Any, art: Any, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The device scorer (runtime/tensor_scorer.py): ONNX artifacts in onnxruntime, TFLite ones through
    runtime/tflite_session.py (ai-edge-litert), exactly as `edgepack-score [--artifact ID]` runs them;
    int8/uint8 tensors quantized and dequantized from the entry's record."""
    return TensorScorer.load(package, artifact=art.id).predict(inputs)


def run_onnx_reference(package: Any, art: Any, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The ONNX specification's own evaluator (independent of onnxruntime's kernels)."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    entry = art.entry
    model = onnx.load_from_string(package.artifact_bytes(art))
    feeds = artifact_feeds(entry["inputs"], input_specs(package.manifest), inputs)
    try:
        evaluator = ReferenceEvaluator(model)  # raises for an operator (version) it does not implement
    except (NotImplementedError, RuntimeError, KeyError, TypeError) as exc:
        ops = sorted({n.op_type for n in model.graph.node})
        raise Unavailable(f"onnx.reference cannot run this graph ({type(exc).__name__}: {exc}); operators: {', '.join(ops)}") from exc
    try:
        results = evaluator.run(list(entry["outputs"].values()), feeds)
    except NotImplementedError as exc:  # a case of an operator it lacks (other errors are findings)
        raise Unavailable(f"onnx.reference cannot run this graph: {exc}") from exc
    return dict(zip(entry["outputs"], (np.asarray(r) for r in results)))


def run_tfjs_wasm(package: Any, art: Any, inputs: dict[str, np.ndarray], backend: str = "wasm") -> dict[str, np.ndarray]:
    entry = art.entry
    feeds = artifact_feeds(entry["inputs"], input_specs(package.manifest), inputs)
    folder = _package_folder(package, art)
    request = {"package": folder.name if isinstance(folder, tempfile.TemporaryDirectory) else str(folder),
               "artifact": art.id, "backend": backend,
               "inputs": {k: {"dims": list(v.shape), "dtype": "int32" if v.dtype.kind in "iub" else "float32",
                              "data": v.reshape(-1).tolist()} for k, v in feeds.items()}}
    proc = subprocess.run([NODE, str(WEB_DIR / "bin" / "tensor-run.mjs")], input=json.dumps(request),
                          capture_output=True, text=True, timeout=TIMEOUT, cwd=WEB_DIR)
    if isinstance(folder, tempfile.TemporaryDirectory):
        folder.cleanup()
    if proc.returncode != 0:
        raise EdgepackError(f"tensor-run.mjs ({backend}) failed (exit {proc.returncode}): {proc.stderr.strip()[-1500:]}")
    out = json.loads(proc.stdout)
    return {name: np.asarray(out[node]["data"], dtype=np.float64).reshape(out[node]["dims"])
            for name, node in entry["outputs"].items()}


def run_tfjs_cpu(package: Any, art: Any, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return run_tfjs_wasm(package, art, inputs, backend="cpu")


def _package_folder(package: Any, art: Any) -> Any:
    """The package's directory; for a `.edgepack` file, a temporary folder with the manifest and this
    artifact's files (tensor-run.mjs reads a directory), checked against their sha256 as they are copied."""
    location = Path(package.location)
    if location.is_dir():
        return location
    tmp = tempfile.TemporaryDirectory(prefix="edgepack-tfjs-")
    (Path(tmp.name) / "manifest.json").write_text(json.dumps(package.manifest))
    for f in art.entry.get("files") or [{"file": art.file, "sha256": art.entry["sha256"]}]:
        target = Path(tmp.name) / f["file"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(package.verify_file(f["file"], f["sha256"]))
    return tmp


def run_coreml_spec(package: Any, art: Any, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    entry = art.entry
    hashes = {f["file"]: f["sha256"] for f in entry.get("files", [])}
    folder = posixpath.dirname(art.file)

    def read_file(name: str) -> bytes:
        rel = posixpath.normpath(posixpath.join(folder, name.removeprefix("@model_path/")))
        if rel not in hashes:
            raise SpecError(f"the model refers to {name!r}, which the manifest does not list")
        return package.verify_file(rel, hashes[rel])

    model = CoreMLModel.from_bytes(package.artifact_bytes(art), read_file)
    specs = input_specs(package.manifest)
    feeds = artifact_feeds(entry["inputs"], specs, inputs)
    for tensor in entry["inputs"]:
        if "image" in tensor:  # a Core ML image input takes the pictures themselves, as an app hands them
            spec = next(s for s in specs if s.name == tensor["input"])
            feeds[tensor["name"]] = input_to_pixels(inputs[spec.name], spec)
    result = model.predict(feeds)
    return {name: np.asarray(result[tensor]) for name, tensor in entry["outputs"].items()}


def _module(name: str, reason: str) -> Callable[[], str | None]:
    def check() -> str | None:
        import importlib.util

        return None if importlib.util.find_spec(name) is not None else reason

    return check


# (runner name, format, run, availability)
TENSOR_RUNNERS: list[tuple[str, str, Callable[..., dict[str, np.ndarray]], Callable[[], str | None]]] = [
    ("onnxruntime", "onnx", run_scorer, _module("onnxruntime", "onnxruntime is not installed")),
    ("onnx-reference", "onnx", run_onnx_reference, _module("onnx.reference", "onnx (onnx.reference) is not installed")),
    ("tflite", "tflite", run_scorer, _module("ai_edge_litert", "ai-edge-litert is not installed")),
    ("tfjs-node-wasm", "tfjs", run_tfjs_wasm,
     lambda: node_availability("@tensorflow/tfjs-core", "@tensorflow/tfjs-converter", "@tensorflow/tfjs-backend-wasm")),
    ("tfjs-node-cpu", "tfjs", run_tfjs_cpu,
     lambda: node_availability("@tensorflow/tfjs-core", "@tensorflow/tfjs-converter", "@tensorflow/tfjs-backend-cpu")),
    ("coreml-spec", "coreml", run_coreml_spec, _module("coremltools", "coremltools (Core ML's protobuf definitions) is not installed")),
]


def tensor_runners_for(fmt: str) -> list[tuple[str, Callable[..., dict[str, np.ndarray]], Callable[[], str | None]]]:
    return [(name, run, available) for name, f, run, available in TENSOR_RUNNERS if f == fmt]


# runner -> the distribution whose version a report records (None: the runtime has no Python distribution)
_DISTRIBUTIONS = {"onnxruntime": "onnxruntime", "onnx-reference": "onnx", "tflite": "ai-edge-litert",
                  "tfjs-node-wasm": None, "tfjs-node-cpu": None, "coreml-spec": "coremltools"}


def runtime_info(name: str) -> dict[str, str]:
    """{"name", "runtime", "version"} of a tensor runner, as reports record it."""
    import importlib.metadata

    dist = _DISTRIBUTIONS.get(name)
    runtime = {"tfjs-node-wasm": "TF.js (Node, wasm)", "tfjs-node-cpu": "TF.js (Node, cpu)",
               "coreml-spec": "edgepack Core ML spec evaluator"}.get(name, dist or name)
    try:
        version = importlib.metadata.version(dist) if dist else ""
    except importlib.metadata.PackageNotFoundError:
        version = ""
    return {"name": name, "runtime": runtime, "version": version}
