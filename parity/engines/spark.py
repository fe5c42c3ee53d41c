"""Parity at scale: the Python-side runners run inside Spark executors (mapInPandas, Arrow batches) over
a whole Parquet dataset, and only mergeable summaries of the comparator's metrics (counts, maxima, sums,
error and score histograms: parity/engines/sketch.py) come back to the driver, one per partition and
artifact x runtime. No data row is collected.

The reference is the model the package was built from: a Spark pipeline runs natively (its own
`transform`, distributed like the data); any other source (a scikit-learn file) is loaded inside the
executors and predicts there. Records the package's schema refuses are counted and left out of the
comparison (Spark would fail the whole job on some of them, e.g. an unknown category).

    result = run_spark_parity(SparkParityOptions(package=Path("pkg"), data="holdout/", reference=Path("model")))
    result.exit_code  # 0 every artifact x runtime passed, 1 otherwise
"""

from __future__ import annotations

import datetime as _dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...converters.sources import load_source, spark_session
from ...converters.sources.sample import records_from_frame
from ...converters.sources.sample import validate_frame as validate
from ...converters.sources.spark import SparkSource, looks_like_pipeline
from ...runtime.errors import EXIT_CHECK_FAILED, EXIT_OK, DataError, EdgepackError, UsageError
from ...runtime.judge import Metrics, ToleranceProfile, judge
from ...runtime.package import Package
from ...runtime.schema import IOSchema
from ...runtime.table import render_table
from ..harness import PairResult, ParityReport
from ..profiles import harness_profile, package_profiles
from ..runners import RUNNERS, runner_class, runners_for
from ..runners.base import InputBatch
from .sketch import Summary

# Runtimes that run inside a Python worker (the others start subprocesses or browsers per call).
DISTRIBUTED_RUNTIMES = ("onnxruntime", "litert")
VALID = "__edgepack_valid"
REF = "__edgepack_reference"
LABEL = "__edgepack_label"


@dataclass
class SparkParityOptions:
    package: Path
    data: str  # Parquet file or directory (any path Spark reads: hdfs://, s3a://, ...)
    reference: Path  # the model the package was built from
    master: str | None = None
    runtimes: list[str] | None = None
    label_column: str | None = None
    tolerance: dict[str, dict[str, Any]] = field(default_factory=dict)  # precision or artifact id -> profile keys
    manifest_tolerances: bool = False  # apply the package's own tolerance_profiles (never by default)


@dataclass
class SparkParityResult:
    package: str
    version: str
    location: str
    data: str
    reference: str
    rows: int
    rejected: int
    results: list[dict[str, Any]]
    notes: list[str]
    seconds: float
    when: str

    @property
    def exit_code(self) -> int:
        checked = [r for r in self.results if r["status"] in ("pass", "fail")]
        return EXIT_OK if checked and all(r["status"] == "pass" for r in checked) else EXIT_CHECK_FAILED

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "passed": self.exit_code == EXIT_OK, "engine": "spark"}


def failures_of(metrics: dict[str, float], profile: dict[str, Any]) -> list[dict[str, Any]]:
    """The one judge's verdict on merged metrics, as the single-machine comparator records its failures."""
    return [f.to_dict() for f in judge(Metrics.from_dict(metrics), ToleranceProfile.from_dict(profile)).failures]


def to_report(result: SparkParityResult, strict: bool = False) -> Any:
    """The run as the single-machine harness's ParityReport, so that the same text, JSON, JUnit and HTML
    reports (and --record) serve both engines. No per-row errors exist here: the quantiles are in the metrics."""

    pairs = []
    for r in result.results:
        pairs.append(PairResult(artifact=r["artifact"], format=r["format"], precision=r["precision"],
                                runtime=r["runtime"], status=r["status"], data=f"{result.data} (Spark)", rows=r["rows"],
                                profile_name=r["profile_name"], profile=r["profile"], metrics=r["metrics"],
                                failures=r["failures"], reason=r.get("reason"), seconds=result.seconds))
    notes = [*result.notes, f"engine spark: {result.rows:,} rows compared, {result.rejected:,} refused by the "
                            f"package's schema, {result.seconds:.1f} s"]
    return ParityReport(result.package, result.version, result.location, f"{result.data} (Spark)", result.reference,
                        notes, pairs, result.when, strict)


def _pairs(package: Any, runtimes: list[str] | None, notes: list[str]) -> list[tuple[Any, str]]:
    wanted = runtimes or list(DISTRIBUTED_RUNTIMES)
    known = [row[0] for row in RUNNERS]
    for name in runtimes or []:
        if name not in known:
            notes.append(f"runtime {name} is not in this edgepack's runners table")
    pairs = []
    for art in package.artifacts():
        for name in runners_for(art.format):
            if name not in wanted:
                continue
            reason = runner_class(name).availability()
            if reason:
                notes.append(f"{art.id} in {name}: unavailable ({reason})")
                continue
            pairs.append((art, name))
    return pairs


class _Records:
    """InputBatch.records built on demand: in-process runners read the columns, not these."""

    def __init__(self, frame: Any, schema: Any) -> None:
        self.frame, self.schema = frame, schema

    def __len__(self) -> int:
        return len(self.frame)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return records_from_frame(self.frame.iloc[i], self.schema)
        return records_from_frame(self.frame.iloc[[i]], self.schema)[0]

    def __iter__(self) -> Any:
        return iter(records_from_frame(self.frame, self.schema))


_WORKER: dict[str, Any] = {}  # per Python worker: the package, runners and a non-Spark reference, loaded once


def _worker_runners(location: str, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    key = ("runners", location, tuple(pairs))
    if key not in _WORKER:
        package = Package.open(location)
        runners = {}
        for art_id, name in pairs:
            runner = runner_class(name)(package, package.artifact(art_id))
            runner.prepare()
            runners[(art_id, name)] = runner
        _WORKER[key] = runners
    return _WORKER[key]


def _worker_reference(model: str) -> Any:
    key = f"reference:{model}"
    if key not in _WORKER:
        _WORKER[key] = load_source(Path(model))
    return _WORKER[key]


def run_spark_parity(opts: SparkParityOptions) -> SparkParityResult:
    """Run every Python-side runtime over the whole dataset on Spark and judge each artifact x runtime on the
    merged metrics. Raises UsageError (no Spark, no reference), DataError (unreadable data, missing columns),
    PackageError (invalid package)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T


    start = time.perf_counter()
    package = Package.open(opts.package)
    manifest = package.manifest
    schema = IOSchema.from_manifest(manifest)
    task = schema.task
    classes = [str(c) for c in schema.classes]
    scale = float(manifest["outputs"].get("value_scale", 1.0)) or 1.0
    if opts.reference is None or not Path(opts.reference).exists():
        raise UsageError(f"no reference model at {opts.reference}",
                         fix="pass the model the package was built from (a Spark pipeline directory or a model file)")
    notes: list[str] = []
    pairs = _pairs(package, opts.runtimes, notes)
    pair_ids = [(art.id, name) for art, name in pairs]
    spark = spark_session.acquire(opts.master)
    try:
        try:
            df = spark.read.parquet(str(opts.data))
        except Exception as exc:  # AnalysisException: missing path, not Parquet
            raise DataError(f"Spark cannot read {opts.data} as Parquet: {str(exc).splitlines()[0]}",
                            where=str(opts.data), fix="pass a Parquet file or directory") from exc
        missing = [n for n in schema.names if n not in df.columns]
        if missing:
            raise DataError(f"the data lacks the model's columns: {', '.join(missing)}", where=str(opts.data),
                            fix=f"the package takes: {', '.join(schema.names)}")
        if opts.label_column and opts.label_column not in df.columns:
            raise DataError(f"no label column {opts.label_column!r} in the data", where=str(opts.data))
        # The columns as stored (decimals read as doubles): the device's record rules judge the values
        # themselves, so a boolean column for a float feature is refused here as the device refuses `true`
        # (a cast to double first would have turned it into 1.0 and let it through).
        stored = dict(df.dtypes)
        columns = [F.col(f.name).cast("double").alias(f.name) if stored[f.name].startswith("decimal")
                   else F.col(f.name) for f in schema.features]
        if opts.label_column and task == "classification":
            columns.append(F.col(opts.label_column).cast("string").alias(LABEL))
        df = df.select(*columns)

        # 1. the package's own validation: refused records are counted, never compared
        rejected = spark.sparkContext.accumulator(0)
        valid_schema = T.StructType([*df.schema.fields, T.StructField(VALID, T.BooleanType())])

        def mark_valid(frames: Any) -> Any:
            for frame in frames:
                _, errors = validate(schema, frame)
                ok = np.equal(errors, None)
                rejected.add(int((~ok).sum()))
                yield frame.assign(**{VALID: ok})

        df = df.mapInPandas(mark_valid, valid_schema).filter(F.col(VALID)).drop(VALID)
        # valid records only from here: categories as strings, numbers as doubles, as the runners take them
        df = df.select(*[F.col(f.name).cast("string" if f.type == "category" else "double").alias(f.name)
                         for f in schema.features], *([LABEL] if LABEL in df.columns else []))

        # 2. the reference: Spark's own transform, or a Python model inside the executors
        native = looks_like_pipeline(Path(opts.reference))
        if native:

            source = SparkSource.load(Path(opts.reference), opts.master)
            try:
                prob_col, pred_col = source.output_columns()
                out = source.transform(df)
                from pyspark.ml.functions import vector_to_array

                ref = vector_to_array(out[prob_col]) if task == "classification" else F.array(out[pred_col])
                df = out.select(*[F.col(c) for c in df.columns], ref.alias(REF))
            finally:
                source.close()
        reference_path = str(Path(opts.reference).resolve())

        # 3. the runners in the executors; one summary per partition and pair
        location = str(Path(opts.package).resolve()) if spark.sparkContext.master.startswith("local") else None
        if location is None:
            spark.sparkContext.addFile(str(Path(opts.package).resolve()), recursive=Path(opts.package).is_dir())
        shipped_name = Path(opts.package).resolve().name
        out_schema = T.StructType([T.StructField("artifact", T.StringType()), T.StructField("runtime", T.StringType()),
                                   T.StructField("summary", T.StringType()), T.StructField("error", T.StringType())])

        def compare_partition(frames: Any) -> Any:
            import pandas as pd

            path = location
            if path is None:
                from pyspark import SparkFiles

                path = SparkFiles.get(shipped_name)
            runners = _worker_runners(path, pair_ids)
            summaries = {pair: Summary() for pair in pair_ids}
            errors: dict[tuple[str, str], str] = {}
            for frame in frames:
                if not len(frame):
                    continue
                features = frame[[f.name for f in schema.features]]
                columns, _ = validate(schema, features)
                if native:
                    want = np.array(frame[REF].tolist(), dtype=np.float64)
                    want = want if task == "classification" else want.reshape(-1)
                else:
                    outputs = _worker_reference(reference_path).predict(_model_frame(features, schema))
                    want = outputs["probabilities" if task == "classification" else "value"]
                labels = None
                if LABEL in frame:
                    index = {c: i for i, c in enumerate(classes)}
                    labels = np.array([index.get(v, -1) if v is not None else -1 for v in frame[LABEL]])
                batch = InputBatch(records=_Records(features, schema), columns=columns)
                for pair in pair_ids:
                    if pair in errors:
                        continue
                    try:
                        got = runners[pair].predict(batch)
                        summaries[pair].add(task, want, got["probabilities" if task == "classification" else "value"],
                                            labels)
                    except Exception as exc:  # a runtime crashing is a result, not a failed job
                        errors[pair] = f"{type(exc).__name__}: {exc}"
            rows = [{"artifact": a, "runtime": r, "summary": json.dumps(summaries[(a, r)].to_row()),
                     "error": errors.get((a, r))} for a, r in pair_ids]
            yield pd.DataFrame(rows, columns=["artifact", "runtime", "summary", "error"])

        partials = df.mapInPandas(compare_partition, out_schema).collect()
        merged = {pair: Summary() for pair in pair_ids}
        crashed: dict[tuple[str, str], str] = {}
        for row in partials:
            pair = (row["artifact"], row["runtime"])
            merged[pair].merge(Summary.from_row(json.loads(row["summary"])))
            if row["error"]:
                crashed[pair] = row["error"]
        results = []
        for art, name in pairs:
            summary = merged[(art.id, name)]
            profile = harness_profile(art.precision, package_profiles(manifest, opts.manifest_tolerances),
                                      opts.tolerance, art.id)
            entry: dict[str, Any] = {"artifact": art.id, "format": art.format, "precision": art.precision,
                                     "runtime": name, "rows": summary.rows, "profile_name": art.precision,
                                     "profile": profile}
            if (art.id, name) in crashed:
                entry.update(status="error", reason=crashed[(art.id, name)], metrics={}, failures=[])
            else:
                metrics = summary.metrics(task, len(classes), scale)
                failures = failures_of(metrics, profile)
                entry.update(status="fail" if failures else "pass", metrics=metrics, failures=failures)
            results.append(entry)
        rows_compared = max((r["rows"] for r in results), default=0)
        return SparkParityResult(package=package.manifest["model"]["name"],
                                 version=str(package.manifest["model"]["version"]), location=str(package.location),
                                 data=str(opts.data),
                                 reference=str(opts.reference), rows=rows_compared, rejected=int(rejected.value),
                                 results=results, notes=notes, seconds=time.perf_counter() - start,
                                 when=_dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat())
    finally:
        spark_session.release()


def _model_frame(features: Any, schema: Any) -> Any:
    """Features as a model file's source expects them (categories as object strings, numbers as float)."""
    frame = features.copy()
    for feat in schema.features:
        if feat.type == "category":
            frame[feat.name] = frame[feat.name].astype(object)
    return frame


def render(result: SparkParityResult) -> str:
    """The run as a table for people, the same columns as the single-machine report's summary."""

    rows = []
    for r in result.results:
        m = r["metrics"]
        err = m.get("max_probability_error", m.get("max_scaled_error"))
        agreement = m.get("label_agreement")
        # six decimals: 17 flipped labels in a million rows must not print as "1"
        rows.append([r["artifact"], r["runtime"], r["rows"], None if agreement is None else f"{agreement:.6f}",
                     m.get("disagreements"), err,
                     m.get("error_q0.999"), r["profile_name"], r["status"].upper() if r["status"] != "pass" else "pass"])
    text = render_table(["artifact", "runtime", "rows", "agreement", "disagreements", "max error", "q99.9 error",
                         "profile", "result"], rows,
                        title=f"parity of {result.package} on {result.data} (Spark; reference {result.reference})")
    lines = [text, f"{result.rejected} records refused by the package's schema (not compared); "
                   f"{result.seconds:.1f} s"]
    for r in result.results:
        for f in r.get("failures", []):
            op = {"<=": ">", ">=": "<"}[f["check"]]
            lines.append(f"  {r['artifact']} in {r['runtime']} fails: {f['metric']} {f['value']:.7g} {op} {f['limit']:.7g}")
        if r["status"] == "error":
            lines.append(f"  {r['artifact']} in {r['runtime']}: error: {r['reason']}")
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`python -m edgepack.parity.engines.spark PACKAGE --data PARQUET --reference MODEL [--master URL]`."""
    import argparse
    import sys


    parser = argparse.ArgumentParser(prog="python -m edgepack.parity.engines.spark",
                                     description="Parity of a package against its model over a whole Parquet "
                                                 "dataset, on Spark.",
                                     epilog="example: python -m edgepack.parity.engines.spark build/churn "
                                            "--data holdout/ --reference churn_model --label-column churn")
    parser.add_argument("package", type=Path)
    parser.add_argument("--data", required=True, help="Parquet file or directory")
    parser.add_argument("--reference", type=Path, required=True, help="the model the package was built from")
    parser.add_argument("--master", help="Spark master URL (default: the active session, else local[2])")
    parser.add_argument("--runtimes", help=f"comma-separated (default: {','.join(DISTRIBUTED_RUNTIMES)})")
    parser.add_argument("--label-column", help="true labels in the data (for the ROC AUC check)")
    parser.add_argument("--json", type=Path, help="write the result as JSON")
    args = parser.parse_args(argv)
    try:
        result = run_spark_parity(SparkParityOptions(
            package=args.package, data=args.data, reference=args.reference, master=args.master,
            runtimes=[r for r in (args.runtimes or "").split(",") if r] or None, label_column=args.label_column))
    except EdgepackError as err:
        print(f"parity: error: {err}", file=sys.stderr)
        return err.exit_code
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(result.as_dict(), indent=2, default=float))
    return result.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
