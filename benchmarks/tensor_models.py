"""Tensor models (issue 17): sizes per artifact, int8 TFLite against float32 on unseen images, conversion
time per build, and latency per image in onnxruntime and ai-edge-litert against the source model (Keras)
in the same run.

Trains the digits example (examples/digits/train.py, scikit-learn's 8x8 digits), builds it to onnx,
tflite, tfjs and coreml, then:
  - size of every artifact and int8 / float32 ratio for TFLite;
  - top-1 agreement of tflite-int8 with the float32 TFLite and with the labels on the held-out images;
  - one image at a time, medians of REPEATS runs after a warm-up: Keras model(x), onnxruntime, TFLite.
With --mobilenet also keras.applications.MobileNetV2(alpha=0.35, weights=None, 96x96x3, 10 classes, batch
norm recalibrated so that outputs differ per image) on 16 random images: conversion time of the whole build and each float32 artifact's max error.
Prints markdown for docs/BENCHMARKS.md ("Tensor models").

usage: python benchmarks/tensor_models.py [--out DIR] [--mobilenet]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
REPEATS = 30


def _median_ms(fn, repeats: int = REPEATS) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _build(model: Path, sample: Path, out: Path, name: str) -> tuple[object, float]:
    from edgepack.toolchain.build import BuildOptions, build

    start = time.perf_counter()
    result = build(BuildOptions(model=model, sample=sample, out=out, name=name, quiet=True,
                                targets=["onnx", "tflite", "tfjs", "coreml"]))
    return result, time.perf_counter() - start


def digits(work: Path) -> list[str]:
    from edgepack.converters.sources import load_source
    from edgepack.parity.runners.tensor import tensor_runners_for
    from edgepack.runtime.package import Package
    from edgepack.runtime.tensor_scorer import TensorScorer

    subprocess.run([sys.executable, str(ROOT / "examples" / "digits" / "train.py"), "--out", str(work)], check=True,
                   capture_output=True)
    result, seconds = _build(work / "digits.keras", work / "sample.npz", work / "package", "digits")
    holdout = np.load(work / "holdout.npz")
    images, labels = holdout["image"], holdout["label"]
    package = Package.open(result.path)
    _, run_tflite, _ = tensor_runners_for("tflite")[0]
    # Whole artifact: a TF.js model or an .mlpackage is several files (`files`), not just its `file`.
    sizes = {a["id"]: sum(f["size"] for f in a.get("files", [a])) for a in result.manifest["artifacts"]}
    float32 = np.argmax(run_tflite(package, package.artifact("tflite"), {"image": images})["probabilities"], axis=1)
    lines = [f"digits CNN ({len(images)} held-out images; whole build to four formats {seconds:.1f} s)", "",
             "| artifact | size (bytes) | / float32 | top-1 = float32 TFLite | accuracy |", "|---|---:|---:|---:|---:|"]
    for art in ("tflite", "tflite-float16", "tflite-int8-dynamic", "tflite-int8"):
        if art not in sizes:
            lines.append(f"| {art} | dropped by the build | | | |")
            continue
        got = np.argmax(run_tflite(package, package.artifact(art), {"image": images})["probabilities"], axis=1)
        lines.append(f"| {art} | {sizes[art]:,} | {sizes[art] / sizes['tflite']:.1%} | {np.mean(got == float32):.2%} | "
                     f"{np.mean(got == labels):.2%} |")
    for art in ("onnx", "tfjs", "tfjs-float16", "tfjs-uint8", "coreml", "coreml-float16"):
        if art in sizes:
            lines.append(f"| {art} | {sizes[art]:,} | | | |")
    one = {"image": images[:1]}
    keras_model = load_source(work / "digits.keras")
    scorer = TensorScorer.load(result.path)
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=package.artifact_bytes(package.artifact("tflite")), num_threads=1)
    runner = interpreter.get_signature_runner("serving_default")
    runs = [(name, _median_ms(fn)) for name, fn in (
        ("Keras model(x) (source)", lambda: keras_model.predict_tensors(one)),
        ("onnxruntime (TensorScorer.predict)", lambda: scorer.predict(one)),
        ("ai-edge-litert (signature runner)", lambda: runner(image=images[:1])))]
    lines += ["", f"| runtime (one image, median of {REPEATS}) | ms | Keras time / this |", "|---|---:|---:|"]
    lines += [f"| {name} | {ms:.3f} | {runs[0][1] / ms:.0f} |" for name, ms in runs]
    return lines


def mobilenet(work: Path) -> list[str]:
    sys.path.insert(0, str(ROOT))
    from tests.tensors.models import mobilenet_v2  # the test's network: batch norm recalibrated

    path, sample = mobilenet_v2(work / "mnv2_model")
    import keras

    model = keras.saving.load_model(path)
    result, seconds = _build(path, sample, work / "mnv2", "mobilenet_v2")
    lines = [f"MobileNetV2 alpha=0.35 96x96 ({model.count_params():,} parameters, 16 random images): whole build "
             f"to four formats {seconds:.0f} s", "", "| artifact | runtime | top-1 | max abs error | result |",
             "|---|---|---:|---:|---|"]
    for check in result.checks:
        m = check["metrics"]
        lines.append(f"| {check['artifact']} | {check['runtime']} | {m.get('top1_agreement', '-')} | "
                     f"{m.get('max_abs_error', float('nan')):.3g} | {check.get('status')} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--mobilenet", action="store_true")
    args = parser.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="edgepack-bench-tensors-"))
    lines = digits(work / "digits")
    if args.mobilenet:
        lines += [""] + mobilenet(work)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
