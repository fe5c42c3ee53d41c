"""Spark ML pipelines as Core ML classic pipelines: one named input per column (Double, or String for a
StringIndexer's input) -> one model per feature stage (the STAGES table) -> the predictor, with Spark's own
arithmetic in double: StringIndexer as CategoricalMapping (unknown -> Spark's extra index under "keep"),
OneHotEncoder over the indices, Imputer, StandardScaler as Scaler((x - mean) * (1 / std), exactly
Spark's), MinMaxScaler as two Scalers ((x - min) * scale, then + low), VectorAssembler as FeatureVectorizer.
Predictors: GLMClassifier/GLMRegressor, NeuralNetworkClassifier (softmax) for multinomial logistic
regression, TreeEnsemble* from the Spark trees read into the one tree reader's Ensemble
(sources/spark_trees.py): Spark and Core ML both compare doubles, so the thresholds go in as saved, and
category sets become equality chains (sklearn_4_trees.py). Only the float32 artifact (no neural variants).
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np

from ....runtime.errors import ModelError
from ...sources.spark import columns_in, columns_out
from ...sources.spark_trees import TREE_MODELS, read
from ..base import Artifact
from .proto import feature, model
from .sklearn_1_artifacts import entry_for
from .sklearn_2_pipeline import SpecPipeline, Vector, _scaler, finish
from .sklearn_3_final_model import linear_regression, logistic_regression
from .sklearn_4_trees import ensemble_model

Part = tuple[str, str, int]  # (feature name, kind, dim): a FeatureVectorizer input
Pool = dict[str, list[Part]]


def _vector(values: Any) -> np.ndarray:
    return np.asarray(values.toArray() if hasattr(values, "toArray") else values, dtype=np.float64).reshape(-1)


def _refuse(what: str) -> ModelError:
    return ModelError(f"the Core ML target cannot express the Spark stage {what}", fix="use the ONNX target for this pipeline")


def _as_vector(pipe: SpecPipeline, parts: list[Part]) -> Vector:
    if len(parts) == 1 and parts[0][1] == "array":
        return Vector(parts[0][0], parts[0][2])
    return pipe.vectorize(parts)


def _string_indexer(pipe: SpecPipeline, stage: Any, pool: Pool) -> None:
    keep = stage.getOrDefault("handleInvalid") == "keep"
    for name, out, labels in zip(columns_in(stage), columns_out(stage), stage.labelsArray):
        m = model([feature(name, "string")], [feature(pipe.fresh("index"), "int64")])
        for i, label in enumerate(labels):
            m.categoricalMapping.stringToInt64Map.map[str(label)] = i
        # "keep": Spark's extra index; "error": the package's record check refuses unknown categories first
        m.categoricalMapping.int64Value = len(labels) if keep else -1
        pipe.models.append(m)
        pool[out] = [(m.description.output[0].name, "int64", 1)]


def _one_hot_encoder(pipe: SpecPipeline, stage: Any, pool: Pool) -> None:
    if stage.getOrDefault("handleInvalid") == "keep":
        raise _refuse("OneHotEncoder(handleInvalid='keep')")
    drop_last = bool(stage.getOrDefault("dropLast"))
    for name, out, size in zip(columns_in(stage), columns_out(stage), stage.categorySizes):
        ((src, kind, _),) = pool[name]
        if kind != "int64":
            raise _refuse(f"OneHotEncoder {stage.uid} on a column that is not a StringIndexer's output")
        width = int(size) - (1 if drop_last else 0)
        m = model([feature(src, "int64")], [feature(pipe.fresh("onehot"), "array", width)])
        # dropLast: the last index is left out of the categories, and an index not listed gives zeros
        m.oneHotEncoder.int64Categories.vector.extend(range(width))
        m.oneHotEncoder.outputSparse = False
        m.oneHotEncoder.handleUnknown = m.oneHotEncoder.HandleUnknown.IgnoreUnknown
        pipe.models.append(m)
        pool[out] = [(m.description.output[0].name, "array", width)]


def _vector_assembler(pipe: SpecPipeline, stage: Any, pool: Pool) -> None:
    pool[columns_out(stage)[0]] = [p for name in columns_in(stage) for p in pool[name]]


def _imputer(pipe: SpecPipeline, stage: Any, pool: Pool) -> None:
    if not np.isnan(float(stage.getOrDefault("missingValue"))):
        raise _refuse("Imputer with a missingValue other than NaN")
    surrogates = stage.surrogateDF.collect()[0].asDict()
    for name, out in zip(columns_in(stage), columns_out(stage)):
        m, vec = pipe.array_step("imputed", _as_vector(pipe, pool[name]))
        m.imputer.imputedDoubleArray.vector.append(float(surrogates[name]))
        m.imputer.replaceDoubleValue = float("nan")
        pool[out] = [(vec.name, "array", vec.dim)]


def _standard_scaler(pipe: SpecPipeline, stage: Any, pool: Pool) -> None:
    src = _as_vector(pipe, pool[columns_in(stage)[0]])
    mean = _vector(stage.mean) if stage.getOrDefault("withMean") else np.zeros(src.dim)
    std = _vector(stage.std)
    inv = np.where(std != 0, 1.0 / np.where(std != 0, std, 1.0), 0.0) if stage.getOrDefault("withStd") else np.ones(src.dim)
    out = _scaler(pipe, src, -mean, inv)
    pool[columns_out(stage)[0]] = [(out.name, "array", out.dim)]


def _min_max_scaler(pipe: SpecPipeline, stage: Any, pool: Pool) -> None:
    src = _as_vector(pipe, pool[columns_in(stage)[0]])
    lo, hi = float(stage.getOrDefault("min")), float(stage.getOrDefault("max"))
    omin, omax = _vector(stage.originalMin), _vector(stage.originalMax)
    if np.any(omax == omin):
        raise _refuse("MinMaxScaler over a constant column (Spark writes the range's middle there)")
    scaled = _scaler(pipe, src, -omin, (hi - lo) / (omax - omin))
    out = _scaler(pipe, scaled, np.full(src.dim, lo), np.ones(src.dim))
    pool[columns_out(stage)[0]] = [(out.name, "array", out.dim)]


# Spark feature stage -> rule(pipe, stage, pool) adding its output to the pool
STAGES: dict[str, Callable[[SpecPipeline, Any, Pool], None]] = {
    "StringIndexerModel": _string_indexer,
    "OneHotEncoderModel": _one_hot_encoder,
    "VectorAssembler": _vector_assembler,
    "ImputerModel": _imputer,
    "StandardScalerModel": _standard_scaler,
    "MinMaxScalerModel": _min_max_scaler,
}


def _logistic(stage: Any, x: Vector, source: Any) -> tuple[Any, list[Any]]:
    if int(stage.numClasses) == 2:
        coef, intercept = _vector(stage.coefficients).reshape(1, -1), np.array([float(stage.intercept)])
    else:
        coef, intercept = np.asarray(stage.coefficientMatrix.toArray(), dtype=np.float64), _vector(stage.interceptVector)
    return logistic_regression(SimpleNamespace(coef_=coef, intercept_=intercept), x, source)


def _linear(stage: Any, x: Vector, source: Any) -> tuple[Any, list[Any]]:
    return linear_regression(SimpleNamespace(coef_=_vector(stage.coefficients), intercept_=float(stage.intercept)), x, source)


def _trees(stage: Any, x: Vector, source: Any) -> tuple[Any, list[Any]]:
    return ensemble_model(read(stage, source.plan.stage_dirs.get(stage.uid)), x, source, type(stage).__name__)


PREDICTORS: dict[str, Callable[[Any, Vector, Any], tuple[Any, list[Any]]]] = {
    "LogisticRegressionModel": _logistic,
    "LinearRegressionModel": _linear,
    **{name: _trees for name in TREE_MODELS},
}


def convert(source: Any, schema: Any) -> Any:
    pipe = SpecPipeline()
    pool: Pool = {f.name: [(f.name, "string" if f.type == "category" else "double", 1)] for f in schema.features}
    for stage in source.plan.stages:
        rule = STAGES.get(type(stage).__name__)
        if rule is None:
            raise ModelError(f"the Core ML target has no rule for the Spark stage {type(stage).__name__}",
                             fix=f"Core ML covers the stages {', '.join(STAGES)}; or use the ONNX target")
        rule(pipe, stage, pool)
    predictor = source.plan.predictor
    build = PREDICTORS.get(type(predictor).__name__)
    if build is None:
        raise ModelError(f"the Core ML target has no builder for Spark {type(predictor).__name__}",
                         fix=f"supported: {', '.join(PREDICTORS)}")
    x = pipe.vectorize(pool[predictor.getOrDefault("featuresCol")])
    last, outputs = build(predictor, x, source)
    return finish(pipe, last, outputs, source, schema)


def artifacts(source: Any, schema: Any, variants: list[str]) -> list[Artifact]:
    spec = convert(source, schema)
    return [Artifact("coreml", "coreml", {"model.mlmodel": spec.SerializeToString()},
                     entry_for("coreml", "model.mlmodel", "float32", spec, schema, source))]
