"""Spark ML pipelines saved with `PipelineModel.save(path)`: a directory with metadata/ and stages/.

The reference predictions are Spark's own (`PipelineModel.transform` in a local Spark session that
edgepack starts when it needs one, see converters/spark_session.py): the probability vector and the
prediction for classifiers, the prediction for regressors.

The pipeline is pruned to the stages the final predictor depends on (a label StringIndexer, an
IndexToString after the model, ... are left out), and its input columns are the columns those stages read
that no stage writes. A StringIndexer's input column is a category feature whose categories are the
indexer's labels, in the indexer's order (so a category's index in the manifest equals Spark's index).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...runtime.errors import DataError, ModelError
from . import spark_session

# What the Spark source supports: one readable table (model class name -> role).
SUPPORTED: dict[str, str] = {
    "StringIndexerModel": "transformer",
    "OneHotEncoderModel": "transformer",
    "VectorAssembler": "transformer",
    "StandardScalerModel": "transformer",
    "MinMaxScalerModel": "transformer",
    "ImputerModel": "transformer",
    "Bucketizer": "transformer",
    "LogisticRegressionModel": "classifier",
    "DecisionTreeClassificationModel": "classifier",
    "RandomForestClassificationModel": "classifier",
    "GBTClassificationModel": "classifier",
    "LinearRegressionModel": "regressor",
    "DecisionTreeRegressionModel": "regressor",
    "RandomForestRegressionModel": "regressor",
    "GBTRegressionModel": "regressor",
}


def looks_like_pipeline(path: Path) -> bool:
    """A directory written by `PipelineModel.save`: metadata/ and stages/ side by side."""
    return path.is_dir() and (path / "metadata").is_dir() and (path / "stages").is_dir()


def directory_sha256(path: Path) -> str:
    """One digest over a saved model directory: relative paths and contents, Spark's .crc files left out."""
    digest = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.endswith(".crc")):
        digest.update(str(item.relative_to(path)).encode() + b"\0")
        digest.update(item.read_bytes())
    return digest.hexdigest()


def columns_in(stage: Any) -> list[str]:
    """The columns a stage reads (inputCol or inputCols; featuresCol for a predictor)."""
    if SUPPORTED.get(type(stage).__name__) in ("classifier", "regressor"):
        return [stage.getOrDefault("featuresCol")]
    for name in ("inputCols", "inputCol"):
        if stage.hasParam(name) and stage.isDefined(name):
            value = stage.getOrDefault(name)
            return list(value) if isinstance(value, (list, tuple)) else [value]
    return []


def columns_out(stage: Any) -> list[str]:
    """The columns a stage writes."""
    for name in ("outputCols", "outputCol"):
        if stage.hasParam(name) and stage.isDefined(name):
            value = stage.getOrDefault(name)
            return list(value) if isinstance(value, (list, tuple)) else [value]
    return []


@dataclass
class SparkPlan:
    """What the ONNX lowering and the schema need from a pipeline."""

    stages: list[Any]  # the feature stages the predictor depends on, in pipeline order
    predictor: Any
    inputs: list[str]  # input columns, in first-use order
    categories: dict[str, tuple[list[str], str]] = field(default_factory=dict)  # column -> (labels, handleInvalid)
    stage_dirs: dict[str, Path] = field(default_factory=dict)  # stage uid -> its saved directory


def plan_pipeline(model: Any, path: Path) -> SparkPlan:
    """Prune the pipeline to what its last predictor needs. Raises ModelError naming an unsupported stage."""
    stages = list(getattr(model, "stages", [model]))
    last = max((i for i, s in enumerate(stages) if SUPPORTED.get(type(s).__name__) in ("classifier", "regressor")),
               default=None)
    if last is None:
        names = ", ".join(type(s).__name__ for s in stages)
        raise ModelError(f"the pipeline has no supported classifier or regressor (stages: {names})", where=str(path),
                         fix=f"edgepack supports: {', '.join(SUPPORTED)}")
    predictor = stages[last]
    needed = set(columns_in(predictor))
    kept: list[Any] = []
    for stage in reversed(stages[:last]):
        if needed & set(columns_out(stage)):
            name = type(stage).__name__
            if name not in SUPPORTED:
                raise ModelError(f"unsupported Spark ML stage {name} (uid {stage.uid})", where=str(path),
                                 fix=f"edgepack supports: {', '.join(SUPPORTED)}")
            kept.insert(0, stage)
            needed -= set(columns_out(stage))
            needed |= set(columns_in(stage))
    produced: set[str] = set()
    inputs: list[str] = []
    categories: dict[str, tuple[list[str], str]] = {}
    for stage in kept:
        for col in columns_in(stage):
            if col not in produced and col not in inputs:
                inputs.append(col)
        if type(stage).__name__ == "StringIndexerModel":
            for col, labels in zip(columns_in(stage), stage.labelsArray):
                if col not in produced:
                    categories[col] = ([str(v) for v in labels], stage.getOrDefault("handleInvalid"))
        produced |= set(columns_out(stage))
    if not kept:
        raise ModelError(f"the pipeline's {type(predictor).__name__} reads the vector column "
                         f"{columns_in(predictor)[0]!r} directly", where=str(path),
                         fix="save the whole pipeline, with the stages (e.g. VectorAssembler) that build its features")
    dirs = {}
    stage_root = path / "stages"
    if stage_root.is_dir():
        for item in stage_root.iterdir():
            dirs[item.name.split("_", 1)[1] if "_" in item.name else item.name] = item
    return SparkPlan(kept, predictor, inputs, categories, dirs)


class SparkSource:
    """A fitted Spark ML PipelineModel loaded from its saved directory."""

    framework = "spark"

    def __init__(self, model: Any, path: Path, master: str | None = None) -> None:
        self.model = model
        self.path = path
        self.plan = plan_pipeline(model, path)
        predictor = self.plan.predictor
        self.task = "classification" if SUPPORTED[type(predictor).__name__] == "classifier" else "regression"
        self.classes: list[Any] = []
        if self.task == "classification":
            self.classes = self._class_labels(model, predictor)
        self._reference = None

    @classmethod
    def load(cls, path: Path, master: str | None = None) -> SparkSource:
        """Load with `PipelineModel.load` in a local Spark session (started here when none is active)."""

        spark_session.acquire(master)
        try:
            from pyspark.ml import PipelineModel

            model = PipelineModel.load(str(path.resolve()))
        except Exception as exc:  # py4j wraps the JVM's exceptions
            spark_session.release()
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"Spark cannot load the pipeline: {first}", where=str(path),
                             fix="pass the directory written by PipelineModel.save(path) (Spark 3 or 4)") from exc
        try:
            return cls(model, path, master)
        except Exception:
            spark_session.release()
            raise

    def close(self) -> None:
        """Release the Spark session (stopped when edgepack started it)."""

        if self.model is not None:
            spark_session.release()
            self.model = None

    # -- what the build needs ------------------------------------------------------------------------
    def _class_labels(self, model: Any, predictor: Any) -> list[Any]:
        n = int(predictor.numClasses)
        label_col = predictor.getOrDefault("labelCol")
        for stage in getattr(model, "stages", []):
            if type(stage).__name__ == "StringIndexerModel" and label_col in columns_out(stage):
                labels = stage.labelsArray[columns_out(stage).index(label_col)]
                if len(labels) >= n:
                    return [str(v) for v in labels[:n]]
        if n < 2:
            raise ModelError("a classifier with fewer than two classes cannot be packaged", where=str(self.path))
        return list(range(n))

    def describe(self) -> dict[str, Any]:
        import pyspark

        steps = [type(s).__name__ for s in (*self.plan.stages, self.plan.predictor)]
        return {
            "framework": self.framework,
            "framework_version": pyspark.__version__,
            "estimator": "pyspark.ml.PipelineModel",
            "summary": " > ".join(dict.fromkeys(steps)),
            "family": type(self.plan.predictor).__name__,
        }

    def sha256(self) -> str:
        return directory_sha256(self.path)

    def feature_names(self, sample_columns: list[str]) -> list[str]:
        missing = [c for c in self.plan.inputs if c not in sample_columns]
        if missing:
            raise DataError(f"the sample lacks the pipeline's input columns: {', '.join(missing)}",
                            fix=f"the pipeline reads: {', '.join(self.plan.inputs)}")
        order = {c: i for i, c in enumerate(sample_columns)}
        return sorted(self.plan.inputs, key=order.__getitem__)

    def categories_for(self, name: str) -> list[str] | None:
        """A StringIndexer's labels for an input column (the index order Spark uses)."""
        entry = self.plan.categories.get(name)
        return list(entry[0]) if entry else None

    # -- the reference -------------------------------------------------------------------------------
    def spark_frame(self, frame: Any) -> Any:
        """A pandas frame of features as a Spark DataFrame: categories as strings, numbers as doubles."""
        from pyspark.sql import SparkSession

        spark = SparkSession.getActiveSession()  # the session this source acquired when it loaded
        if spark is None:
            raise ModelError("the Spark source was closed; its session is gone", where=str(self.path))
        return spark.createDataFrame(typed_frame(frame, self.plan), schema=spark_schema(frame.columns, self.plan))

    def transform(self, df: Any) -> Any:
        """The pruned pipeline's transform of a Spark DataFrame (columns added, rows kept in order)."""
        from pyspark.ml import PipelineModel

        if self._reference is None:
            self._reference = PipelineModel(stages=[*self.plan.stages, self.plan.predictor])
        return self._reference.transform(df)

    def output_columns(self) -> tuple[str | None, str]:
        """(probability column or None, prediction column) of the predictor."""
        p = self.plan.predictor
        prob = p.getOrDefault("probabilityCol") if self.task == "classification" else None
        return prob, p.getOrDefault("predictionCol")

    def predict(self, frame: Any) -> dict[str, np.ndarray]:
        """Spark's own outputs for a pandas DataFrame of features: {"probabilities", "label"} or {"value"}."""
        import warnings

        prob_col, pred_col = self.output_columns()
        with warnings.catch_warnings():
            # pyspark repeats a failed job's JVM stack trace as a warning; the exception itself says enough.
            warnings.simplefilter("ignore")
            return self._collect(self.transform(self.spark_frame(frame)), prob_col, pred_col)

    def _collect(self, out: Any, prob_col: str | None, pred_col: str) -> dict[str, np.ndarray]:
        from pyspark.ml.functions import vector_to_array

        if self.task == "classification":
            rows = out.select(vector_to_array(out[prob_col]).alias("p"), out[pred_col].alias("y")).toPandas()
            probs = np.array(rows["p"].tolist(), dtype=np.float64).reshape(len(rows), len(self.classes))
            labels = np.array([self.classes[int(v)] for v in rows["y"]], dtype=object)
            return {"probabilities": probs, "label": labels}
        rows = out.select(out[pred_col].alias("y")).toPandas()
        return {"value": rows["y"].to_numpy(dtype=np.float64)}


def typed_frame(frame: Any, plan: SparkPlan) -> Any:
    """Categories as str (None stays None), everything else float64 (NaN for missing)."""
    import pandas as pd

    data = {}
    for name in frame.columns:
        col = frame[name]
        if name in plan.categories:
            data[name] = col.astype(object).where(col.notna(), None).map(lambda v: v if v is None else str(v))
        else:
            data[name] = pd.to_numeric(col, errors="coerce").astype("float64")
    return pd.DataFrame(data)


def spark_schema(columns: Any, plan: SparkPlan) -> Any:
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType

    return StructType([StructField(str(c), StringType() if c in plan.categories else DoubleType(), True)
                       for c in columns])
