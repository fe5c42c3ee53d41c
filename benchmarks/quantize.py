"""Size and latency of each quantized ONNX variant against its float32 artifact, measured in one run.

Three models: the churn example (gradient boosting behind a ColumnTransformer), an MLP (128, 64) on
scikit-learn's digits data set (shipped with scikit-learn, no download) and a small Keras network on the
same digits. The scikit-learn models go through `edgepack build --quantize auto` (what it keeps is
reported) and every variant emitter is also run directly, so dropped variants are measured too. The
Keras network is converted with tf2onnx and its ONNX graph quantized by the same emitters (the Keras
source of `edgepack build` is not on main yet).

Latency: onnxruntime, one thread, in this process. single row: median of 200 calls per run, the
variants' calls interleaved; batch: median of 5 interleaved calls on 1,024 rows per run; the median
of --runs runs. Ratios are against the float32 artifact measured
in the same run. Agreement and max error: against the original model on held-out rows.

example:
  .venv/bin/python benchmarks/quantize.py --runs 15 --selection --markdown build/bench/quantize.md
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples" / "churn"))
PIXELS = [f"px{i}" for i in range(64)]


def _time_sessions(sessions: list[Any], feeds_one: dict, feeds_batch: dict, runs: int) -> list[tuple[float, float]]:
    """(single-row ms, batch ms) per session. Calls interleave the sessions one call at a time and a run's
    single-row figure is the median of its 200 calls, so bursts of load on a shared machine fall on all
    variants alike instead of on whichever was being timed."""
    outs = [[o.name for o in s.get_outputs()] for s in sessions]
    for s, out in zip(sessions, outs):
        for _ in range(20):
            s.run(out, feeds_one)
    singles: list[list[float]] = [[] for _ in sessions]
    batches: list[list[float]] = [[] for _ in sessions]
    clock = time.perf_counter
    for _ in range(runs):
        calls: list[list[float]] = [[] for _ in sessions]
        for _ in range(200):
            for i, (s, out) in enumerate(zip(sessions, outs)):
                start = clock()
                s.run(out, feeds_one)
                calls[i].append(clock() - start)
        big: list[list[float]] = [[] for _ in sessions]
        for _ in range(5):
            for i, (s, out) in enumerate(zip(sessions, outs)):
                start = clock()
                s.run(out, feeds_batch)
                big[i].append(clock() - start)
        for i in range(len(sessions)):
            singles[i].append(statistics.median(calls[i]))
            batches[i].append(statistics.median(big[i]))
    return [(1000 * statistics.median(a), 1000 * statistics.median(b)) for a, b in zip(singles, batches)]


def _session(data: bytes) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def measure(name: str, base: Any, context: Any, feeds: Any, want: np.ndarray, kept: str, runs: int) -> list[dict]:
    """One row per variant (float32 first): size, ratios, agreement and error against `want`, latency."""
    from edgepack.converters.quantize import modes_of, variant_emitter
    from edgepack.converters.quantize.base import NotApplicable

    module = variant_emitter("onnx")
    variants = [("onnx", base.files[base.entry["file"]], "")]
    for mode in modes_of("onnx"):
        try:
            art = module.emit_variant(base, mode, context)
            variants.append((art.id, art.files[art.entry["file"]], ""))
        except NotApplicable as why:
            variants.append((f"onnx-{mode}", None, str(why)))
    sessions = {ident: _session(data) for ident, data, _ in variants if data is not None}
    timings = dict(zip(sessions, _time_sessions(list(sessions.values()), feeds(1), feeds(1024), runs)))
    rows, ref = [], None
    for ident, data, why in variants:
        if data is None:
            rows.append({"model": name, "variant": ident, "note": f"not applicable: {why}"})
            continue
        session = sessions[ident]
        single, batch_ms = timings[ident]
        probs = session.run(["probabilities"] if "probabilities" in [o.name for o in session.get_outputs()]
                            else [session.get_outputs()[-1].name], feeds(None))[0]
        row = {"model": name, "variant": ident, "size": len(data), "single_ms": single, "batch_ms": batch_ms,
               "agreement": float(np.mean(np.argmax(probs, 1) == np.argmax(want, 1))),
               "max_error": float(np.abs(probs - want).max()), "note": "kept by --quantize auto" if ident == kept else ""}
        if ref is None:
            ref = row
        row.update(size_ratio=row["size"] / ref["size"], single_ratio=single / ref["single_ms"],
                   batch_ratio=batch_ms / ref["batch_ms"])
        rows.append(row)
    return rows


def _sklearn_case(name: str, model: Any, sample: Any, held_out: Any, label: str, tmp: Path, runs: int) -> list[dict]:
    import joblib
    from edgepack.converters.quantize.base import QuantizeContext
    from edgepack.converters.sources.sample import frame_columns, records_from_frame
    from edgepack.converters.targets.base import Artifact
    from edgepack.runtime.records import tensors_for
    from edgepack.runtime.schema import IOSchema
    from edgepack.toolchain.build import BuildOptions, build
    from edgepack.toolchain.variants.select import split_sample

    joblib.dump(model, tmp / f"{name}.joblib")
    sample.to_csv(tmp / f"{name}.csv", index=False)
    result = build(BuildOptions(model=tmp / f"{name}.joblib", sample=tmp / f"{name}.csv", out=tmp / name,
                                label_column=label, quiet=True, quantize="auto"))
    kept = next((a["id"] for a in result.manifest["artifacts"] if a.get("variant_of")), "onnx")
    entry = next(a for a in result.manifest["artifacts"] if a["id"] == "onnx")
    base = Artifact("onnx", "onnx", {entry["file"]: (tmp / name / entry["file"]).read_bytes()}, entry)
    schema = IOSchema.from_manifest(result.manifest)
    features = sample.drop(columns=[label])
    calibration, _ = split_sample(len(features))
    part = features.iloc[calibration]
    context = QuantizeContext(None, schema, frame_columns(part, schema), records_from_frame(part, schema), part)
    rows_x = held_out.drop(columns=[label])
    tiled = rows_x.iloc[np.resize(np.arange(len(rows_x)), 1024)]

    def feeds(n: int | None) -> dict:
        frame = rows_x if n is None else tiled.iloc[:n]
        return tensors_for(entry["inputs"], frame_columns(frame, schema), schema)

    return measure(name, base, context, feeds, model.predict_proba(rows_x), kept, runs)


def _digits() -> tuple[Any, Any, Any]:
    import pandas as pd
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(7).permutation(len(y))
    frame = pd.DataFrame(X[order], columns=PIXELS)
    frame["digit"] = y[order]
    return frame.iloc[:1300], frame.iloc[:500], frame.iloc[1300:]


def churn_case(tmp: Path, runs: int) -> list[dict]:
    from generate import generate
    from sklearn.model_selection import train_test_split
    from train import CATEGORICAL, LABEL, NUMERIC, build_pipeline

    frame = generate(5000, 7)
    train, held_out = train_test_split(frame, test_size=0.2, random_state=0, stratify=frame[LABEL])
    cols = NUMERIC + CATEGORICAL
    model = build_pipeline().fit(train[cols], train[LABEL])
    sample = train.sample(n=500, random_state=1)[cols + [LABEL]]
    return _sklearn_case("churn (gradient boosting)", model, sample, held_out[cols + [LABEL]], LABEL, tmp, runs)


def digits_mlp_case(tmp: Path, runs: int) -> list[dict]:
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    train, sample, held_out = _digits()
    model = Pipeline([("scale", StandardScaler()),
                      ("mlp", MLPClassifier(hidden_layer_sizes=(128, 64), max_iter=200, random_state=0))])
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # BLAS threads fighting over a shared machine's cores slow the fit 25 times
        model.fit(train[PIXELS], train["digit"])
    return _sklearn_case("digits MLP (128, 64)", model, sample, held_out, "digit", tmp, runs)


def keras_case(runs: int) -> list[dict]:
    import keras
    import tensorflow as tf
    import tf2onnx
    from edgepack.converters.quantize.base import QuantizeContext
    from edgepack.converters.targets.base import Artifact

    train, sample, held_out = _digits()
    x = (train[PIXELS].to_numpy(np.float32)) / 16.0
    keras.utils.set_random_seed(0)
    net = keras.Sequential([keras.Input((64,)), keras.layers.Dense(128, activation="relu"),
                            keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10, activation="softmax")])
    net.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    net.fit(x, train["digit"].to_numpy(), epochs=30, batch_size=64, verbose=0)
    spec = (tf.TensorSpec([None, 64], tf.float32, name="pixels"),)
    # from_function: tf2onnx's from_keras trips over Keras 3's output names (KeyError 'keras_tensor_3').
    proto, _ = tf2onnx.convert.from_function(tf.function(lambda pixels: net(pixels)), input_signature=spec, opset=17)
    out_name = proto.graph.output[0].name
    binding = [{"name": "pixels", "features": PIXELS, "dtype": "float32"}]
    base = Artifact("onnx", "onnx", {"model.onnx": proto.SerializeToString()},
                    {"id": "onnx", "format": "onnx", "file": "model.onnx", "precision": "float32", "inputs": binding,
                     "outputs": {"probabilities": out_name}})
    calib = sample[PIXELS].to_numpy(np.float64) / 16.0
    context = QuantizeContext(None, None, {p: calib[:, j] for j, p in enumerate(PIXELS)}, [{}] * len(calib), None)
    rows_x = held_out[PIXELS].to_numpy(np.float32) / 16.0
    tiled = rows_x[np.resize(np.arange(len(rows_x)), 1024)]

    def feeds(n: int | None) -> dict:
        return {"pixels": rows_x if n is None else tiled[:n]}

    want = net.predict(rows_x, verbose=0)
    return measure("Keras Dense 128-64-10 (tf2onnx)", base, context, feeds, want, "", runs)


SELECTION_CASES = [((128, 64), True, 0, 200), ((256, 128), True, 1, 100), ((100,), False, 2, 300),
                   ((64,), True, 3, 200), ((128, 64), False, 4, 50), ((200,), True, 5, 300)]


def selection_check(tmp: Path) -> str:
    """Does `--quantize auto` keep what holds on rows the build never saw? Six digits MLPs (shape, input
    scaling, seed, iterations); each kept variant is run in onnxruntime on 397 unseen rows."""
    import joblib
    import onnxruntime as ort
    import pandas as pd
    from edgepack.runtime.judge import PROFILES, Metrics, judge
    from edgepack.toolchain.build import BuildOptions, build
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    X, y = load_digits(return_X_y=True)
    lines = ["| MLP | scaled | iterations | kept (size vs float32) | dropped | unseen rows: agreement, max error, profile |",
             "|---|---|---:|---|---|---|"]
    for hidden, scale, seed, iters in SELECTION_CASES:
        order = np.random.default_rng(seed).permutation(len(y))
        frame = pd.DataFrame(X[order], columns=PIXELS)
        frame["digit"] = y[order]
        train, unseen = frame.iloc[:1400], frame.iloc[1400:]
        mlp = MLPClassifier(hidden, max_iter=iters, random_state=seed)
        model = Pipeline([("scale", StandardScaler()), ("mlp", mlp)]) if scale else mlp
        with threadpool_limits(1):
            model.fit(train[PIXELS], train["digit"])
        joblib.dump(model, tmp / "sel.joblib")
        train.sample(600, random_state=seed).to_csv(tmp / "sel.csv", index=False)
        result = build(BuildOptions(model=tmp / "sel.joblib", sample=tmp / "sel.csv", out=tmp / "sel", label_column="digit",
                                    quiet=True, quantize="auto"))
        kept = [a for a in result.manifest["artifacts"] if a.get("variant_of")]
        dropped = ", ".join(v["id"] for v in result.manifest["quantization"]["variants"] if v["status"] != "kept")
        want = model.predict_proba(unseen[PIXELS])
        cells = []
        for art in kept:
            session = ort.InferenceSession(str(tmp / "sel" / art["file"]), providers=["CPUExecutionProvider"])
            got = session.run(["probabilities"], {"input": unseen[PIXELS].to_numpy(np.float64)})[0]
            agree, err = float(np.mean(got.argmax(1) == want.argmax(1))), float(np.abs(got - want).max())
            ok = judge(Metrics(label_agreement=agree, max_probability_error=err), PROFILES[art["precision"]]).passed
            cells.append((f"{art['id']} ({100 * art['size'] / result.manifest['artifacts'][0]['size']:.1f} %)",
                          f"{100 * agree:.2f} %, {err:.3g}, {'passes' if ok else 'FAILS'}"))
        kept_text = "; ".join(c[0] for c in cells) or "none"
        lines.append(f"| {hidden} | {'yes' if scale else 'no'} | {iters} | {kept_text} | {dropped} | "
                     f"{'; '.join(c[1] for c in cells) or '-'} |")
    return "\n".join(lines)


def markdown(rows: list[dict]) -> str:
    lines = ["| model | variant | bytes | size vs float32 | single-row ms (ratio) | 1,024-row batch ms (ratio) "
             "| label agreement | max prob. error | note |", "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        if "size" not in r:
            lines.append(f"| {r['model']} | {r['variant']} | | | | | | | {r['note']} |")
            continue
        lines.append(f"| {r['model']} | {r['variant']} | {r['size']:,} | {100 * r['size_ratio']:.1f} % "
                     f"| {r['single_ms']:.4f} ({r['single_ratio']:.2f}) | {r['batch_ms']:.3f} ({r['batch_ratio']:.2f}) "
                     f"| {100 * r['agreement']:.2f} % | {r['max_error']:.2g} | {r['note']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="runs per measurement; medians are reported")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--skip-keras", action="store_true", help="leave out the Keras network (no TensorFlow)")
    parser.add_argument("--selection", action="store_true",
                        help="also check --quantize auto's choice on six MLPs against rows the build never saw")
    args = parser.parse_args(argv)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="edgepack-bench-") as tmp:
        rows += churn_case(Path(tmp), args.runs)
        rows += digits_mlp_case(Path(tmp), args.runs)
        selection = selection_check(Path(tmp)) if args.selection else ""
    if not args.skip_keras:
        rows += keras_case(args.runs)
    table = markdown(rows) + ("\n\n" + selection if selection else "")
    print(table)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
