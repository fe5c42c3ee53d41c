"""Batch scoring and parity at scale: Spark local[2] against the single-process path, same data, same run.

Generates N rows (default 2,000,000) of the Spark test zoo's churn-like table as a Parquet directory, fits and packages a
Spark pipeline (StringIndexer + Imputer + VectorAssembler + GBTClassifier, 20 trees of depth 5), then
measures (medians of --repeats runs):
  - `batch-score --engine local`  (pyarrow batches + onnxruntime, one process)   rows/s
  - `batch-score --engine spark`  (mapInPandas in local[2] executors)            rows/s, session already up
  - `parity --engine spark`       (reference = Spark's own transform; onnxruntime in executors)  wall time

    python benchmarks/spark_batch.py --rows 2000000 --repeats 3 --out build/bench-spark
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def generate(rows: int, seed: int, out: Path, files: int = 8) -> Path:
    """`rows` rows of the Spark test zoo's table (tests/spark_zoo.py) with an `id`, in `files` Parquet files."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    import spark_zoo

    out.mkdir(parents=True, exist_ok=True)
    per = -(-rows // files)
    for i in range(files):
        n = min(per, rows - i * per)
        if n <= 0:
            break
        frame = spark_zoo.frame(n, seed + i)[[*spark_zoo.FEATURES, "churn"]]
        frame.insert(0, "id", np.arange(i * per, i * per + n))
        frame.to_parquet(out / f"part-{i:03d}.parquet", index=False)
    return out


def fit_package(spark, data: Path, work: Path) -> tuple[Path, Path]:
    from edgepack.toolchain.build import BuildOptions, build
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import GBTClassifier
    from pyspark.ml.feature import Imputer, StringIndexer, VectorAssembler

    train = spark.read.parquet(str(data)).limit(5000)
    stages = [StringIndexer(inputCols=["plan", "region"], outputCols=["plan_i", "region_i"], handleInvalid="keep"),
              Imputer(inputCols=["usage"], outputCols=["usage_f"]),
              VectorAssembler(inputCols=["usage_f", "calls", "plan_i", "region_i", "spend"], outputCol="features"),
              GBTClassifier(labelCol="churn", maxIter=20, maxDepth=5, seed=1)]
    model_dir = work / "model"
    Pipeline(stages=stages).fit(train).write().overwrite().save(str(model_dir))
    sample = work / "sample.csv"
    train.toPandas().drop(columns=["id"]).to_csv(sample, index=False)
    result = build(BuildOptions(model=model_dir, sample=sample, out=work / "package", label_column="churn",
                                name="bench", quiet=True))
    return model_dir, result.path


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("build/bench-spark"))
    args = parser.parse_args(argv)

    from edgepack.converters.sources import spark_session
    from edgepack.parity.engines.spark import SparkParityOptions, run_spark_parity
    from edgepack.toolchain.batch.local import score_parquet as score_local
    from edgepack.toolchain.batch.spark import score_parquet as score_spark

    shutil.rmtree(args.out, ignore_errors=True)
    start = time.perf_counter()
    data = generate(args.rows, 7, args.out / "data")
    print(f"generated {args.rows:,} rows in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    start = time.perf_counter()
    spark = spark_session.acquire("local[2]")
    print(f"Spark session up in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    model_dir, package = fit_package(spark, data, args.out)

    local = timed(lambda: score_local(package, data, args.out / "local.parquet", id_column="id"), args.repeats)
    distributed = timed(lambda: score_spark(package, str(data), str(args.out / "spark"), id_column="id"), args.repeats)
    results = []
    parity = timed(lambda: results.append(run_spark_parity(SparkParityOptions(
        package=package, data=str(data), reference=model_dir))), max(1, args.repeats - 1))
    spark_session.release()

    lm, sm, pm = statistics.median(local), statistics.median(distributed), statistics.median(parity)
    print(f"rows: {args.rows:,}; machine: {__import__('os').cpu_count()} cores; medians of {args.repeats} runs")
    print("| path | wall (s) | rows/s | vs single process |")
    print("|---|---|---|---|")
    print(f"| batch-score --engine local (one process, onnxruntime 1 thread) | {lm:.1f} | {args.rows / lm:,.0f} | 1.00 |")
    print(f"| batch-score --engine spark (local[2], mapInPandas) | {sm:.1f} | {args.rows / sm:,.0f} | {lm / sm:.2f} |")
    print(f"| parity --engine spark (Spark transform + onnxruntime, metrics merged) | {pm:.1f} | {args.rows / pm:,.0f} | - |")
    last = results[-1]
    r = last.results[0]
    print(f"parity: {r['artifact']} in {r['runtime']}: {r['status']}, rows {r['rows']:,}, "
          f"agreement {r['metrics']['label_agreement']}, max error {r['metrics']['max_probability_error']:.3g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
