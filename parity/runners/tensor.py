"""Runners for tensor packages (format version 2): each runs one artifact on batched inputs by package
input name and returns outputs by package output name. One row per runtime in TENSOR_RUNNERS; the first
row of a format is the build's check. Each transposes the package's inputs to its artifact's layout.
"""

from __future__ import annotations

import json
import posixpath
import subprocess
from collections.abc import Callable
from typing import Any

import numpy as np

from ...runtime.errors import EdgepackError
from ...runtime.tensor_scorer import TensorScorer
from ...runtime.tensors import artifact_feeds, input_specs
from ..coreml_spec import CoreMLModel, SpecError
from .node_cli import NODE, TIMEOUT, WEB_DIR, node_availability


def run_onnxruntime(package: Any, art: Any, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return TensorScorer.load(package, artifact=art.id).predict(inputs)


def run_tflite(package: Any, art: Any, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter

    entry = art.entry
    interpreter = Interpreter(model_content=package.artifact_bytes(art), num_threads=1)
    runner = interpreter.get_signature_runner(entry.get("signature", "serving_default"))
    feeds = artifact_feeds(entry["inputs"], input_specs(package.manifest), inputs)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in entry["outputs"]}
    n = len(next(iter(feeds.values())))
    step = int(entry.get("batch") or 32)  # a fixed-batch artifact (recurrent layers) takes `batch` rows a call
    for start in range(0, n, step):  # the signature runner resizes per call; batches bound its memory
        out = runner(**{k: v[start:start + step] for k, v in feeds.items()})
        for name, tensor in entry["outputs"].items():
            parts[name].append(np.asarray(out[tensor]))
    return {name: np.concatenate(p) for name, p in parts.items()}


def run_tfjs_wasm(package: Any, art: Any, inputs: dict[str, np.ndarray], backend: str = "wasm") -> dict[str, np.ndarray]:
    entry = art.entry
    feeds = artifact_feeds(entry["inputs"], input_specs(package.manifest), inputs)
    request = {"package": package.location, "artifact": art.id, "backend": backend,
               "inputs": {k: {"dims": list(v.shape), "dtype": "int32" if v.dtype.kind in "iub" else "float32",
                              "data": v.reshape(-1).tolist()} for k, v in feeds.items()}}
    proc = subprocess.run([NODE, str(WEB_DIR / "bin" / "tensor-run.mjs")], input=json.dumps(request),
                          capture_output=True, text=True, timeout=TIMEOUT, cwd=WEB_DIR)
    if proc.returncode != 0:
        raise EdgepackError(f"tensor-run.mjs ({backend}) failed (exit {proc.returncode}): {proc.stderr.strip()[-1500:]}")
    out = json.loads(proc.stdout)
    return {name: np.asarray(out[node]["data"], dtype=np.float64).reshape(out[node]["dims"])
            for name, node in entry["outputs"].items()}


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
    feeds = artifact_feeds(entry["inputs"], input_specs(package.manifest), inputs)
    result = model.predict(feeds)
    return {name: np.asarray(result[tensor]) for name, tensor in entry["outputs"].items()}


def _module(name: str, reason: str) -> Callable[[], str | None]:
    def check() -> str | None:
        import importlib.util

        return None if importlib.util.find_spec(name) is not None else reason

    return check


# (runner name, format, run, availability)
TENSOR_RUNNERS: list[tuple[str, str, Callable[..., dict[str, np.ndarray]], Callable[[], str | None]]] = [
    ("onnxruntime", "onnx", run_onnxruntime, _module("onnxruntime", "onnxruntime is not installed")),
    ("tflite", "tflite", run_tflite, _module("ai_edge_litert", "ai-edge-litert is not installed")),
    ("tfjs-node-wasm", "tfjs", run_tfjs_wasm,
     lambda: node_availability("@tensorflow/tfjs-core", "@tensorflow/tfjs-converter", "@tensorflow/tfjs-backend-wasm")),
    ("coreml-spec", "coreml", run_coreml_spec, _module("coremltools", "coremltools (Core ML's protobuf definitions) is not installed")),
]


def tensor_runners_for(fmt: str) -> list[tuple[str, Callable[..., dict[str, np.ndarray]], Callable[[], str | None]]]:
    return [(name, run, available) for name, f, run, available in TENSOR_RUNNERS if f == fmt]
