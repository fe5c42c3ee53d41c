"""What exact tree decisions cost in ONNX: the float64 TreeEnsemble (ai.onnx.ml 5, converters/targets/
onnx_trees.py) against skl2onnx's float32 TreeEnsembleClassifier/Regressor, for the same fitted model.

For each model: the estimator graph's size, onnxruntime latency (one thread; one row and a batch of
512; medians of REPEATS runs after a warm-up, in the same run), and the largest probability (or scaled
value) error against scikit-learn on rows placed on every split's decision boundary and one float64
step either side. Prints markdown for docs/BENCHMARKS.md ("Exact trees").

usage: python benchmarks/exact_trees.py
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

REPEATS = 25
BATCH = 512


def _models() -> dict[str, Any]:
    from sklearn import ensemble

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 8)) * rng.uniform(0.1, 100, 8)
    score = X[:, 0] / 30 + np.sin(X[:, 1]) + X[:, 2] / 50
    y3 = np.digitize(score, np.quantile(score, [0.33, 0.66]))
    return {
        "random_forest 3 classes (100 trees, depth 8)":
            (ensemble.RandomForestClassifier(100, max_depth=8, random_state=0).fit(X, y3), X),
        "gradient_boosting binary (100 trees, depth 3)":
            (ensemble.GradientBoostingClassifier(n_estimators=100, random_state=0).fit(X, y3 > 0), X),
        "hist_gradient_boosting 3 classes (100 iterations)":
            (ensemble.HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(X, y3), X),
    }


def _boundary_rows(est: Any, X: np.ndarray) -> np.ndarray:
    from edgepack.converters.lowering.thresholds import float32_cast_thresholds
    from edgepack.converters.sources.trees import read

    ens = read(est)
    rows = []
    for k, tree in enumerate(ens.trees[:200]):
        for node in np.flatnonzero(tree.feature >= 0)[:8]:
            t = tree.threshold[node:node + 1]
            b = float((float32_cast_thresholds(t) if ens.float32_inputs else t)[0])
            for v in (b, np.nextafter(b, np.inf), np.nextafter(b, -np.inf)):
                row = X[k % len(X)].copy()
                row[tree.feature[node]] = v
                rows.append(row)
    return np.asarray(rows)


def _median_ms(fn: Any) -> float:
    fn()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def _session(data: bytes) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def main() -> None:
    from edgepack.converters.sources.trees import read
    from edgepack.converters.targets.onnx_trees import tree_graph
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    print("| model | graph | size (KB) | 1 row (ms) | 512 rows (ms) | max error on boundary rows |")
    print("|---|---|---:|---:|---:|---:|")
    for name, (est, X) in _models().items():
        n = X.shape[1]
        old = convert_sklearn(est, initial_types=[("features", FloatTensorType([None, n]))],
                              options={id(est): {"zipmap": False}}, target_opset={"": 17, "ai.onnx.ml": 3}).SerializeToString()
        new = tree_graph(read(est), n, est.classes_).SerializeToString()
        rows = _boundary_rows(est, X)
        want = est.predict_proba(rows)
        batch = X[:BATCH]
        sizes = {}
        for label, data, dtype in (("skl2onnx float32", old, np.float32), ("edgepack float64", new, np.float64)):
            s = _session(data)
            out = dict(zip([o.name for o in s.get_outputs()], s.run(None, {"features": rows.astype(dtype)})))
            error = float(np.abs(out["probabilities"] - want).max())
            one, many = batch[:1].astype(dtype), batch.astype(dtype)
            t1 = _median_ms(lambda s=s, one=one: s.run(None, {"features": one}))
            tb = _median_ms(lambda s=s, many=many: s.run(None, {"features": many}))
            sizes[label] = (len(data), t1, tb)
            print(f"| {name} | {label} | {len(data) / 1024:.0f} | {t1:.3f} | {tb:.2f} | {error:.2g} ({len(rows)} rows) |")
        (s0, a0, b0), (s1, a1, b1) = sizes.values()
        print(f"| {name} | ratio float64 / float32 | {s1 / s0:.2f} | {a1 / a0:.2f} | {b1 / b0:.2f} | |")


if __name__ == "__main__":
    main()
