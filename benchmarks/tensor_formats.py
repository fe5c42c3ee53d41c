"""Tensor models in every format, against each format's own converter (issue 17's targets).

1. A ResNet-18-sized ONNX graph (written with onnx.helper in the layout torch.onnx.export gives: NCHW,
   opset 17; 11.7M parameters, 1000 classes, 64x64 inputs so that the reference evaluator stays quick;
   batch norm statistics set from the sample so outputs differ per image) through `edgepack build` to
   ONNX, TFLite, TF.js and Core ML (float32), then `edgepack parity` with the ONNX file as reference on
   held-out images: top-1 agreement and max absolute error per artifact and runtime.
2. keras.applications.MobileNetV2(alpha=0.35, weights=None, input_shape=(96, 96, 3)): conversion time per
   format through `edgepack build --targets FORMAT` (float32 only; includes loading the model, running
   the reference on the sample and checking the artifact in its runtime) and through the format's own
   converter called directly on the loaded model (tf2onnx.convert.from_keras, tf.lite.TFLiteConverter,
   model.export + tensorflowjs, coremltools on a concrete function); then per-image latency of both
   artifacts in the same runtime (onnxruntime, ai-edge-litert, TF.js wasm in Node), beside Keras model(x)
   as the baseline of the same run. Core ML predicts only on macOS: no latency here.
Medians of --repeats runs (conversion) and of REPEATS calls after a warm-up (latency). Prints markdown for
docs/BENCHMARKS.md.

usage: python benchmarks/tensor_formats.py [--out DIR] [--repeats 3] [--skip-resnet] [--skip-mobilenet]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
REPEATS = 20
FORMATS = ["onnx", "tflite", "tfjs", "coreml"]


# -- 1. ResNet-18-sized ONNX -------------------------------------------------------------------------------
def resnet18_onnx(folder: Path, size: int = 64, rows: int = 8, seed: int = 0) -> tuple[Path, Path, Path]:
    """ResNet-18 (BasicBlock x [2, 2, 2, 2], 64-512 channels, 1000 classes, softmax) with He-initialised
    weights. Returns (model.onnx, sample.npz, holdout.npz)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes: list[Any] = []
    inits: list[Any] = []

    def weight(name: str, shape: tuple[int, ...], std: float) -> str:
        inits.append(numpy_helper.from_array(rng.normal(0, std, shape).astype(np.float32), name))
        return name

    def conv_bn(x: str, name: str, cin: int, cout: int, k: int, stride: int, relu: bool) -> str:
        w = weight(f"{name}.w", (cout, cin, k, k), (2.0 / (cin * k * k)) ** 0.5)
        nodes.append(helper.make_node("Conv", [x, w], [f"{name}.c"], kernel_shape=[k, k], strides=[stride, stride],
                                      pads=[k // 2] * 4))
        bn = [f"{name}.{p}" for p in ("g", "b", "m", "v")]
        for p, value in zip(bn, (np.ones(cout), np.zeros(cout), np.zeros(cout), np.ones(cout))):
            inits.append(numpy_helper.from_array(value.astype(np.float32), p))
        nodes.append(helper.make_node("BatchNormalization", [f"{name}.c", *bn], [f"{name}.bn"]))
        if not relu:
            return f"{name}.bn"
        nodes.append(helper.make_node("Relu", [f"{name}.bn"], [f"{name}.r"]))
        return f"{name}.r"

    x = conv_bn("image", "stem", 3, 64, 7, 2, True)
    nodes.append(helper.make_node("MaxPool", [x], ["pool"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
    x, cin = "pool", 64
    for stage, cout in enumerate((64, 128, 256, 512)):
        for block in range(2):
            stride = 2 if stage > 0 and block == 0 else 1
            name = f"l{stage + 1}.{block}"
            y = conv_bn(x, f"{name}.a", cin, cout, 3, stride, True)
            y = conv_bn(y, f"{name}.b", cout, cout, 3, 1, False)
            short = conv_bn(x, f"{name}.down", cin, cout, 1, stride, False) if stride != 1 or cin != cout else x
            nodes.append(helper.make_node("Add", [y, short], [f"{name}.add"]))
            nodes.append(helper.make_node("Relu", [f"{name}.add"], [f"{name}.out"]))
            x, cin = f"{name}.out", cout
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"]))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"]))
    nodes.append(helper.make_node("Gemm", ["flat", weight("fc.w", (1000, 512), 3 / 512 ** 0.5),
                                           weight("fc.b", (1000,), 0.0)], ["logits"], transB=1))
    nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1))
    graph = helper.make_graph(nodes, "resnet18", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, size, size])],
                              [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 1000])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="edgepack-benchmark")
    images = rng.uniform(-1, 1, (2 * rows, 3, size, size)).astype(np.float32)
    _recalibrate(model, images[:rows])
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(folder / "resnet18.onnx"))
    np.savez(folder / "sample.npz", image=images[:rows])
    np.savez(folder / "holdout.npz", image=images[rows:])
    return folder / "resnet18.onnx", folder / "sample.npz", folder / "holdout.npz"


def _recalibrate(model: Any, images: np.ndarray) -> None:
    """Each BatchNormalization's mean and variance set to its input's statistics on `images`, in graph
    order (random weights otherwise blow activations up or down: every image would get the same label)."""
    import onnxruntime as ort
    from onnx import helper, numpy_helper

    by_name = {i.name: i for i in model.graph.initializer}
    for node in [n for n in model.graph.node if n.op_type == "BatchNormalization"]:
        probe = type(model)()
        probe.CopyFrom(model)
        del probe.graph.output[:]
        probe.graph.output.append(helper.make_empty_tensor_value_info(node.input[0]))
        session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
        values = session.run(None, {"image": images})[0].astype(np.float64)
        for name, stat in ((node.input[3], values.mean(axis=(0, 2, 3))), (node.input[4], values.var(axis=(0, 2, 3)))):
            by_name[name].CopyFrom(numpy_helper.from_array(stat.astype(np.float32), name))


def resnet(work: Path) -> list[str]:
    from edgepack.parity.harness import ParityOptions, run_parity
    from edgepack.toolchain.build import BuildOptions, build

    model, sample, holdout = resnet18_onnx(work / "resnet18")
    import onnx

    params = sum(int(np.prod(i.dims)) for i in onnx.load(str(model)).graph.initializer)
    start = time.perf_counter()
    result = build(BuildOptions(model=model, sample=sample, out=work / "resnet18" / "package", quiet=True, targets=FORMATS,
                                target_options={f: {"variants": "float32"} for f in FORMATS}))
    seconds = time.perf_counter() - start
    report = run_parity(ParityOptions(package=result.path, reference=model, data=holdout, quiet=True))
    golden = np.asarray(json.loads((result.path / "golden.json").read_text())["outputs"]["probabilities"])
    lines = [f"ResNet-18-sized ONNX ({params:,} parameters, [N, 3, 64, 64], 1000 classes; {len(set(np.argmax(golden, 1)))} "
             f"distinct top-1 classes on the {len(golden)} sample images): `edgepack build` to four formats "
             f"(float32) {seconds:.0f} s; `edgepack parity --reference resnet18.onnx --data holdout.npz` "
             f"({report.data}): {'PASSED' if report.passed else 'FAILED'}", "",
             "| artifact | runtime | rows | top-1 agreement | max abs error | min cosine | result |",
             "|---|---|---:|---:|---:|---:|---|"]
    for r in report.results:
        m = r.metrics
        if r.status == "unavailable":
            lines.append(f"| {r.artifact} | {r.runtime} | | | | | unavailable: {r.reason} |")
            continue
        lines.append(f"| {r.artifact} | {r.runtime} | {r.rows} | {m.get('top1_agreement', float('nan')):.4f} | "
                     f"{m.get('max_abs_error', float('nan')):.3g} | {m.get('min_cosine', float('nan')):.7f} | {r.status} |")
    return lines


# -- 2. MobileNetV2: edgepack against each format's own converter -------------------------------------------
def _median(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _direct(model: Any, fmt: str, out: Path) -> Path:
    """The format's own converter on the loaded Keras model; returns the artifact's path."""
    import tensorflow as tf

    spec = tf.TensorSpec([None, 96, 96, 3], tf.float32, name="image")
    if fmt == "onnx":
        import tf2onnx

        proto, _ = tf2onnx.convert.from_keras(model, input_signature=[spec], opset=17)
        (out / "direct.onnx").write_bytes(proto.SerializeToString())
        return out / "direct.onnx"
    if fmt == "tflite":
        (out / "direct.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
        return out / "direct.tflite"
    if fmt == "tfjs":
        import tensorflowjs

        model.export(str(out / "saved"), verbose=False)
        tensorflowjs.converters.convert_tf_saved_model(str(out / "saved"), str(out / "direct_tfjs"))
        return out / "direct_tfjs"
    import coremltools as ct

    fn = tf.function(lambda x: model(x), input_signature=[spec]).get_concrete_function()
    ml = ct.convert([fn], source="tensorflow", convert_to="mlprogram", compute_precision=ct.precision.FLOAT32,
                    inputs=[ct.TensorType(shape=(ct.RangeDim(1, 64), 96, 96, 3))])
    ml.save(str(out / "direct.mlpackage"))
    return out / "direct.mlpackage"


def _latency(kind: str, path: Path, image: np.ndarray, extra: dict[str, Any]) -> float:
    """Median ms of one-image calls."""
    if kind == "onnxruntime":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feed = {session.get_inputs()[0].name: image}
        session.run(None, feed)
        return 1000 * _median(lambda: session.run(None, feed), REPEATS)
    if kind == "tflite":
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(path), num_threads=1)
        runner = interpreter.get_signature_runner()
        name = next(iter(runner.get_input_details()))
        runner(**{name: image})
        return 1000 * _median(lambda: runner(**{name: image}), REPEATS)
    proc = subprocess.run(["node", str(ROOT / "benchmarks" / "tfjs_latency.mjs"), str(path), extra["input"], "1,96,96,3",
                           extra["outputs"], "wasm", str(REPEATS)], capture_output=True, text=True, timeout=600, check=True)
    return float(json.loads(proc.stdout)["median_ms"])


def mobilenet(work: Path, repeats: int) -> list[str]:
    sys.path.insert(0, str(ROOT))
    import keras
    from edgepack.runtime.package import Package
    from edgepack.toolchain.build import BuildOptions, build

    from tests.tensors.models import mobilenet_v2  # the test's network: batch norm recalibrated

    path, sample = mobilenet_v2(work / "mnv2_model")
    model = keras.saving.load_model(path)
    image = np.load(sample)[next(iter(np.load(sample).files))][:1]
    rows = []
    packages: dict[str, Path] = {}
    for fmt in FORMATS:
        out = work / f"mnv2_{fmt}"

        def ours(fmt: str = fmt, out: Path = out) -> None:
            build(BuildOptions(model=path, sample=sample, out=out, quiet=True, targets=[fmt],
                               target_options={fmt: {"variants": "float32"}}))
        theirs_dir = work / f"direct_{fmt}"
        theirs_dir.mkdir(parents=True, exist_ok=True)
        ours_s = _median(ours, repeats)
        with contextlib.redirect_stdout(sys.stderr):  # Keras' export prints its signature: keep stdout markdown
            theirs_s = _median(lambda fmt=fmt, d=theirs_dir: _direct(model, fmt, d), repeats)
        packages[fmt] = out
        rows.append((fmt, ours_s, theirs_s))
    lines = [f"MobileNetV2 alpha=0.35 96x96x3 ({model.count_params():,} parameters): conversion, median of {repeats} runs", "",
             "| format | `edgepack build --targets FORMAT` (s) | own converter directly (s) | edgepack / direct |",
             "|---|---:|---:|---:|"]
    names = {"onnx": "tf2onnx.convert.from_keras", "tflite": "tf.lite.TFLiteConverter.from_keras_model",
             "tfjs": "model.export + tensorflowjs convert_tf_saved_model", "coreml": "coremltools ct.convert (concrete function)"}
    lines += [f"| {fmt} ({names[fmt]}) | {a:.1f} | {b:.1f} | {a / b:.1f} |" for fmt, a, b in rows]
    keras_ms = 1000 * _median(lambda: model(image, training=False), REPEATS)
    lines += ["", f"Latency per image (one thread, median of {REPEATS} calls after a warm-up; Keras model(x) in the "
              f"same run: {keras_ms:.2f} ms)", "",
              "| runtime | edgepack's artifact (ms) | direct converter's (ms) | Keras / edgepack's |", "|---|---:|---:|---:|"]
    for fmt, runtime in (("onnx", "onnxruntime"), ("tflite", "tflite"), ("tfjs", "tfjs")):
        package = Package.open(packages[fmt])
        art = package.artifact(fmt)
        ours_path = packages[fmt] / (art.file if fmt != "tfjs" else str(Path(art.file).parent))
        extra = {"input": art.entry["inputs"][0]["name"], "outputs": ",".join(art.entry["outputs"].values())}
        ours_ms = _latency(runtime, ours_path, image, extra)
        direct = {"onnx": work / "direct_onnx" / "direct.onnx", "tflite": work / "direct_tflite" / "direct.tflite",
                  "tfjs": work / "direct_tfjs" / "direct_tfjs"}[fmt]
        if fmt == "tfjs":
            signature = json.loads((direct / "model.json").read_text())["signature"]
            extra = {"input": next(iter(signature["inputs"].values()))["name"].split(":")[0],
                     "outputs": ",".join(v["name"].split(":")[0] for v in signature["outputs"].values())}
        theirs_ms = _latency(runtime, direct, image, extra)
        label = {"onnx": "onnxruntime 1 thread", "tflite": "ai-edge-litert 1 thread (XNNPACK)", "tfjs": "TF.js wasm (Node)"}[fmt]
        lines.append(f"| {label} | {ours_ms:.2f} | {theirs_ms:.2f} | {keras_ms / ours_ms:.1f} |")
    lines.append("| Core ML | macOS only | macOS only | |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-resnet", action="store_true")
    parser.add_argument("--skip-mobilenet", action="store_true")
    args = parser.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="edgepack-bench-formats-"))
    lines: list[str] = []
    if not args.skip_resnet:
        lines += resnet(work) + [""]
        print("\n".join(lines), flush=True)
    if not args.skip_mobilenet:
        more = mobilenet(work, args.repeats)
        print("\n".join(more), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
