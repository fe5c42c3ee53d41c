"""What the package checks of issue 15 cost at load, as ratios against the work they guard, in one run:

- the ONNX external-data walk (runtime/onnx_check.py) against onnxruntime creating its session from the
  same bytes, for a 200-tree random forest (2 MB) and a logistic regression;
- the manifest shape check (runtime/manifest.py) against json.loads of the same manifest, for a built
  manifest and one inflated to just under the 8 MiB limit (140,000 categories with frequencies).

    python benchmarks/package_checks.py [--runs 9] [--json FILE]

Medians of --runs, the two measurements of a pair taken in turns. Needs the toolchain (scikit-learn,
skl2onnx) to make the models; the checks themselves are the device's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def _median_ms(fn: Callable[[], Any], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    return times


def _pair(a: Callable[[], Any], b: Callable[[], Any], runs: int) -> tuple[float, float]:
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(runs):  # in turns, so that a slow moment hits both
        ta += _median_ms(a, 1)
        tb += _median_ms(b, 1)
    return statistics.median(ta), statistics.median(tb)


def _models() -> dict[str, bytes]:
    from skl2onnx import to_onnx
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    rng = np.random.RandomState(0)
    X = rng.rand(3000, 10)
    y = (X[:, 0] + X[:, 1] > 1).astype(int)
    out = {}
    for name, model in (("random forest, 200 trees", RandomForestClassifier(200, random_state=0)),
                        ("logistic regression", LogisticRegression())):
        model.fit(X, y)
        onnx = to_onnx(model, X[:1].astype(np.float32), options={id(model): {"zipmap": False}})
        out[name] = onnx.SerializeToString()
    return out


def _inflated(manifest: dict[str, Any], limit: int) -> dict[str, Any]:
    big = json.loads(json.dumps(manifest))
    feature = next(f for f in big["inputs"]["features"] if f["type"] == "category")
    n = 0
    while len(json.dumps(big)) < limit - 300_000:  # each category adds itself and its frequency
        extra = [f"category-value-{i:07d}" for i in range(n, n + 20_000)]
        feature["categories"] += extra
        feature["frequencies"] = {c: 0.0001 for c in feature["categories"]}
        n += 20_000
    return big


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import onnxruntime as ort
    from edgepack.runtime.manifest import check_manifest
    from edgepack.runtime.onnx_check import check_self_contained
    from edgepack.runtime.package import MAX_MANIFEST_BYTES

    rows = []
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    for name, data in _models().items():
        check, session = _pair(lambda d=data: check_self_contained(d, "bench"),
                               lambda d=data: ort.InferenceSession(d, options, providers=["CPUExecutionProvider"]),
                               args.runs)
        rows.append({"what": f"ONNX external-data walk, {name} ({len(data) / 1e6:.2f} MB)",
                     "check_ms": check, "baseline": "onnxruntime session", "baseline_ms": session})

    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    import zoo  # the test zoo's churn-like frame: a built manifest's shape, categories included
    from edgepack.toolchain.build import BuildOptions, build

    work = Path("build/bench/package_checks")
    model = zoo.get("logreg_binary")
    model_path, sample_path = zoo.save(model, work)
    built = build(BuildOptions(model=model_path, sample=sample_path, out=work / "package", label_column=model.label,
                               name="bench", quiet=True))
    manifest = json.loads((built.path / "manifest.json").read_text())
    for name, m in (("built manifest", manifest), ("manifest near the 8 MiB limit", _inflated(manifest, MAX_MANIFEST_BYTES))):
        text = json.dumps(m)
        check, parse = _pair(lambda m=m: check_manifest(m, "bench"), lambda t=text: json.loads(t), args.runs)
        rows.append({"what": f"manifest shape check, {name} ({len(text) / 2**20:.2f} MiB)", "check_ms": check,
                     "baseline": "json.loads", "baseline_ms": parse})

    print(f"medians of {args.runs} runs, in turns")
    print(f"{'what':<72} {'check ms':>9} {'baseline':>20} {'ms':>8} {'ratio':>6}")
    for row in rows:
        row["ratio"] = row["check_ms"] / row["baseline_ms"]
        print(f"{row['what']:<72} {row['check_ms']:>9.2f} {row['baseline']:>20} {row['baseline_ms']:>8.2f} "
              f"{row['ratio']:>6.2f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
