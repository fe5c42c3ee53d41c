"""Artifact sizes per format and variant, and latency of TFLite (ai-edge-litert) and TF.js (Node, wasm
and cpu backends) against onnxruntime for the same model: one record, and a batch of 512.

Builds packages (targets onnx, tflite, tfjs with every variant) for a scikit-learn gradient boosting
pipeline, a random forest and a Keras MLP from tests/zoo.py and tests/keras_zoo.py, then times each
float32 artifact in its runtime (one thread, medians of REPEATS runs after a warm-up). Each runtime is
timed on the same encoded input tensor. TF.js runs through tests/tfjs_predict.mjs and needs Node TF.js
(web/node_modules, or EDGEPACK_TFJS_MODULES=DIR). Prints markdown for docs/BENCHMARKS.md ("Formats").

usage: python benchmarks/formats.py [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
REPEATS = 15
MODELS = ["gradient_boosting_clf", "random_forest_clf", "keras_mlp_softmax"]


def median_ms(fn, repeats: int = REPEATS) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def onnx_ms(path: Path, entry: dict, columns: dict, schema) -> float:
    import onnxruntime as ort
    from edgepack.runtime.records import tensors_for

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path / entry["file"]), opts, providers=["CPUExecutionProvider"])
    feeds = tensors_for(entry["inputs"], columns, schema)
    return median_ms(lambda: session.run(None, feeds))


def tflite_ms(path: Path, entry: dict, x: np.ndarray) -> float:
    from tree_strategies import interpreter_timer

    return median_ms(interpreter_timer((path / entry["file"]).read_bytes(), x))


def tfjs_rows(name: str, path: Path, manifest: dict, holdout, schema, modules: Path) -> list[str]:
    """Every TF.js variant, emitted again beside the package (the build drops those it cannot verify
    without web/'s runner), run in Node (wasm) on held-out rows against the source model."""
    from edgepack.converters.sources import load_source
    from edgepack.converters.sources.sample import frame_columns
    from edgepack.converters.targets.tfjs import emit
    from edgepack.parity.metrics import classification_metrics, passes, regression_metrics
    from edgepack.parity.profiles import profile_for
    from edgepack.runtime.records import tensors_for
    from tfjs_node import run_tfjs

    source = load_source(path.parent / manifest["source"]["file"])
    binding = next(a for a in manifest["artifacts"] if a["id"] == "tfjs")["inputs"]
    x = next(iter(tensors_for(binding, frame_columns(holdout, schema), schema).values()))
    want = source.predict(holdout)
    rows, base = [], None
    out = path.parent / "tfjs-all"
    for art in emit(source, schema, {}):
        for rel, data in art.files.items():
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_bytes(data)
        size = sum(len(d) for d in art.files.values())
        base = base or size
        got = run_tfjs(out, art.entry, x, "wasm", modules)
        if "probabilities" in want:
            m = classification_metrics(want["probabilities"], got["probabilities"])
            agreement, err = f"{m['label_agreement']:.4f}", m["max_probability_error"]
        else:
            m = regression_metrics(want["value"], got["value"], float(manifest["outputs"]["value_scale"]))
            agreement, err = "-", m["max_scaled_error"]
        verdict = passes(m, profile_for(art.entry["precision"], manifest))
        rows.append(f"| {name} | {art.id} | {art.entry['precision']} | {size:,} | {100 * size / base:.0f} % | "
                    f"{'passes' if verdict else 'fails'} its profile (held-out, wasm) | {agreement} | {err:.2g} |")
    return rows


def build_package(name: str, root: Path) -> tuple[Path, dict, object]:
    import keras_zoo
    import zoo
    from edgepack.toolchain.build import BuildOptions, build

    if name in keras_zoo.KERAS_FAMILIES:
        model_path, sample_path, holdout, label = keras_zoo.make(name, root / name)
    else:
        z = zoo.get(name)
        model_path, sample_path = zoo.save(z, root / name)
        holdout, label = z.holdout, z.label
    result = build(BuildOptions(model=model_path, sample=sample_path, out=root / name / "package", label_column=label,
                                name=name, quiet=True, targets=["onnx", "tflite", "tfjs"]))
    return result.path, result.manifest, holdout.drop(columns=[label])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="keep the packages here (default: a temporary directory)")
    args = parser.parse_args()
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks")]
    from edgepack.converters.sources.sample import frame_columns
    from edgepack.runtime.records import tensors_for
    from edgepack.runtime.schema import IOSchema
    from tfjs_node import run_tfjs, tfjs_modules

    root = args.out or Path(tempfile.mkdtemp(prefix="edgepack-bench-"))
    modules = tfjs_modules()
    sizes = ["| model | artifact | precision | bytes | % of float32 | kept | label agreement | max error |",
             "|---|---|---|---|---|---|---|---|"]
    speed = ["| model | rows | onnxruntime (ms) | TFLite (ms) | TF.js wasm (ms) | TF.js cpu (ms) |", "|---|---|---|---|---|---|"]
    for name in MODELS:
        path, manifest, holdout = build_package(name, root)
        entries = {a["id"]: a for a in manifest["artifacts"]}
        base = {"onnx": entries["onnx"]["size"], "tflite": entries["tflite"]["size"], "tfjs": None}
        base["tfjs"] = sum(f["size"] for f in entries["tfjs"]["files"])
        schema = IOSchema.from_manifest(manifest)
        for check in manifest["parity"]:
            entry = entries.get(check["artifact"])
            if check["artifact"].startswith("tfjs"):
                continue  # measured below, every variant, on held-out rows
            fmt = check["artifact"].split("-")[0]
            size = (sum(f["size"] for f in entry["files"]) if entry and "files" in entry else
                    entry["size"] if entry else check.get("size"))
            m = check["metrics"]
            err = m.get("max_probability_error", m.get("max_scaled_error"))
            agreement = m.get("label_agreement")
            kept = "yes" if check["artifact"] in entries else "no: " + check.get("dropped", "")[9:]
            sizes.append(f"| {name} | {check['artifact']} | {check['profile']} | {size:,} | {100 * size / base[fmt]:.0f} % | "
                         f"{kept} | {'-' if agreement is None else f'{agreement:.4f}'} | {'-' if err is None else f'{err:.2g}'} |")
        if modules:
            sizes.extend(tfjs_rows(name, path, manifest, holdout, schema, modules))
        for rows in (1, 512):
            frame = holdout.sample(n=rows, replace=rows > len(holdout), random_state=0)
            columns = frame_columns(frame, schema)
            x = next(iter(tensors_for(entries["tflite"]["inputs"], columns, schema).values()))
            ort_ms = onnx_ms(path, entries["onnx"], columns, schema)
            tfl_ms = tflite_ms(path, entries["tflite"], x)
            js = {b: (run_tfjs(path, entries["tfjs"], x, b, modules, REPEATS)["median_ms"] if modules else None)
                  for b in ("wasm", "cpu")}
            fmt_js = {b: f"{v:.3f}" if v is not None else "n/a" for b, v in js.items()}
            speed.append(f"| {name} | {rows} | {ort_ms:.3f} | {tfl_ms:.3f} | {fmt_js['wasm']} | {fmt_js['cpu']} |")
        print(f"built and timed {name}", file=sys.stderr, flush=True)
    print("\n".join(sizes))
    print()
    print("\n".join(speed))


if __name__ == "__main__":
    main()
