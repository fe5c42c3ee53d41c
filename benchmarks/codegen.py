"""The generated code (targets c and js) against the runtimes, on one package, in one run:

    python benchmarks/codegen.py [--package build/bench/codegen/package] [--runs 7] [--json FILE]

1. Per-record latency, one record at a time: the C code (gcc -O2, a loop of edgepack_predict over the
   golden records, clock_gettime) vs onnxruntime's one-record `Scorer.predict_array` in Python.
2. Node, whole process, time to the first prediction (medians of --runs): the ES module vs
   web/bin/score.mjs with onnxruntime-web (ort-wasm), with `node -e ''` as the floor.
3. Code size: `size` of the object file (x86-64 -O2, and 32-bit ARM Thumb -Os when the cross compiler
   is installed).

Without --package it builds the churn example's model (make demo's build/churn) with --targets onnx,c,js.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BENCH_C = r"""
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <time.h>
#include "model.h"
#define N %(n)d
static const double X[N][EDGEPACK_N_FEATURES] = {%(rows)s};
int main(void) {
    double out[EDGEPACK_N_OUTPUTS], sink = 0, best = 1e30;
    struct timespec a, b;
    for (int round = 0; round < 15; round++) {
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (int rep = 0; rep < 200; rep++)
            for (int i = 0; i < N; i++) { edgepack_predict_array(X[i], out); sink += out[0]; }
        clock_gettime(CLOCK_MONOTONIC, &b);
        double us = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / (200.0 * N);
        if (us < best) best = us;
        printf("%%.4f\n", us);
    }
    fprintf(stderr, "%%g\n", sink);
    return 0;
}
"""


def churn_package(name: str, targets: list[str]) -> Path:
    """The churn example's model (make demo's build/churn) built with `targets` into build/bench/NAME, once."""
    from edgepack.toolchain.build import BuildOptions, build

    churn = ROOT / "build" / "churn"
    if not (churn / "churn.joblib").exists():
        raise SystemExit("run `make demo` first (it trains build/churn/churn.joblib), or pass --package")
    out = ROOT / "build" / "bench" / name / "package"
    if not (out / "manifest.json").exists():
        shutil.rmtree(out, ignore_errors=True)
        build(BuildOptions(model=churn / "churn.joblib", sample=churn / "sample.csv", out=out, label_column="churn",
                           name="churn", targets=targets, quiet=True))
    return out


def _package(args: argparse.Namespace) -> Path:
    return args.package or churn_package("codegen", ["onnx", "c", "js"])


def _rows(package: Path) -> tuple[list[list[float]], list[dict]]:
    import numpy as np
    from edgepack.runtime.package import Package
    from edgepack.runtime.records import category_index
    from edgepack.runtime.schema import IOSchema

    pkg = Package.open(package)
    schema = IOSchema.from_manifest(pkg.manifest)
    records = pkg.golden()["records"]
    rows = []
    for r in records:
        row = []
        for f in schema.features:
            v = r.get(f.name)
            if f.type == "category":
                row.append(float("nan") if v is None else float(category_index(f.categories or [], np.array([v], dtype=object))[0]))
            else:
                row.append(float("nan") if v is None else float(v))
        rows.append(row)
    return rows, records


def c_latency(package: Path, rows: list[list[float]], work: Path) -> float:
    def lit(v: float) -> str:
        return "(0.0/0.0)" if v != v else repr(v)

    text = BENCH_C % {"n": len(rows), "rows": ",".join("{" + ",".join(lit(v) for v in r) + "}" for r in rows)}
    (work / "bench.c").write_text(text)
    for name in ("model.c", "model.h"):
        shutil.copy(package / name, work / name)
    subprocess.run(["gcc", "-std=c99", "-O2", "-o", str(work / "bench"), str(work / "model.c"), str(work / "bench.c"), "-lm"],
                   check=True)
    out = subprocess.run([str(work / "bench")], capture_output=True, text=True, check=True).stdout.split()
    return statistics.median(float(x) for x in out)


def ort_latency(package: Path, rows: list[list[float]]) -> float:
    import numpy as np
    from edgepack.runtime.scorer import Scorer

    scorer = Scorer.load(package)
    arrays = [np.asarray([r], dtype=np.float64) for r in rows]
    times = []
    for _ in range(15):
        start = time.perf_counter()
        for _rep in range(20):
            for a in arrays:
                scorer.predict_array(a)
        times.append((time.perf_counter() - start) * 1e6 / (20 * len(arrays)))
    return statistics.median(times)


def node_first(command: list[str], stdin: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, input=stdin, capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sizes(package: Path, work: Path) -> dict[str, int]:
    found = {}
    builds = [("x86-64 gcc -O2", ["gcc", "-std=c99", "-O2"], "size")]
    if shutil.which("arm-linux-gnueabihf-gcc"):
        builds.append(("ARM Thumb -Os (cortex-m4)", ["arm-linux-gnueabihf-gcc", "-std=c99", "-Os", "-mthumb", "-mcpu=cortex-m4",
                                                      "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"], "arm-linux-gnueabihf-size"))
    for label, cc, size in builds:
        obj = work / f"{label.split()[0]}.o"
        # -fstack-usage writes each function's frame into a .su file beside the object
        subprocess.run([*cc, "-fstack-usage", "-c", str(package / "model.c"), "-o", str(obj)], check=True)
        text, data = subprocess.run([size, str(obj)], capture_output=True, text=True, check=True).stdout.splitlines()[1].split()[:2]
        found[label] = int(text) + int(data)
        frames = {}
        for line in obj.with_suffix(".su").read_text().splitlines():
            where, nbytes, _kind = line.split("\t")
            frames[where.rsplit(":", 1)[-1]] = int(nbytes)
        # one inference from an array: edgepack_predict_array -> edgepack_predict -> ep_run
        found[f"{label}: stack of one inference"] = sum(frames.get(f, 0) for f in
                                                        ("edgepack_predict_array", "edgepack_predict", "ep_run"))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--package", type=Path)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    package = _package(args)
    rows, records = _rows(package)
    work = Path(tempfile.mkdtemp(prefix="edgepack-bench-codegen-"))
    try:
        c_us, ort_us = c_latency(package, rows, work), ort_latency(package, rows)
        one = json.dumps(records[0]) + "\n"
        module = (package / "model.mjs").as_uri()
        js_first = node_first(["node", "-e", f"import('{module}').then(m => console.log(JSON.stringify(m.predict([{json.dumps(records[0])}]))))"], "", args.runs)
        ort_first = node_first(["node", str(ROOT / "web" / "bin" / "score.mjs"), str(package), "--backend", "ort-wasm"], one, args.runs)
        floor = node_first(["node", "-e", ""], "", args.runs)
        size = sizes(package, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures = {"c_us_per_record": c_us, "onnxruntime_predict_array_us": ort_us, "c_over_onnxruntime": c_us / ort_us,
               "node_first_prediction_s": {"js module": js_first, "onnxruntime-web (score.mjs)": ort_first, "node -e ''": floor},
               "object_bytes": size, "records": len(rows), "package": str(package)}
    print(f"one record at a time ({len(rows)} golden records, medians of 15 rounds)")
    print(f"  C edgepack_predict_array     {c_us:8.3f} us")
    print(f"  onnxruntime predict_array    {ort_us:8.3f} us   C / onnxruntime = {c_us / ort_us:.3f}")
    print(f"Node, whole process to the first prediction (medians of {args.runs})")
    for k, v in figures["node_first_prediction_s"].items():
        print(f"  {k:<28} {v:8.3f} s")
    print("code size (text + data of the object file) and stack (gcc -fstack-usage), bytes")
    for k, v in size.items():
        print(f"  {k:<28} {v:8d} bytes")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
