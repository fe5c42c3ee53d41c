"""Spark ML pipelines in TFLite, TF.js (the TensorFlow lowering, converters/lowering/spark.py) and Core ML
(converters/targets/coreml/spark.py): the package's artifact, run in ai-edge-litert, in TF.js's cpu backend in
Node and in the Core ML spec evaluator on held-out rows (missing values, an unseen category), agrees with
Spark's own transform: every label, probabilities within 1e-5, values within 1e-5 of the target's scale.
Trees split on category sets (StringIndexer outputs reach them as categorical features). Artifacts with
their leaf values scaled are caught; a stage without a rule is refused by name.
Spark is slow to start and to transform: few cells, one build per pipeline (onnx, tflite, tfjs, coreml)."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
from edgepack.runtime.errors import ModelError

FAMILIES = ["logreg_scaled_multiclass", "decision_tree_clf", "random_forest_clf", "gbt_clf", "random_forest_reg"]
RUNNERS = {"tflite": ("tflite", "tflite"), "tfjs-cpu": ("tfjs", "tfjs-node-cpu"), "coreml-spec": ("coreml", "coreml-spec")}
_BUILT: dict[str, tuple] = {}


@pytest.fixture(scope="module")
def tf_packages(spark_models, tmp_path_factory):
    from edgepack.toolchain.build import BuildOptions, build

    root = tmp_path_factory.mktemp("spark_tf")

    def get(name: str):
        if name not in _BUILT:
            model = spark_models(name)
            one = {"variants": "float32"}
            result = build(BuildOptions(model=model.path, sample=model.sample, out=root / name, label_column=model.label,
                                        name=name, quiet=True, targets=["onnx", "tflite", "tfjs", "coreml"],
                                        target_options={"tflite": one, "tfjs": one, "coreml": {"variants": "none"}}))
            _BUILT[name] = (model, result.path)
        return _BUILT[name]

    return get


def _frame(model):
    frame = model.holdout.copy()
    if "keep" in {getattr(s, "getOrDefault", lambda _: None)("handleInvalid") for s in model.fitted.stages
                  if type(s).__name__ == "StringIndexerModel"}:
        frame.loc[frame.index[::10], "plan"] = "never-seen"  # Spark's extra index
    return frame


def _spark(spark, model, frame):
    from pyspark.ml.functions import vector_to_array

    out = model.fitted.transform(spark.createDataFrame(frame))
    if model.task == "classification":
        rows = out.select(vector_to_array("probability").alias("p"), "prediction").toPandas()
        return np.array(rows["p"].tolist()), rows["prediction"].to_numpy()
    return out.select("prediction").toPandas()["prediction"].to_numpy(), None


def _run(path, runner, frame):
    from edgepack.converters.sources.sample import frame_columns, records_from_frame
    from edgepack.parity.runners import runner_class
    from edgepack.parity.runners.base import InputBatch
    from edgepack.runtime.package import Package
    from edgepack.runtime.schema import IOSchema

    package = Package.open(path)
    schema = IOSchema.from_manifest(package.manifest)
    batch = InputBatch(records=records_from_frame(frame, schema), columns=frame_columns(frame, schema))
    cls = runner_class(RUNNERS[runner][1])
    if cls.availability():
        pytest.skip(cls.availability())
    with cls(package, package.artifact(format=RUNNERS[runner][0])) as r:
        return r.predict(batch)


def _agrees(spark, model, path, runner, frame) -> bool:
    got = _run(path, runner, frame)
    want, prediction = _spark(spark, model, frame)
    if model.task == "classification":
        probs = np.asarray(got["probabilities"], dtype=np.float64)
        return bool(np.abs(probs - want).max() <= 1e-5 and list(np.argmax(probs, axis=1)) == [int(p) for p in prediction])
    scale = float(json.loads((path / "manifest.json").read_text())["outputs"]["value_scale"])
    return bool(np.abs(np.asarray(got["value"], dtype=np.float64).reshape(-1) - want).max() <= 1e-5 * scale)


CELLS = [pytest.param(f, r, id=f"{f}-{r}", marks=[pytest.mark.slow] if r == "tfjs-cpu" and f != "gbt_clf" else [])
         for f in FAMILIES for r in RUNNERS]


@pytest.mark.parametrize(("family", "runner"), CELLS)
def test_tf_artifacts_agree_with_spark_on_holdout(family, runner, spark, tf_packages):
    model, path = tf_packages(family)
    frame = _frame(model)
    assert frame.isna().to_numpy().any()
    assert _agrees(spark, model, path, runner, frame)


def test_categorical_splits_reach_the_tf_graph(tf_packages):
    """The tree pipelines index categories without one-hot encoding: Spark's trees split on category sets,
    which the lowering decides with its lookup table."""
    from edgepack.converters.sources.spark_trees import read

    model, _ = tf_packages("random_forest_clf")
    predictor = model.fitted.stages[-1]
    ens = read(predictor, next(p for p in (model.path / "stages").iterdir() if p.name.endswith(predictor.uid)))
    assert any(t.categories for t in ens.trees)


@pytest.mark.parametrize("runner", ["tflite", "coreml-spec"])
def test_scaled_leaves_are_caught(runner, spark, tf_packages, tmp_path):
    from edgepack.converters.coreml_protobuf import module
    from edgepack.converters.sources.spark_trees import read

    model, path = tf_packages("random_forest_clf")
    broken = shutil.copytree(path, tmp_path / "broken")
    if runner == "tflite":
        predictor = model.fitted.stages[-1]
        ens = read(predictor, next(p for p in (model.path / "stages").iterdir() if p.name.endswith(predictor.uid)))
        table = np.concatenate([t.dense(ens.n_out) for t in ens.trees]).astype(np.float32)
        file, data = "model.tflite", (broken / "model.tflite").read_bytes()
        assert data.count(table.tobytes()) == 1
        data = data.replace(table.tobytes(), (table * np.float32(1.1)).tobytes())
    else:
        spec = module("Model_pb2").Model()
        spec.ParseFromString((broken / "model.mlmodel").read_bytes())
        for node in spec.pipelineClassifier.pipeline.models[-1].treeEnsembleClassifier.treeEnsemble.nodes:
            for info in node.evaluationInfo:
                info.evaluationValue *= 1.1
        file, data = "model.mlmodel", spec.SerializeToString()
    (broken / file).write_bytes(data)
    manifest = json.loads((broken / "manifest.json").read_text())
    for art in manifest["artifacts"]:
        for rec in [art, *art.get("files", [])]:
            if rec["file"] == file:
                rec["sha256"], rec["size"] = hashlib.sha256(data).hexdigest(), len(data)
    (broken / "manifest.json").write_text(json.dumps(manifest, indent=2))
    frame = _frame(model)
    assert _agrees(spark, model, path, runner, frame)
    assert not _agrees(spark, model, broken, runner, frame)


def test_a_stage_without_a_tf_rule_is_refused_by_name(spark_models, tmp_path):
    from edgepack.toolchain.build import BuildOptions, build

    model = spark_models("logreg_binary")  # its preparation has a Bucketizer
    with pytest.raises(ModelError, match="no TensorFlow lowering for Spark stage Bucketizer"):
        build(BuildOptions(model=model.path, sample=model.sample, out=tmp_path / "pkg", label_column=model.label,
                           quiet=True, targets=["tflite"]))
