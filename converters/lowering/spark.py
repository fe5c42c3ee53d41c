"""Spark ML pipelines lowered to TensorFlow: the pruned feature stages as per-column specs (columns.py's
Column and Step, one rule per stage in the STAGES table, arithmetic in Spark's own order), then the
predictor: linear models in float32, trees read from the stage's saved data into the one tree reader's
Ensemble (sources/spark_trees.py) and folded into the raw inputs like scikit-learn's.

Input (contract 2): one float32 tensor [N, F]; a StringIndexer's input column as its index in the
manifest's categories (the indexer's labels, so Spark's own index), -1 unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ...runtime.errors import ModelError
from ...runtime.records import FLOAT64_PARTS
from ..sources.spark import columns_in, columns_out
from ..sources.spark_trees import TREE_MODELS, read
from . import TFGraph, input_spec
from .columns import Column, Step, transformed_tensor
from .trees import ensemble_tensor, needs_parts

Pool = dict[str, list[Column]]  # Spark column -> the scalar columns it holds (a vector holds several)


def _vector(values: Any) -> np.ndarray:
    return np.asarray(values.toArray() if hasattr(values, "toArray") else values, dtype=np.float64).reshape(-1)


def _with(col: Column, *steps: Step) -> Column:
    return Column(col.feature, col.encode, col.index, col.codes, (*col.steps, *steps))


def _string_indexer(stage: Any, pool: Pool, schema: Any) -> None:
    keep = stage.getOrDefault("handleInvalid") == "keep"
    for name, out, labels in zip(columns_in(stage), columns_out(stage), stage.labelsArray):
        (col,) = pool[name]
        if col.encode != "category":
            raise ModelError(f"StringIndexer {stage.uid} reads {name!r}, which is not a category input column")
        labels = [str(v) for v in labels]
        unknown = float(len(labels)) if keep else np.nan  # Spark's extra index; "error" rows are refused before
        codes = [float(labels.index(c)) if c in labels else unknown for c in schema.features[col.feature].categories or ()]
        pool[out] = [Column(col.feature, "ordinal", codes=(unknown, *codes))]


def _one_hot_encoder(stage: Any, pool: Pool, schema: Any) -> None:
    keep = stage.getOrDefault("handleInvalid") == "keep"
    drop_last = bool(stage.getOrDefault("dropLast"))
    for name, out, size in zip(columns_in(stage), columns_out(stage), stage.categorySizes):
        (col,) = pool[name]
        if col.encode != "ordinal" or col.steps:
            raise ModelError(f"OneHotEncoder {stage.uid} reads {name!r}, which is not a StringIndexer's output",
                             fix="one-hot encode indexed categories only, or use the ONNX target")
        width = int(size) + (1 if keep else 0) - (1 if drop_last else 0)
        slots = []
        for k in range(width):
            # the manifest position whose Spark index is k (-1: the unknown category's slot; -2: none)
            at = [p for p, code in enumerate(col.codes[1:]) if code == k]
            index = at[0] if at else (-1 if col.codes[0] == k else -2)
            slots.append(Column(col.feature, "onehot", index=index))
        pool[out] = slots


def _vector_assembler(stage: Any, pool: Pool, schema: Any) -> None:
    pool[columns_out(stage)[0]] = [c for name in columns_in(stage) for c in pool[name]]


def _imputer(stage: Any, pool: Pool, schema: Any) -> None:
    if not np.isnan(float(stage.getOrDefault("missingValue"))):
        raise ModelError(f"Spark Imputer {stage.uid} with missingValue other than NaN is not supported in TFLite/TF.js",
                         fix="impute NaN, or use the ONNX target")
    surrogates = stage.surrogateDF.collect()[0].asDict()
    for name, out in zip(columns_in(stage), columns_out(stage)):
        pool[out] = [_with(c, Step("impute", float(surrogates[name]))) for c in pool[name]]


def _standard_scaler(stage: Any, pool: Pool, schema: Any) -> None:
    cols = pool[columns_in(stage)[0]]
    mean = _vector(stage.mean) if stage.getOrDefault("withMean") else np.zeros(len(cols))
    std = _vector(stage.std)
    # Spark: (x - mean) * (1 / std), times 0 where std is 0 (x - mean is exact as (x - mean) / 1).
    inv = np.where(std != 0, 1.0 / np.where(std != 0, std, 1.0), 0.0) if stage.getOrDefault("withStd") else np.ones(len(cols))
    pool[columns_out(stage)[0]] = [_with(c, Step("sub_div", float(m), 1.0), Step("mul_add", float(s), 0.0))
                                   for c, m, s in zip(cols, mean, inv)]


def _min_max_scaler(stage: Any, pool: Pool, schema: Any) -> None:
    cols = pool[columns_in(stage)[0]]
    lo, hi = float(stage.getOrDefault("min")), float(stage.getOrDefault("max"))
    omin, omax = _vector(stage.originalMin), _vector(stage.originalMax)
    if np.any(omax == omin):
        raise ModelError(f"Spark MinMaxScaler {stage.uid} over a constant column is not supported in TFLite/TF.js",
                         fix="drop the constant column, or use the ONNX target")
    scale = (hi - lo) / (omax - omin)
    # Spark: (x - min) * scale + lo
    pool[columns_out(stage)[0]] = [_with(c, Step("sub_div", float(m), 1.0), Step("mul_add", float(s), lo))
                                   for c, m, s in zip(cols, omin, scale)]


# Spark feature stage -> rule(stage, pool, schema) adding its output columns to the pool
STAGES: dict[str, Callable[[Any, Pool, Any], None]] = {
    "StringIndexerModel": _string_indexer,
    "OneHotEncoderModel": _one_hot_encoder,
    "VectorAssembler": _vector_assembler,
    "ImputerModel": _imputer,
    "StandardScalerModel": _standard_scaler,
    "MinMaxScalerModel": _min_max_scaler,
}


def _linear(tf: Any, x: Any, cols: list[Column], stage: Any, source: Any, options: dict[str, Any], notes: list[str]) -> Any:
    z = transformed_tensor(tf, x, cols)
    if type(stage).__name__ == "LinearRegressionModel" or int(stage.numClasses) == 2:
        out = tf.matmul(z, _vector(stage.coefficients).astype(np.float32).reshape(-1, 1)) + np.float32(stage.intercept)
        if type(stage).__name__ == "LinearRegressionModel":
            return out
        p = tf.math.sigmoid(out)
        return tf.concat([1.0 - p, p], axis=1)
    coef = np.asarray(stage.coefficientMatrix.toArray(), dtype=np.float32).T
    return tf.nn.softmax(tf.matmul(z, coef) + _vector(stage.interceptVector).astype(np.float32), axis=1)


def _trees(tf: Any, x: Any, cols: list[Column], stage: Any, source: Any, options: dict[str, Any], notes: list[str]) -> Any:
    return ensemble_tensor(tf, x, cols, read(stage, source.plan.stage_dirs.get(stage.uid)), options, notes)


# Spark predictor -> lowering(tf, x, columns, stage, source, options, notes) -> [N, outputs]
PREDICTORS: dict[str, Callable[..., Any]] = {
    "LogisticRegressionModel": _linear,
    "LinearRegressionModel": _linear,
    **{name: _trees for name in TREE_MODELS},
}


def lower(source: Any, schema: Any, options: dict[str, Any]) -> TFGraph:
    """The Spark pipeline as a TFGraph. Raises ModelError naming a stage without a rule."""
    import tensorflow as tf

    pool: Pool = {f.name: [Column(i, "category" if f.type == "category" else "number")]
                  for i, f in enumerate(schema.features)}
    for stage in source.plan.stages:
        rule = STAGES.get(type(stage).__name__)
        if rule is None:
            raise ModelError(f"no TensorFlow lowering for Spark stage {type(stage).__name__}",
                             fix=f"TFLite/TF.js cover the stages {', '.join(STAGES)}; or use the ONNX target")
        rule(stage, pool, schema)
    predictor = source.plan.predictor
    family = PREDICTORS.get(type(predictor).__name__)
    if family is None:
        raise ModelError(f"no TensorFlow lowering for Spark {type(predictor).__name__}",
                         fix=f"TFLite/TF.js cover: {', '.join(PREDICTORS)}")
    cols = pool[predictor.getOrDefault("featuresCol")]
    if any(c.encode == "category" for c in cols):
        raise ModelError("a category column reaches the Spark predictor without a StringIndexer")
    notes: list[str] = []
    output = "value" if source.task == "regression" else "probabilities"

    def call(x: Any) -> dict[str, Any]:
        out = family(tf, x, cols, predictor, source, options, notes)
        return {output: tf.reshape(out, [-1]) if output == "value" else out}

    # Spark's trees compare doubles: their inputs go as float64 parts (trees.needs_parts says when)
    dtype = FLOAT64_PARTS if family is _trees and needs_parts(
        read(predictor, source.plan.stage_dirs.get(predictor.uid)), cols) else "float32"
    function = tf.function(call, input_signature=[input_spec(len(schema.features), dtype)], autograph=False)
    function.get_concrete_function()  # trace now: lowering errors surface here, notes get filled
    return TFGraph(function=function, features=list(schema.names), outputs=[output], notes=notes, dtype=dtype)
