"""Score five held-out customers with the device runtime's Python API (numpy + onnxruntime only).

Example:
    python examples/churn/score_five.py build/churn/package build/churn/holdout.csv [--jsonl five.jsonl]

--jsonl also writes the five records as JSON lines (with a customer id the model does not use), for
`make demo` to score them in Node with web/bin/score.mjs.
"""

from __future__ import annotations

import csv
import json
import sys

from edgepack.runtime import Scorer
from edgepack.runtime.table import render_table


def main(argv: list[str]) -> int:
    package, holdout = argv[1], argv[2]
    scorer = Scorer.load(package)
    types = {f.name: f.type for f in scorer.schema.features}
    records, truth = [], []
    with open(holdout, newline="") as handle:
        for row in list(csv.DictReader(handle))[:5]:
            truth.append(row.pop("churn"))
            records.append({k: (v if types[k] == "category" else (float(v) if v != "" else None)) for k, v in row.items()})
    predictions = scorer.predict_records(records)
    if "--jsonl" in argv:
        with open(argv[argv.index("--jsonl") + 1], "w") as out:
            out.writelines(json.dumps({"customer_id": f"c{i + 1}", **r}) + "\n" for i, r in enumerate(records))
    rows = [[r["tenure_months"], r["contract"], r["monthly_charges"], p["label"], round(p["probabilities"]["1"], 4), t]
            for r, p, t in zip(records, predictions, truth)]
    print(render_table(["tenure", "contract", "monthly", "predicted", "P(churn)", "actual"], rows,
                       title=f"five customers scored by {scorer.package.name} {scorer.package.version} (onnxruntime)"))
    result = scorer.selftest()
    print(f"self-test: {result.rows} golden rows, label agreement {result.label_agreement:.3f}, "
          f"max error {result.max_error:.2e} -> {'pass' if result.passed else 'FAIL'}")
    return 0 if result.passed else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
