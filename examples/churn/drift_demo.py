"""Drift monitoring on the churn example: an unshifted stream raises no alert, a shifted one does.

The held-out customers are split in two: the first half is the package's drift reference
(`edgepack build --reference-data`, labelled, so the build records AUROC on rows the model never saw),
the second half is what a device scores. The shifted copy of that second half has prices up 25 % and a
contract type the model never saw ("three-year") on a fifth of the customers. Each stream goes through
`edgepack-score --stats`, then `edgepack drift` with the labels that "arrived later".

Example (after `make demo`):
    python examples/churn/drift_demo.py --churn build/churn --out build/churn/drift
Exit 0 when the plain stream raised no alert and the shifted one did; 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

FEATURES = ["tenure_months", "contract", "internet_service", "payment_method", "senior_citizen", "monthly_charges",
            "total_charges", "support_calls", "data_gb"]
BIN = Path(sys.executable).parent


def shifted(frame: pd.DataFrame) -> pd.DataFrame:
    """Prices up 25 % and a new contract type for every fifth customer."""
    out = frame.copy()
    out["monthly_charges"] = (out["monthly_charges"] * 1.25).round(2)
    out["total_charges"] = (out["total_charges"] * 1.25).round(2)
    out.loc[out.index[::5], "contract"] = "three-year"
    return out


def write_jsonl(frame: pd.DataFrame, path: Path) -> None:
    with open(path, "w") as handle:
        for ident, row in zip(frame["id"], frame[FEATURES].to_dict(orient="records")):
            record = {"id": int(ident), **{k: (None if v != v else (v.item() if hasattr(v, "item") else v)) for k, v in row.items()}}
            handle.write(json.dumps(record) + "\n")


def run(cmd: list[str], stdin: Path | None = None, stdout: Path | None = None) -> int:
    print("$", " ".join(str(c) for c in cmd) + (f" < {stdin.name}" if stdin else "") + (f" > {stdout.name}" if stdout else ""),
          flush=True)
    with open(stdin, "rb") if stdin else open("/dev/null", "rb") as src, open(stdout, "wb") if stdout else open("/dev/null", "wb") as dst:
        done = subprocess.run([str(c) for c in cmd], stdin=src, stdout=dst if stdout else None)
    return done.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--churn", type=Path, default=Path("build/churn"), help="folder with churn.joblib, sample.csv, holdout.csv")
    parser.add_argument("--out", type=Path, default=Path("build/churn/drift"), help="work folder (replaced)")
    args = parser.parse_args(argv)
    out = args.out
    shutil.rmtree(out, ignore_errors=True)
    (out / "stats").mkdir(parents=True)
    holdout = pd.read_csv(args.churn / "holdout.csv")
    holdout["id"] = range(len(holdout))
    half = len(holdout) // 2
    reference, stream = holdout.iloc[:half], holdout.iloc[half:]
    reference.drop(columns="id").to_csv(out / "reference.csv", index=False)
    stream[["id", "churn"]].to_csv(out / "labels.csv", index=False)
    write_jsonl(stream, out / "plain.jsonl")
    write_jsonl(shifted(stream), out / "shifted.jsonl")

    code = run([BIN / "edgepack", "build", args.churn / "churn.joblib", "--sample", args.churn / "sample.csv",
                "--reference-data", out / "reference.csv", "--label-column", "churn", "--name", "churn", "-q",
                "-o", out / "package"], stdout=out / "build.txt")
    if code:
        return code
    verdicts = {}
    for name in ("plain", "shifted"):
        run([BIN / "edgepack-score", out / "package", "--id-field", "id", "--stats", out / "stats" / name,
             "--stats-device", f"gateway-{name}", "--quiet"], stdin=out / f"{name}.jsonl", stdout=out / f"{name}.predictions.jsonl")
        verdicts[name] = run([BIN / "edgepack", "drift", out / "package", "--stats", out / "stats" / name,
                              "--labels", out / "labels.csv", "--predictions", out / f"{name}.predictions.jsonl",
                              "--html", out / f"{name}.html", "--json", out / f"{name}.json"])
        print(f"exit {verdicts[name]}\n", flush=True)
    ok = verdicts == {"plain": 0, "shifted": 1}
    print("plain stream: no alert; shifted stream: alert" if ok else f"UNEXPECTED exit codes {verdicts}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
