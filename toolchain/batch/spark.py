"""The Spark batch-scoring engine: the package's ONNX artifact runs inside the executors (mapInPandas,
Arrow batches), the predictions are written by Spark as a Parquet directory. Nothing is collected to
the driver but two counters.

On a local master the executors read the package from its path; on a cluster it is shipped with
`SparkContext.addFile` (a package is a few files, so this is cheap).
"""

from __future__ import annotations

import copy
import os
import time
from pathlib import Path
from typing import Any

from ...converters.sources import spark_session
from ...runtime.errors import DataError
from ...runtime.profile import empty_window, load_profile, merge_into
from ...runtime.scorer import Scorer
from ...runtime.stats import StatsCollector, write_window
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
                  strict: bool = False, stats: dict[str, Any] | None = None) -> dict[str, Any]:
    """Score every record of the Parquet input into the Parquet directory `output` on Spark.
    Returns {"rows", "rejected", "output"}. With `stats` ({"dir", "device"}) every partition counts its
    records in the package's reference bins, a Spark accumulator sums the partitions' windows (exact:
    sums of counts) and the driver writes one window file ("stats": [its path])."""
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
        profile = load_profile(scorer.package) if stats else None
        windows = spark.sparkContext.accumulator(empty_window(profile), _WindowSum()) if profile else None
        started = time.time()

        def score_partition(frames: Any) -> Any:
            executor = executor_scorer(location, shipped, art_id)
            counter = StatsCollector(executor.package, None, every=None) if windows is not None else None
            for frame in frames:
                out = score_frame(executor, frame, layout, frame[id_name].to_numpy(), counter)
                rows_seen.add(len(out))
                rejected.add(int(out["error"].notna().sum()))
                yield out
            if counter is not None and windows is not None:
                windows.add(counter.window())

        df.mapInPandas(score_partition, schema).write.mode("overwrite").parquet(str(output))
        result = {"rows": rows_seen.value, "rejected": rejected.value, "output": str(output)}
        if windows is not None and stats is not None:
            total = windows.value
            meta = StatsCollector(scorer.package, None, every=None, device=stats.get("device")).window()
            window = {**meta, **{k: total[k] for k in ("records", "scored", "rejected", "rejected_by_field",
                                                         "features", "outputs")}}
            window["start"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))
            os.makedirs(stats["dir"], exist_ok=True)
            result["stats"] = [write_window(stats["dir"], window, started)]
        return result
    finally:
        spark_session.release()


class _WindowSum:
    """Spark AccumulatorParam: windows add up bin by bin (runtime/profile.py merge_into)."""

    def zero(self, value: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(value)  # the initial value is the profile's empty window

    def addInPlace(self, total: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 (Spark's name)
        merge_into(total, part)
        return total


def _arrow_type(spark_type: Any) -> Any:
    from pyspark.sql.pandas.types import to_arrow_type

    return to_arrow_type(spark_type)
