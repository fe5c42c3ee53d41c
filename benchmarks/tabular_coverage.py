"""How much of the tabular zoo reaches each format: issue 18's "case x format cells that build and pass".

For every case of tests/tabular_zoo.py (real data sets bundled with scikit-learn, held-out rows with
missing values and unseen categories; XGBoost, LightGBM, CatBoost and the scikit-learn families), saved
as its user would save it (joblib or the library's own file), and for each format: `edgepack build
--targets FORMAT` through the Python API, then `edgepack parity` on the case's held-out rows against the
original model with the default profiles. A cell counts as passing when the build keeps the format's
float32 artifact and the gate passes for it in every runtime here that runs it. Every refusal is listed
with its message, so a reader can check that each names the estimator, the format and the reason.

usage: python benchmarks/tabular_coverage.py [--formats onnx,coreml,tflite,tfjs] [--cases a,b] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

FORMATS = ["onnx", "coreml", "tflite", "tfjs"]


def all_cases() -> list[str]:
    import tabular_zoo as zoo

    return [*zoo.BOOSTING, *zoo.SKLEARN, *zoo.CATEGORIES, *zoo.HGB_NATIVE]


def cell(case_name: str, fmt: str, work: Path) -> dict:
    """Build one case to one format and gate it on the held-out rows: {status, detail, seconds}."""
    import tabular_zoo as zoo
    from edgepack.runtime.errors import EdgepackError
    from edgepack.toolchain import api

    start = time.perf_counter()
    case = zoo.get(case_name)
    model_path, sample_path = zoo.save(case, work / case_name)
    out = work / case_name / fmt
    try:
        built = api.build(model_path, sample_path, out, label_column=zoo.LABEL, targets=[fmt])
    except EdgepackError as exc:
        return {"status": "refused", "detail": str(exc).splitlines()[0], "seconds": time.perf_counter() - start}
    ids = [a["id"] for a in built.manifest["artifacts"]]
    if fmt not in ids:
        return {"status": "dropped", "detail": f"the build kept {ids}", "seconds": time.perf_counter() - start}
    try:
        report = api.parity(out, reference=model_path, data=case.holdout, label_column=zoo.LABEL)
    except EdgepackError as exc:
        return {"status": "parity error", "detail": str(exc).splitlines()[0], "seconds": time.perf_counter() - start}
    mine = [r for r in report.results if r.artifact == fmt and r.status != "unavailable"]
    failed = [r.summary() for r in mine if not r.passed]
    status = "pass" if mine and not failed else ("unverified" if not mine else "fail")
    detail = "; ".join(failed) if failed else ", ".join(sorted(r.runtime for r in mine))
    return {"status": status, "detail": detail, "seconds": time.perf_counter() - start}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--cases", default="")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    formats = args.formats.split(",")
    cases = args.cases.split(",") if args.cases else all_cases()
    results: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, name in enumerate(cases, 1):
            results[name] = {}
            for fmt in formats:
                results[name][fmt] = cell(name, fmt, Path(tmp))
                r = results[name][fmt]
                print(f"[{i}/{len(cases)}] {name} {fmt}: {r['status']} ({r['seconds']:.0f} s) {r['detail'][:160]}",
                      file=sys.stderr, flush=True)
    cells = [r for row in results.values() for r in row.values()]
    passed = sum(r["status"] == "pass" for r in cells)
    print(f"| case | {' | '.join(formats)} |")
    print(f"|---|{'---|' * len(formats)}")
    for name, row in results.items():
        print(f"| {name} | {' | '.join(row[f]['status'] for f in formats)} |")
    for fmt in formats:
        n = sum(results[c][fmt]["status"] == "pass" for c in results)
        print(f"\n{fmt}: {n}/{len(results)} cases pass", end="")
    print(f"\n\ncells passing: {passed}/{len(cells)} = {100 * passed / max(1, len(cells)):.1f} %")
    print("\nNot passing (status: message):")
    for name, row in results.items():
        for fmt, r in row.items():
            if r["status"] != "pass":
                print(f"- {name} x {fmt}: {r['status']}: {r['detail']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
