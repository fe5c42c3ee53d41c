"""Compare what devices saw with the package's reference profile: per feature PSI, Jensen-Shannon
distance, chi-square and KS-style tests on the binned counts; output shift; and, once labels arrive,
AUROC, average precision and accuracy against the build-time values, with 95 % intervals.

The statistics are the window files `edgepack-score PACKAGE --stats DIR` writes (any number, from any
number of devices: they merge exactly). Alerts are thresholds on those figures; exit 1 when one fires.

examples:
  edgepack drift build/churn/package --stats stats/
  edgepack drift churn.edgepack --stats gw1/*.stats.json gw2/*.stats.json --by device --html drift.html
  edgepack drift churn.edgepack --stats stats/ --labels labels.csv --predictions predictions.jsonl \\
      --alert 'psi>0.2' --alert 'auroc_drop>0.05' --json drift.json

default alerts: psi>0.2 output_psi>0.2 unseen>0.01 rejected_rate>0.05 auroc_drop>0.05
(quote each --alert: an unquoted > is the shell's redirection)
exit codes: 0 no alert, 1 an alert fired, 2 usage error, 4 invalid package, 6 unusable statistics or labels
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ...runtime.errors import EXIT_CHECK_FAILED, EXIT_OK, PackageError, UsageError
from ...runtime.package import Package
from ...runtime.profile import load_profile
from ..drift import spark_engine
from ..drift.alerts import DEFAULT_ALERTS, FIGURES, parse_alert
from ..drift.compute import drift_report, jsonable
from ..drift.labels import current_performance, join, read_labels
from ..drift.report_html import write_html
from ..drift.report_text import text_report
from ..drift.windows import GROUPINGS, read_windows


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("package", type=Path, help="package directory or .edgepack file (the version that scored)")
    p.add_argument("--stats", type=Path, nargs="+", required=True, metavar="FILE|DIR",
                   help="window files written by edgepack-score --stats (a folder: its *.stats.json)")
    p.add_argument("--labels", type=Path, metavar="FILE", help="labels that arrived later: CSV or JSON lines of id, label")
    p.add_argument("--predictions", type=Path, nargs="+", metavar="FILE",
                   help="the scorer's output lines (with --id-field) to join the labels to")
    p.add_argument("--id-field", default="id", metavar="NAME", help="id column of the labels and predictions (default id)")
    p.add_argument("--label-column", metavar="NAME", help="label column of --labels (default: label, or the other column)")
    p.add_argument("--by", choices=GROUPINGS, help="also report each device or each day (window start, UTC)")
    p.add_argument("--alert", action="append", metavar="FIGURE>VALUE",
                   help=f"alert threshold, repeatable (default: {' '.join(DEFAULT_ALERTS)}); figures: {', '.join(FIGURES)}")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the full report as JSON ('-': stdout, no text)")
    p.add_argument("--html", type=Path, metavar="FILE", help="write a self-contained HTML report with plots")
    p.add_argument("--engine", choices=("local", "spark"), default="local",
                   help="where the windows are merged and the labels joined: this process (default) or Spark")
    p.add_argument("--master", help="Spark master URL for --engine spark (default local[2])")


def run(args: argparse.Namespace) -> int:
    alerts = [parse_alert(a) for a in (args.alert or DEFAULT_ALERTS)]
    if args.labels and not args.predictions:
        raise UsageError("--labels needs --predictions: the labels are joined by id to the scorer's output lines",
                         fix="add --predictions PREDICTIONS.jsonl (edgepack-score --id-field ID writes them)")
    package = Package.open(args.package)
    try:
        profile = load_profile(package)
    except KeyError:
        raise PackageError(f"package {package.name} {package.version} has no reference profile", where=str(args.package),
                           fix="rebuild it with edgepack build (packages carry profile.json since issue 20)") from None
    profile_sha = package.manifest["reference_profile"]["sha256"]
    if args.engine == "spark":
        windows = spark_engine.merged_windows(args.stats, profile, profile_sha, args.master)
    else:
        windows = read_windows(args.stats, profile_sha, package.name)
    performance = None
    if args.labels:
        if package.task != "classification":
            raise UsageError("--labels: labelled performance is computed for classifiers only")
        classes = list(package.manifest["outputs"]["classes"])
        if args.engine == "spark":
            joined = spark_engine.joined(args.labels, args.predictions, classes, args.id_field, args.label_column,
                                         args.master)
        else:
            joined = join(read_labels(args.labels, args.id_field, args.label_column), args.predictions, classes,
                          args.id_field)
        performance = current_performance(joined)
    report = jsonable(drift_report(profile, windows.items, alerts, args.by, performance,
                                   {"name": package.name, "version": package.version}))
    report["files"] = windows.files
    if args.json is not None and str(args.json) == "-":
        print(json.dumps(report, indent=1))
    else:
        print(text_report(report))
        if args.json is not None:
            args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    if args.html is not None:
        write_html(report, args.html)
    return EXIT_CHECK_FAILED if report["alerted"] else EXIT_OK
