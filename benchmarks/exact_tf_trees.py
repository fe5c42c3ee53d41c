"""What exact tree decisions cost in TFLite and TF.js: a HistGradientBoosting model's graph taking each
number as three float32 parts (dtype float64-parts, [N, F, 3]: what the lowering builds for it) against
the same trees on a plain float32 [N, F] input (what it built before; inexact on float64 inputs).

For each model and strategy (gather for deep trees, gemm for shallow ones): artifact size (.tflite; TF.js
model.json + shards), latency for one row and a batch of 512 in ai-edge-litert (one thread) and in TF.js
in Node (wasm and cpu backends; execute + read back), medians of REPEATS runs after a warm-up, both
encodings timed in the same run; and the largest probability error against scikit-learn (TFLite) on rows
placed on every split's threshold and one float64 step either side. Prints markdown for
docs/BENCHMARKS.md ("Exact trees").

usage: python benchmarks/exact_tf_trees.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
REPEATS = 15
BATCH = 512


def _models() -> dict[str, tuple[Any, np.ndarray]]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 8)) * rng.uniform(0.1, 100, 8)
    score = X[:, 0] / 30 + np.sin(X[:, 1]) + X[:, 2] / 50
    y = np.digitize(score, np.quantile(score, [0.33, 0.66]))
    return {
        "hist_gradient_boosting 3 classes (100 iterations, 31 leaves)":
            (HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(X, y), X),
        "hist_gradient_boosting 3 classes (100 iterations, depth 3)":
            (HistGradientBoostingClassifier(max_iter=100, max_depth=3, random_state=0).fit(X, y), X),
    }


def _graphs(est: Any, n: int) -> dict[str, Any]:
    """{"float32": the trees on a plain [N, F] input, "float64-parts": the lowering's own graph}."""
    import tensorflow as tf
    from edgepack.converters.lowering import TFGraph, input_spec, lower
    from edgepack.converters.lowering.columns import input_columns
    from edgepack.converters.lowering.sklearn import _trees
    from edgepack.runtime.schema import Feature, IOSchema

    classes = tuple(int(c) for c in est.classes_)
    schema = IOSchema(features=tuple(Feature(f"f{i}", "float") for i in range(n)), task="classification", classes=classes)
    source = SimpleNamespace(framework="scikit-learn", final=est, model=est, task="classification", classes=list(classes),
                             fitted_on_frame=False)
    parts = lower(source, schema, {})
    assert parts.dtype == "float64-parts"
    cols = input_columns(source, schema)
    plain = tf.function(lambda x: {"probabilities": _trees(tf, x, cols, est, {}, [])},
                        input_signature=[input_spec(n)], autograph=False)
    return {"float32": TFGraph(plain, list(schema.names), ["probabilities"]), "float64-parts": parts}


def _tfjs(graph: Any, out: Path) -> dict[str, Any]:
    """Convert to TF.js under out/tfjs/; the entry run_tfjs reads, and the total size."""
    import json

    from edgepack.converters.lowering import INPUT_NAME
    from edgepack.converters.targets.tfjs import graph_outputs, run_converter, save_model

    save_model(graph, out / "saved")
    run_converter(out / "saved", out / "tfjs", None)
    model_json = json.loads((out / "tfjs" / "model.json").read_text())
    size = sum(f.stat().st_size for f in (out / "tfjs").iterdir())
    return {"file": "tfjs/model.json", "inputs": [{"name": INPUT_NAME}], "outputs": graph_outputs(model_json, graph.outputs),
            "size": size}


def _feed(a: np.ndarray, dtype: str) -> np.ndarray:
    """Rows of doubles as the input tensor of dtype (the runtime's own encoding, runtime/records.py)."""
    from edgepack.runtime.records import tensors_for

    names = [f"f{i}" for i in range(a.shape[1])]
    return tensors_for([{"name": "x", "features": names, "dtype": dtype}], {f: a[:, i] for i, f in enumerate(names)})["x"]


def _tflite_run(data: bytes, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=data, num_threads=1)
    idx = it.get_input_details()[0]["index"]
    it.resize_tensor_input(idx, list(x.shape))
    it.allocate_tensors()
    it.set_tensor(idx, x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


def main() -> None:
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks")]
    from edgepack.converters.targets.tflite import convert
    from edgepack.runtime.schema import Feature, IOSchema
    from exact_trees import _boundary_rows
    from tfjs_node import run_tfjs, tfjs_modules
    from tree_strategies import interpreter_timer, median_us

    modules = tfjs_modules()
    print("| model | input | .tflite (KB) | TFLite 1 row (µs) | TFLite 512 rows (µs) | TF.js (KB) | "
          "wasm 1 row (ms) | wasm 512 rows (ms) | cpu 1 row (ms) | cpu 512 rows (ms) | max error on boundary rows |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, (est, X) in _models().items():
        n = X.shape[1]
        schema = IOSchema(features=tuple(Feature(f"f{i}", "float") for i in range(n)), task="classification")
        rows = _boundary_rows(est, X)
        want = est.predict_proba(rows)
        figures = {}
        for dtype, graph in _graphs(est, n).items():
            data = convert(graph, "float32", None, schema)
            error = float(np.abs(_tflite_run(data, _feed(rows, dtype)) - want).max())
            one, batch = _feed(X[:1], dtype), _feed(X[:BATCH], dtype)
            t1 = median_us(interpreter_timer(data, one), repeats=REPEATS)
            tb = median_us(interpreter_timer(data, batch), repeats=REPEATS, inner=3)
            js: dict[str, float | None] = {}
            with tempfile.TemporaryDirectory(prefix="edgepack-exact-tf-") as tmp:
                entry = _tfjs(graph, Path(tmp))
                for backend in ("wasm", "cpu"):
                    for label, x in (("1", one), ("512", batch)):
                        js[backend + label] = (run_tfjs(Path(tmp), entry, x, backend, modules, REPEATS)["median_ms"]
                                               if modules else None)
            fmt = {k: "n/a" if v is None else f"{v:.3f}" for k, v in js.items()}
            figures[dtype] = (len(data), t1, tb, entry["size"], js)
            print(f"| {name} | {dtype} | {len(data) / 1024:.0f} | {t1:.0f} | {tb:.0f} | {entry['size'] / 1024:.0f} | "
                  f"{fmt['wasm1']} | {fmt['wasm512']} | {fmt['cpu1']} | {fmt['cpu512']} | {error:.2g} ({len(rows)} rows) |",
                  flush=True)
        (s0, a0, b0, j0, js0), (s1, a1, b1, j1, js1) = figures.values()
        ratio = {k: (f"{js1[k] / js0[k]:.2f}" if js0[k] and js1[k] else "n/a") for k in js0}
        print(f"| {name} | ratio parts / float32 | {s1 / s0:.2f} | {a1 / a0:.2f} | {b1 / b0:.2f} | {j1 / j0:.2f} | "
              f"{ratio['wasm1']} | {ratio['wasm512']} | {ratio['cpu1']} | {ratio['cpu512']} | |", flush=True)


if __name__ == "__main__":
    main()
