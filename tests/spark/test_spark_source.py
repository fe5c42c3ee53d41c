"""Every supported Spark ML family: the package's model.onnx, run in onnxruntime on held-out rows, agrees
with Spark's own transform (every label, probability error <= 1e-5; regression error <= 1e-5 of the
target's scale). Expected values come from Spark itself, never from edgepack."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest
import spark_zoo
from edgepack.runtime.errors import ModelError


def _spark_outputs(spark, model, frame):
    from pyspark.ml.functions import vector_to_array

    out = model.fitted.transform(spark.createDataFrame(frame))
    if model.task == "classification":
        rows = out.select(vector_to_array("probability").alias("p"), "prediction").toPandas()
        return np.array(rows["p"].tolist()), rows["prediction"].to_numpy()
    return out.select("prediction").toPandas()["prediction"].to_numpy(), None


def _onnx_outputs(path, frame):
    manifest = json.loads((path / "manifest.json").read_text())
    art = manifest["artifacts"][0]
    feeds = {}
    for tensor in art["inputs"]:
        col = frame[tensor["features"][0]]
        feeds[tensor["name"]] = (col.astype(str).to_numpy(dtype=object) if tensor["dtype"] == "string"
                                 else col.to_numpy(dtype=np.float64)).reshape(-1, 1)
    session = ort.InferenceSession(str(path / art["file"]), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return manifest, dict(zip(names, session.run(None, feeds)))


@pytest.mark.parametrize("family", spark_zoo.FAMILIES)
def test_onnx_agrees_with_spark_on_holdout(family, spark, spark_packages):
    model, path = spark_packages(family)
    holdout = model.holdout
    manifest, got = _onnx_outputs(path, holdout)
    want, prediction = _spark_outputs(spark, model, holdout)
    if model.task == "classification":
        assert np.abs(got["probabilities"] - want).max() <= 1e-5
        assert list(np.argmax(got["probabilities"], axis=1)) == [int(p) for p in prediction]
    else:
        scale = manifest["outputs"]["value_scale"]
        assert np.abs(got["value"] - want).max() <= 1e-5 * scale
    assert manifest["source"]["framework"] == "spark"
    assert manifest["parity"] and all(c["passed"] for c in manifest["parity"])


def test_schema_comes_from_the_pipeline(spark_packages):

    model, path = spark_packages("logreg_multiclass")
    label_indexer = model.fitted.stages[0]
    manifest = json.loads((path / "manifest.json").read_text())
    features = {f["name"]: f for f in manifest["inputs"]["features"]}
    # the label indexer's column is not an input; the classes are its labels in Spark's index order
    assert list(features) == spark_zoo.FEATURES
    assert manifest["outputs"]["classes"] == list(label_indexer.labels)
    assert features["plan"]["type"] == "category"
    assert features["plan"]["categories"] == ["basic", "plus", "pro", "max"]  # frequency order, as indexed
    assert features["plan"]["unknown"] == "ignore"  # handleInvalid="keep"
    assert features["usage"]["nullable"] is True  # behind an Imputer
    assert features["spend"]["nullable"] is False  # VectorAssembler refuses NaN
    _, tree_path = spark_packages("gbt_clf")
    tree_features = {f["name"]: f for f in json.loads((tree_path / "manifest.json").read_text())["inputs"]["features"]}
    assert tree_features["plan"]["unknown"] == "error"  # handleInvalid="error"


def test_unknown_category_scores_like_spark(spark, spark_packages):
    """handleInvalid="keep": an unseen category gets Spark's extra index, in ONNX as in Spark."""
    model, path = spark_packages("logreg_binary")
    frame = model.holdout.head(5).copy()
    frame["plan"] = "never-seen"
    _, got = _onnx_outputs(path, frame)
    want, _ = _spark_outputs(spark, model, frame)
    assert np.abs(got["probabilities"] - want).max() <= 1e-5


def test_unsupported_stage_is_named(spark, tmp_path):
    from edgepack.converters.sources import load_source
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import Normalizer, VectorAssembler

    train = spark_zoo.frame(60, seed=5).dropna()
    stages = [VectorAssembler(inputCols=["calls", "spend"], outputCol="raw"),
              Normalizer(inputCol="raw", outputCol="features"), LogisticRegression(labelCol="churn", maxIter=5)]
    Pipeline(stages=stages).fit(spark.createDataFrame(train)).write().overwrite().save(str(tmp_path / "m"))
    with pytest.raises(ModelError) as err:
        load_source(tmp_path / "m")
    assert "Normalizer" in str(err.value) and "StringIndexerModel" in str(err.value)
