"""Time to the first prediction through edgepack-web: the generated module (backend js) against
onnxruntime-web (ort-wasm) and TF.js (tfjs-wasm) for the same package, in one run.

    python benchmarks/web_first_prediction.py [--package PKG] [--runs 7] [--page-runs 5] [--json FILE]

1. Node, in a fresh process per run: `loadPackage(PKG, {backend})` + `predict([record])` (verify the files,
   start the backend, score one golden record), and the whole process from its start to that prediction
   (`node -e ''` started and ended is the floor). Then, warm in the same process, the golden records
   scored in one call over and over for about a second: records per second. Medians of --runs.
2. Headless Chromium (when installed): the demo page of `edgepack serve PKG?backend=B`, a new browser
   context per run (edgepack serve sends no-store, so nothing is cached), from the page's navigation start
   to its first form prediction. Medians of --page-runs.
Ratios are against ort-wasm in the same run. Without --package it builds the churn example's model (make
demo's build/churn) with --targets onnx,tfjs,js.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DRIVER = Path(__file__).with_suffix(".mjs")
CHROMIUM = Path("/usr/bin/chromium")


def _package(args: argparse.Namespace) -> Path:
    if args.package:
        return args.package.resolve()
    from codegen import churn_package  # the sibling script (benchmarks/ is sys.path[0] when run)

    return churn_package("web-first", ["onnx", "tfjs", "js"])


def _json_line(command: list[str]) -> dict:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def node_figures(package: Path, backends: list[str], records: list[dict], runs: int) -> dict[str, dict[str, float]]:
    figures = {}
    for backend in backends:
        lines = [_json_line(["node", str(DRIVER), "node", str(package), backend, json.dumps(records)]) for _ in range(runs)]
        assert all(line["backend"] == backend for line in lines)
        figures[backend] = {key: statistics.median(line[key] for line in lines)
                            for key in ("load_and_predict_s", "process_s", "records_per_s")}
    floor = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(["node", "-e", ""], check=True)
        floor.append(time.perf_counter() - start)
    figures["node -e '' (wall)"] = {"process_s": statistics.median(floor)}
    return figures


def page_figures(package: Path, backends: list[str], runs: int) -> dict[str, float]:
    server = subprocess.Popen([sys.executable, "-m", "edgepack.toolchain.cli", "serve", str(package), "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        match = re.search(r"at (http://\S+)", server.stdout.readline() if server.stdout else "")
        if not match:
            raise SystemExit("edgepack serve did not start")
        return {b: statistics.median(_json_line(["node", str(DRIVER), "page", match.group(1), b, str(runs)])["first_prediction_s"])
                for b in backends}
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout:
            server.stdout.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--package", type=Path)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--page-runs", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    package = _package(args)
    manifest = json.loads((package / "manifest.json").read_text())
    formats = {a["format"] for a in manifest["artifacts"]}
    if "js" not in formats or "onnx" not in formats:
        raise SystemExit("the package needs js and onnx artifacts: build it with --targets onnx,js (tfjs too for TF.js)")
    backends = ["js", "ort-wasm", *(["tfjs-wasm"] if "tfjs" in formats else [])]
    records = json.loads((package / manifest["golden"]["file"]).read_text())["records"]

    node = node_figures(package, backends, records, args.runs)
    page = page_figures(package, backends, args.page_runs) if CHROMIUM.exists() else {}
    base = node["ort-wasm"]
    print(f"Node, a fresh process per run, medians of {args.runs} ({package})")
    print(f"  {'backend':<18} {'load+predict':>12} {'vs ort-wasm':>11} {'process start->prediction':>26} {'warm records/s':>15}")
    for name, fig in node.items():
        load = fig.get("load_and_predict_s")
        shown = f"{load:10.3f} s {load / base['load_and_predict_s']:11.3f}" if load is not None else f"{'':12} {'':11}"
        warm = f"{fig['records_per_s']:15,.0f}" if "records_per_s" in fig else ""
        print(f"  {name:<18} {shown} {fig['process_s']:24.3f} s {warm}")
    if page:
        print(f"Chromium, the demo page from navigation to its first prediction, medians of {args.page_runs}")
        for name, seconds in page.items():
            print(f"  {name:<18} {seconds:10.3f} s {seconds / page['ort-wasm']:10.3f}")
    else:
        print(f"Chromium: not measured (no {CHROMIUM})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"package": str(package), "node": node, "chromium_page": page}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
