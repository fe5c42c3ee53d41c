"""The Spark batch-scoring engine: the package's ONNX artifact runs inside the executors (mapInPandas,
Arrow batches), the predictions are written by Spark as a Parquet directory. Nothing is collected to
the driver but two counters.

On a local master the executors read the package from its path; on a cluster it is shipped with
`SparkContext.addFile` (a package is a few files, so this is cheap).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...converters.sources import spark_session
from ...runtime.errors import DataError
from ...runtime.scorer import Scorer
from .frames import ROW_COLUMN, check_columns, input_columns, layout_for, score_frame

_SCORERS: dict[tuple[str, str | None], Any] = {}  # per Python worker: loaded once, reused by every partition


def package_on_executors(spark: Any, package: Path) -> tuple[str, bool]:
    """(path or SparkFiles name, shipped?) for the executors to open the package."""
    master = spark.sparkContext.master
    if master.startswith("local"):
        return str(package.resolve()), False
    spark.sparkContext.addFile(str(package.resolve()), recursive=package.is_dir())
    return package.resolve().name, True


def executor_scorer(location: str, shipped: bool, artifact: str | None) -> Any:
    """The scorer inside an executor's Python worker (cached across partitions)."""

    key = (location, artifact)
    if key not in _SCORERS:
        path = location
        if shipped:
            from pyspark import SparkFiles

            path = SparkFiles.get(location)
        _SCORERS[key] = Scorer.load(path, artifact=artifact)
    return _SCORERS[key]


def score_parquet(package: str | Path, input_path: str, output: str, id_column: str | None = None,
                  artifact: str | None = None, master: str | None = None, keep: tuple[str, ...] = (),
                  strict: bool = False) -> dict[str, Any]:
    """Score every record of the Parquet input into the Parquet directory `output` on Spark.
    Returns {"rows", "rejected", "output"}."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema


    package = Path(package)
    scorer = Scorer.load(package, artifact=artifact)  # fail early, in the driver, on a bad package
    layout = layout_for(scorer, id_column, keep)
    spark = spark_session.acquire(master)
    try:
        try:
            df = spark.read.parquet(str(input_path))
        except Exception as exc:  # Spark's AnalysisException: path missing, not Parquet
            raise DataError(f"Spark cannot read {input_path} as Parquet: {str(exc).splitlines()[0]}",
                            where=str(input_path), fix="pass a Parquet file or directory") from exc
        check_columns(scorer.schema, df.columns, str(input_path), id_column, keep, strict)
        id_name = id_column or ROW_COLUMN
        wanted = input_columns(scorer.schema, df.columns, id_column, layout.keep)
        df = df.select(*wanted)
        if not id_column:
            df = df.withColumn(ROW_COLUMN, F.monotonically_increasing_id())
        arrow_id = _arrow_type(df.schema[id_name].dataType)
        schema = from_arrow_schema(layout.arrow_schema(arrow_id, {k: _arrow_type(df.schema[k].dataType)
                                                                  for k in layout.keep}))
        location, shipped = package_on_executors(spark, package)
        rows_seen = spark.sparkContext.accumulator(0)
        rejected = spark.sparkContext.accumulator(0)
        art_id = scorer.artifact.id

        def score_partition(frames: Any) -> Any:
            executor = executor_scorer(location, shipped, art_id)
            for frame in frames:
                out = score_frame(executor, frame, layout, frame[id_name].to_numpy())
                rows_seen.add(len(out))
                rejected.add(int(out["error"].notna().sum()))
                yield out

        df.mapInPandas(score_partition, schema).write.mode("overwrite").parquet(str(output))
        return {"rows": rows_seen.value, "rejected": rejected.value, "output": str(output)}
    finally:
        spark_session.release()


def _arrow_type(spark_type: Any) -> Any:
    from pyspark.sql.pandas.types import to_arrow_type

    return to_arrow_type(spark_type)
