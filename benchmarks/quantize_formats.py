"""What `edgepack build --quantize auto` keeps per format for a Keras MLP of ~200k parameters, measured
on rows the build never saw (issue 16's target: the smallest TFLite variant kept is at most 30 % of the
float32 file and keeps >= 99.5 % of labels).

The network: 16 -> Dense 512 relu -> Dense 384 relu -> Dense 3 softmax (206,851 parameters), trained for
a few epochs on a synthetic 3-class problem (a fixed generator, so every run sees the same data). The
build gets 1,000 training rows as its sample; the unseen rows are 5,000 fresh draws of the generator.
Each kept variant runs in its real runtime (ai-edge-litert for TFLite, onnxruntime for ONNX, TF.js in
Node and the Core ML evaluator through edgepack's parity runners) and is compared with Keras itself.

example:
  .venv/bin/python benchmarks/quantize_formats.py --targets onnx,tflite,tfjs,coreml --markdown build/bench/qf.md
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

FEATURES = [f"f{i}" for i in range(16)]


def draw(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n rows of the synthetic problem: (features float32 [n, 16], labels in {0, 1, 2})."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 16)).astype(np.float32)
    score = x[:, 0] + x[:, 1] ** 2 + np.sin(2 * x[:, 2]) - 0.5 * x[:, 3] * x[:, 4]
    return x, (score > 0.4).astype(int) + (score > 1.6).astype(int)


def train(root: Path) -> Any:
    import keras

    keras.utils.set_random_seed(3)
    x, y = draw(20_000, 1)
    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(512, activation="relu"),
                              keras.layers.Dense(384, activation="relu"), keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=4, batch_size=128, verbose=0)
    model.save(root / "mlp.keras")
    import pandas as pd

    frame = pd.DataFrame(x[:1000], columns=FEATURES)
    frame["y"] = y[:1000]
    frame.to_csv(root / "sample.csv", index=False)
    return model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", default="onnx,tflite,tfjs,coreml")
    parser.add_argument("--quantize", default="auto")
    parser.add_argument("--unseen", type=int, default=5000)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import pandas as pd
    from edgepack.parity.data import input_batch
    from edgepack.parity.runners import runner_class, runners_for
    from edgepack.runtime.package import Package
    from edgepack.runtime.schema import IOSchema
    from edgepack.toolchain.build import BuildOptions, build
    from edgepack.toolchain.check import artifact_size

    with tempfile.TemporaryDirectory(prefix="edgepack-qf-") as tmp:
        root = Path(tmp)
        model = train(root)
        result = build(BuildOptions(model=root / "mlp.keras", sample=root / "sample.csv", out=root / "package",
                                    label_column="y", quiet=True, targets=args.targets.split(","),
                                    quantize=args.quantize))
        x, _ = draw(args.unseen, 99)
        want = np.asarray(model.predict(x, verbose=0))
        frame = pd.DataFrame(x.astype(np.float64), columns=FEATURES)
        package = Package.open(result.path)
        schema = IOSchema.from_manifest(result.manifest)
        batch = input_batch(frame, schema)
        entries = {e["id"]: e for e in result.manifest["artifacts"]}
        rows = []
        for ident, entry in entries.items():
            runner = runner_class(runners_for(entry["format"])[0])
            if runner.availability():
                rows.append((ident, entry["format"], artifact_size(entry), None, None, None, runner.availability()))
                continue
            with runner(package, package.artifact(ident)) as r:
                got = np.asarray(r.predict(batch)["probabilities"])
            base = next(e for e in entries.values() if e["format"] == entry["format"] and not e.get("variant_of")
                        and e.get("precision") == "float32")
            rows.append((ident, entry["format"], artifact_size(entry), artifact_size(entry) / artifact_size(base),
                         float(np.mean(got.argmax(1) == want.argmax(1))), float(np.abs(got - want).max()), ""))
    lines = [f"Keras MLP 16-512-384-3 ({model.count_params():,} parameters), `--quantize {args.quantize}`, "
             f"{args.unseen:,} unseen rows, against Keras:", "",
             "| artifact | format | bytes | of float32 | label agreement | max probability error |",
             "|---|---|---:|---:|---:|---:|"]
    for ident, fmt, size, ratio, agree, err, note in rows:
        if note:
            lines.append(f"| {ident} | {fmt} | {size:,} | | | not run here: {note} |")
        else:
            lines.append(f"| {ident} | {fmt} | {size:,} | {ratio:.1%} | {agree:.2%} | {err:.4f} |")
    variants = result.manifest.get("quantization", {}).get("variants", [])
    lines += ["", "| variant | status | of float32 | reason |", "|---|---|---:|---|"]
    for v in variants:
        ratio = f"{v['size_ratio']:.1%}" if v.get("size_ratio") else ""
        lines.append(f"| {v['id']} | {v['status']} | {ratio} | {v['reason']} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
