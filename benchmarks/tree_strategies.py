"""Tree ensembles in TFLite: GEMM vs gather traversal, by depth and tree count (size and latency).

Fits gradient boosting on synthetic data for each (depth, trees), lowers it with both strategies,
converts to float32 TFLite and times ai-edge-litert (one thread) on one row and on 512 rows, medians
of REPEATS runs. Prints a markdown table for docs/BENCHMARKS.md ("Tree strategies").

usage: python benchmarks/tree_strategies.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPEATS = 7


def median_us(fn, repeats: int = REPEATS, inner: int = 20) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - start) / inner)
    return statistics.median(times) * 1e6


def interpreter_timer(data: bytes, x: np.ndarray):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=data, num_threads=1)
    idx = it.get_input_details()[0]["index"]
    it.resize_tensor_input(idx, list(x.shape))
    it.allocate_tensors()

    def run() -> None:
        it.set_tensor(idx, x)
        it.invoke()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer configurations")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from edgepack.converters.lowering import lower
    from edgepack.converters.targets.tflite import convert
    from edgepack.runtime.schema import Feature, IOSchema
    from sklearn.ensemble import GradientBoostingClassifier

    rng = np.random.default_rng(0)
    n_features = 20
    X = rng.normal(size=(2000, n_features))
    y = (X[:, 0] + X[:, 1] * X[:, 2] + rng.normal(0, 0.5, 2000) > 0).astype(int)
    configs = [(3, 20), (4, 20), (6, 20), (8, 20)] if args.quick else [
        (2, 100), (3, 20), (3, 100), (4, 20), (4, 100), (5, 100), (6, 20), (6, 100), (8, 20), (8, 100)]
    schema = IOSchema(features=tuple(Feature(f"f{i}", "float") for i in range(n_features)), task="classification",
                      classes=(0, 1))
    one, batch = X[:1].astype(np.float32), X[:512].astype(np.float32)
    print("| depth | trees | strategy | .tflite bytes | 1 row (µs) | 512 rows (µs) |")
    print("|---|---|---|---|---|---|")
    for depth, trees in configs:
        model = GradientBoostingClassifier(max_depth=depth, n_estimators=trees, random_state=0).fit(X, y)
        source = SimpleNamespace(framework="scikit-learn", final=model, model=model, task="classification",
                                 classes=[0, 1], fitted_on_frame=False)
        for strategy in ("gemm", "gather"):
            graph = lower(source, schema, {"tree_strategy": strategy})
            data = convert(graph, "float32", source, schema)
            print(f"| {depth} | {trees} | {strategy} | {len(data):,} | {median_us(interpreter_timer(data, one)):.0f} | "
                  f"{median_us(interpreter_timer(data, batch), inner=5):.0f} |", flush=True)


if __name__ == "__main__":
    main()
