"""Score a Parquet dataset with a package's ONNX artifact and write the predictions as Parquet.

Each output row holds the id column (--id-column, else `row`: the record's position in the input), the
columns named by --keep-fields, the prediction columns (`label` and `probability_<class>` for classifiers, `value` for regressors) and
`error`: null when the record was scored, else the field that failed and why. No record is dropped.

Engines: `local` streams the input in pyarrow batches through onnxruntime in this process (bounded
memory; OUTPUT is one Parquet file); `spark` scores inside Spark executors with mapInPandas (OUTPUT is a
Parquet directory; --master to use a cluster, default local[2]).

Input contract (as edgepack-score's): columns the model does not use are ignored (--strict refuses
them); a nullable feature's column may be absent (its values are missing).

examples:
  edgepack batch-score build/churn/package --input customers.parquet --output scores.parquet --id-column customer_id
  edgepack batch-score build/churn/package --input customers.parquet --output scores.parquet --keep-fields region,plan
  edgepack batch-score build/churn/package --input data/ --output scores/ --engine spark --master spark://head:7077
  edgepack batch-score build/churn/package --input data/ --output scores/ --engine spark --stats stats/

exit codes: 0 every record scored, 3 some records rejected (see the error column), 2 usage, 4 invalid
package, 6 unusable input.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...runtime.errors import EXIT_OK, EXIT_REJECTED
from ...runtime.table import render_table
from ..batch import local, spark


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("package", type=Path, help="package directory or .edgepack file")
    p.add_argument("--input", required=True, help="Parquet file or directory of Parquet files")
    p.add_argument("--output", required=True, help="Parquet file (local engine) or directory (spark engine)")
    p.add_argument("--engine", choices=sorted(ENGINES), default="local", help="where to score (default local)")
    p.add_argument("--id-column", help="input column copied beside the predictions (default: row position)")
    p.add_argument("--artifact", help="ONNX artifact id (default: the package's default ONNX artifact)")
    p.add_argument("--master", help="Spark master URL for --engine spark (default local[2])")
    p.add_argument("--batch-rows", type=int, default=65536, help="rows per batch (local engine; default 65536)")
    p.add_argument("--keep-fields", metavar="A,B", default="",
                   help="input columns copied beside the id into the output (columns the model does not use "
                        "are otherwise left out)")
    p.add_argument("--strict", action="store_true",
                   help="refuse an input holding columns the model does not use (other than --id-column and "
                        "--keep-fields); default: ignore them")
    p.add_argument("--stats", metavar="DIR", help="count the records in the package's reference bins and write "
                   "window files to DIR for `edgepack drift` (spark: the partitions' counts summed into one window)")
    p.add_argument("--stats-every", metavar="N|SECONDS", help="local engine: a window per N records or duration (default 1h)")
    p.add_argument("--stats-device", metavar="NAME", help="name recorded in the windows (default: this host's name)")


def _keep(args: argparse.Namespace) -> tuple[str, ...]:
    return tuple(f.strip() for f in args.keep_fields.split(",") if f.strip())


def _local(args: argparse.Namespace) -> dict[str, Any]:
    return local.score_parquet(args.package, args.input, args.output, id_column=args.id_column, artifact=args.artifact,
                               batch_rows=args.batch_rows, keep=_keep(args), strict=args.strict, stats=_stats(args))


def _spark(args: argparse.Namespace) -> dict[str, Any]:
    return spark.score_parquet(args.package, args.input, args.output, id_column=args.id_column, artifact=args.artifact,
                               master=args.master, keep=_keep(args), strict=args.strict, stats=_stats(args))


def _stats(args: argparse.Namespace) -> dict[str, Any] | None:
    return {"dir": args.stats, "every": args.stats_every, "device": args.stats_device} if args.stats else None


# engine name -> runner returning {"rows", "rejected", "output"}
ENGINES: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {"local": _local, "spark": _spark}


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    result = ENGINES[args.engine](args)
    seconds = time.perf_counter() - start
    rows = result["rows"]
    print(render_table(["engine", "rows", "scored", "rejected", "seconds", "rows/s"],
                       [[args.engine, rows, rows - result["rejected"], result["rejected"], round(seconds, 2),
                         int(rows / seconds) if seconds > 0 else None]],
                       title=f"predictions written to {result['output']}"))
    if result.get("stats"):
        print(f"statistics: {len(result['stats'])} window file(s) in {args.stats} (edgepack drift reads them)")
    return EXIT_REJECTED if result["rejected"] else EXIT_OK
