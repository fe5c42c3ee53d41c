"""Speed of edgepack-web's Node scoring CLI against the Python device scorer, measured in one run.

    python benchmarks/web_scoring.py [--rows 20000] [--repeats 5] [--fixtures build/web-fixtures]

Each engine scores the same JSON lines as a whole process (start, verify the package, load the artifact,
validate, score, write JSON lines), once with 1 record (the fixed cost) and once with --rows records
(throughput). The baseline is the Python scorer (edgepack.runtime.Scorer, onnxruntime) run the same way;
results are medians of --repeats runs and ratios against that baseline. The package is the web tests'
fixture (logistic regression on 9 features: ONNX artifact + a small TF.js graph model).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"

# The Python baseline: what a device does with edgepack.runtime (records in as JSON lines, JSON lines out).
PYTHON_SCORER = """
import json, sys
from edgepack.runtime import Scorer
scorer = Scorer.load(sys.argv[1])
records = [json.loads(line) for line in sys.stdin if line.strip()]
out = sys.stdout
for start in range(0, len(records), 512):
    kept, predictions, rejections = scorer.score(records[start:start + 512], start=start)
    out.write("".join(json.dumps(p) + "\\n" for p in predictions))
"""


def engines(package: Path) -> dict[str, list[str]]:
    score = ["node", str(WEB / "bin" / "score.mjs"), str(package)]
    return {
        "python onnxruntime (baseline)": [sys.executable, "-c", PYTHON_SCORER, str(package)],
        "node ort-wasm": [*score, "--backend", "ort-wasm"],
        "node tfjs-wasm": [*score, "--backend", "tfjs-wasm"],
        "node tfjs-cpu": [*score, "--backend", "tfjs-cpu"],
    }


def timed(command: list[str], stdin: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run(command, input=stdin, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{command[:3]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--fixtures", type=Path, default=ROOT / "build" / "web-fixtures")
    args = parser.parse_args()
    subprocess.run([sys.executable, str(WEB / "test" / "fixtures" / "make_fixtures.py"), str(args.fixtures)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    expected = json.loads((args.fixtures / "expected.json").read_text())
    package = Path(expected["clf"]["package"])
    records = expected["clf"]["records"][:128]
    many = "".join(json.dumps(records[i % len(records)]) + "\n" for i in range(args.rows))
    one = json.dumps(records[0]) + "\n"

    results: dict[str, tuple[float, float]] = {}
    for name, command in engines(package).items():
        startup = statistics.median(timed(command, one) for _ in range(args.repeats))
        bulk = statistics.median(timed(command, many) for _ in range(args.repeats))
        results[name] = (startup, bulk)
    base_startup, base_bulk = results["python onnxruntime (baseline)"]
    print(f"{args.rows} records, medians of {args.repeats} runs, whole processes\n")
    print(f"| engine | 1 record (s) | ratio | {args.rows} records (s) | ratio | records/s after start-up |")
    print("|---|---|---|---|---|---|")
    for name, (startup, bulk) in results.items():
        rate = args.rows / max(bulk - startup, 1e-9)
        print(f"| {name} | {startup:.2f} | {startup / base_startup:.2f} | {bulk:.2f} | {bulk / base_bulk:.2f} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
