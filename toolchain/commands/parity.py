"""Run every artifact of a package in every runtime that can run it, compare with the original model
under the tolerance profiles, explain failures, and gate CI.

examples:
  edgepack parity build/churn --reference churn.joblib
  edgepack parity build/churn --reference churn.joblib --data holdout.csv --label-column churn \\
      --json parity.json --junit parity.xml --html parity.html
  edgepack parity build/churn --reference churn.joblib --runtimes onnxruntime,onnx-reference --rows 2000 --seed 7
  edgepack parity build/churn.edgepack            # golden vectors only: no model needed
  edgepack parity build/churn --reference churn.joblib --tolerance float16:max_probability_error=0.02 --record
  edgepack parity build/churn --reference spark_model_dir --data holdout_parquet/ --engine spark [--master URL]
  edgepack parity build/digits/package --reference digits.keras --data holdout.npz --html parity.html
  edgepack parity build/cnn/package --reference cnn.onnx --data pictures/ --runtimes onnxruntime,tflite

--engine spark runs the Python-side runtimes inside Spark executors over the whole --data (Parquet file or
directory, any path Spark reads), with the model as reference (a Spark pipeline runs its own transform),
and merges the metrics without collecting rows (docs/spark.md).

Tensor packages (images, sequences: format version 2) are compared on top-1/top-5 agreement, max absolute
error and cosine similarity (profile keys min_top1_agreement, min_top5_agreement, max_abs_error,
min_cosine); the HTML report shows the worst inputs, pictures included.

Without --reference the artifacts are compared with the golden vectors only (the build stored the model's
outputs for them). Tolerances: the defaults per precision (docs/parity.md), overridden by --tolerance
SCOPE:KEY=VALUE (SCOPE a precision or an artifact id; KEY a profile key or OUTPUT.atol / .rtol / .statistic
/ .q) or --tolerance FILE.json. The package's own tolerance_profiles are ignored: a package never grades
itself (a manifest that loosens them must not pass a swapped model). --manifest-tolerances applies them
when you trust the package's author; --tolerance still wins over them.

exit codes: 0 every artifact x runtime passed, 1 any failed or its runner crashed (or, with --strict, a
runtime was unavailable), 2 usage error, 4 invalid package, 5 unusable --reference model, 6 unusable holdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ...parity.engines.spark import SparkParityOptions, run_spark_parity, to_report
from ...parity.harness import ParityOptions, run_parity
from ...parity.profiles import load_overrides
from ...parity.report_html import write_html
from ...parity.report_junit import write_junit
from ...parity.report_text import render, write_json
from ...parity.runners import RUNNERS
from ...runtime.errors import UsageError
from ...runtime.package import Package
from ...runtime.tensors import is_tensor_package
from ..live import third_party_output_captured
from ..record import record


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("package", type=Path, help="package directory or .edgepack file")
    p.add_argument("--data", type=Path, metavar="HOLDOUT", help="holdout rows (CSV or Parquet; a tensor package: .npz or a folder of pictures); "
                   "default: generated rows (tensor packages: the golden inputs only)")
    p.add_argument("--reference", type=Path, metavar="MODEL", help="the trained model the package was built from")
    p.add_argument("--label-column", metavar="NAME", help="true labels in the holdout (for the ROC AUC check)")
    p.add_argument("--runtimes", metavar="A,B", help=f"runtimes to run (default all): {', '.join(r[0] for r in RUNNERS)}")
    p.add_argument("--rows", type=int, default=500, metavar="N",
                   help="rows to generate from the schema when --reference is given without --data (default 500)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed for generated rows (default 0)")
    p.add_argument("--tolerance", action="append", default=[], metavar="SCOPE:KEY=VALUE|FILE.json",
                   help="override a tolerance (repeatable)")
    p.add_argument("--manifest-tolerances", action="store_true",
                   help="apply the tolerance_profiles of the package's manifest (default: ignored, a package never "
                        "grades itself; use only for a package whose author you trust)")
    p.add_argument("--strict", action="store_true", help="an unavailable runtime fails the gate too")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the full report as JSON")
    p.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML (one case per artifact x runtime)")
    p.add_argument("--html", type=Path, metavar="FILE", help="write a self-contained HTML report with plots")
    p.add_argument("--record", action="store_true", help="write the results into the package manifest's parity list")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="show what the runtimes print (TensorFlow Lite, absl...); by default it goes to a log file, "
                        "kept and named when the run fails")
    p.add_argument("--engine", choices=sorted(ENGINES), default="local",
                   help="local: this process, on --data or generated rows; spark: the whole --data on Spark")
    p.add_argument("--master", metavar="URL", help="Spark master for --engine spark (default local[2])")


def run(args: argparse.Namespace) -> int:
    if args.rows < 0:
        raise UsageError(f"--rows must be 0 or more, got {args.rows}")
    try:
        overrides = load_overrides(args.tolerance)
    except ValueError as exc:
        raise UsageError(str(exc), where="--tolerance", fix="e.g. --tolerance float32:max_probability_error=1e-4") from exc
    runtimes = [r.strip() for r in args.runtimes.split(",") if r.strip()] if args.runtimes else None
    with third_party_output_captured(args.verbose):
        report = ENGINES[args.engine](args, overrides, runtimes)
    print(render(report))
    scale = _scale(report)
    for path, write in ((args.json, write_json), (args.junit, write_junit)):
        if path is not None:
            write(report, path)
            print(f"{'JSON' if write is write_json else 'JUnit'} report written to {path}", file=sys.stderr)
    if args.html is not None:
        write_html(report, args.html, scale)
        print(f"HTML report written to {args.html}", file=sys.stderr)
    if args.record:

        record(report, overridden=bool(overrides))
        print(f"recorded {sum(r.status != 'unavailable' for r in report.results)} results in {report.location}",
              file=sys.stderr)
    return report.exit_code


def _local(args: argparse.Namespace, overrides: dict, runtimes: list[str] | None) -> object:
    if args.label_column and args.data is None:
        raise UsageError("--label-column names a column of the holdout", where="--label-column",
                         fix="pass --data HOLDOUT with that column as well")
    if args.data is not None and not args.data.exists():
        raise UsageError(f"no holdout at {args.data}", where="--data",
                         fix="pass a CSV or Parquet file (a tensor package: an .npz file or a folder of pictures)")
    return run_parity(ParityOptions(package=args.package, data=args.data, reference=args.reference, runtimes=runtimes,
                                    rows=args.rows, seed=args.seed, label_column=args.label_column,
                                    tolerance=overrides, strict=args.strict, quiet=args.quiet,
                                    manifest_tolerances=args.manifest_tolerances))


def _spark(args: argparse.Namespace, overrides: dict, runtimes: list[str] | None) -> object:
    if is_tensor_package(Package.open(args.package).manifest):
        raise UsageError("--engine spark runs tabular packages", where="--engine",
                         fix="run a tensor package's parity with the local engine (the default)")
    if args.data is None or args.reference is None:
        raise UsageError("--engine spark compares the whole --data with the --reference model",
                         fix="pass --data PARQUET_DIR and --reference MODEL")
    result = run_spark_parity(SparkParityOptions(package=args.package, data=str(args.data), reference=args.reference,
                                                 master=args.master, runtimes=runtimes, label_column=args.label_column,
                                                 tolerance=overrides, manifest_tolerances=args.manifest_tolerances))
    return to_report(result, strict=args.strict)


# engine -> (args, tolerance overrides, runtimes) -> ParityReport
ENGINES = {"local": _local, "spark": _spark}


def _scale(report: object) -> float:
    return float(Package.open(report.location).manifest["outputs"].get("value_scale", 1.0)) or 1.0  # type: ignore[attr-defined]
