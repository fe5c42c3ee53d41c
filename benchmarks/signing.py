"""What checking a signature costs a device: `edgepack-score` scoring one record with and without
`--trust`, whole process, in turns, medians of --runs (wall time and peak RSS via device_tests/peak.py).

    python benchmarks/signing.py [--package build/churn/package] [--runs 9] [--work build/bench/signing]

Builds nothing but a copy of the package, a key pair and a signature (edgepack keygen / sign). Prints a
table and, with --json, writes the figures. The ratio is the signed run over the unsigned one.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEAK = ROOT / "device_tests" / "peak.py"


def _run(command: list[str], stdin: str, result: Path) -> dict[str, float]:
    done = subprocess.run([sys.executable, str(PEAK), str(result), "--", *command], input=stdin,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stderr}")
    data = json.loads(result.read_text())
    return {"wall_ms": 1000 * data["wall_s"], "peak_mib": data["peak_rss_kib"] / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--package", type=Path, default=ROOT / "build" / "churn" / "package")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "bench" / "signing")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from edgepack.toolchain.cli import main as edgepack

    shutil.rmtree(args.work, ignore_errors=True)
    package = args.work / "package"
    shutil.copytree(args.package, package)
    if edgepack(["keygen", str(args.work / "key")]) or edgepack(["sign", str(package), "--key", str(args.work / "key")]):
        return 1
    golden = json.loads((package / "golden.json").read_text())
    record = json.dumps(golden["records"][0]) + "\n"
    score = [str(Path(sys.executable).parent / "edgepack-score"), str(package)]
    runs: dict[str, list[dict[str, float]]] = {"unsigned check": [], "--trust KEY.pub": []}
    for i in range(args.runs):  # in turns, so that a slow minute hits both
        runs["unsigned check"].append(_run(score, record, args.work / f"a{i}.json"))
        runs["--trust KEY.pub"].append(_run([*score, "--trust", str(args.work / "key.pub")], record, args.work / f"b{i}.json"))
    figures = {name: {k: statistics.median(r[k] for r in rows) for k in ("wall_ms", "peak_mib")} for name, rows in runs.items()}
    base, signed = figures["unsigned check"], figures["--trust KEY.pub"]
    figures["ratio"] = {k: signed[k] / base[k] for k in ("wall_ms", "peak_mib")}
    print(f"edgepack-score, one record, whole process, medians of {args.runs}")
    print(f"{'run':<16} {'wall ms':>8} {'peak MiB':>9}")
    for name in ("unsigned check", "--trust KEY.pub"):
        print(f"{name:<16} {figures[name]['wall_ms']:>8.1f} {figures[name]['peak_mib']:>9.1f}")
    print(f"{'ratio':<16} {figures['ratio']['wall_ms']:>8.2f} {figures['ratio']['peak_mib']:>9.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
