"""The web runners: onnxruntime-web in Node (web/bin/score.mjs) and headless Chromium (the served page)
return the same raw outputs as onnxruntime in Python, to 1e-6, on golden and held-out rows; an altered
or broken artifact is caught."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tamper
import zoo
from edgepack.converters.sources.sample import frame_columns, records_from_frame
from edgepack.parity.metrics import classification_metrics, passes
from edgepack.parity.profiles import profile_for
from edgepack.parity.runners import RUNNERS, runner_class, runners_for
from edgepack.parity.runners.base import InputBatch
from edgepack.runtime.errors import PackageError
from edgepack.runtime.package import Package, sha256_bytes
from edgepack.runtime.schema import IOSchema


def batch_for(name: str, path: Path) -> InputBatch:
    """The package's golden records followed by the zoo model's held-out rows."""
    package = Package.open(path)
    schema = IOSchema.from_manifest(package.manifest)
    model = zoo.get(name)
    holdout = model.holdout.drop(columns=[model.label])
    records = package.golden()["records"] + records_from_frame(holdout, schema)
    golden_columns = frame_columns(_frame(package.golden()["records"], schema), schema)
    hold_columns = frame_columns(holdout, schema)
    columns = {k: np.concatenate([golden_columns[k], hold_columns[k]]) for k in schema.names}
    return InputBatch(records=records, columns=columns)


def _frame(records, schema):
    import pandas as pd

    return pd.DataFrame.from_records(records, columns=schema.names)


def run(runner_name: str, path: Path, batch: InputBatch, artifact: str = "onnx", **options) -> dict[str, np.ndarray]:
    package = Package.open(path)
    with runner_class(runner_name)(package, package.artifact(artifact), **options) as runner:
        return runner.predict(batch)


def test_the_rows_are_in_the_runners_table():
    assert ("ort-web-node", ("onnx",), "ort_web_node:OrtWebNodeRunner") in RUNNERS
    assert runners_for("onnx")[0] == "onnxruntime"  # the build keeps checking with onnxruntime first
    assert runners_for("tfjs")[-1] == "chromium"
    for name in ("ort-web-node", "chromium"):
        assert runner_class(name).availability() is None, runner_class(name).availability()


@pytest.mark.parametrize("name", ["logreg_binary", "logreg_multiclass", "random_forest_reg"])
def test_ort_web_node_equals_onnxruntime(built_packages, name):
    _, path = built_packages(name)
    batch = batch_for(name, path)
    want = run("onnxruntime", path, batch)
    got = run("ort-web-node", path, batch)
    key = "value" if "value" in want else "probabilities"
    assert got[key].shape == np.asarray(want[key]).shape
    np.testing.assert_allclose(got[key], np.asarray(want[key], dtype=np.float64), rtol=0, atol=1e-6)


def test_chromium_equals_onnxruntime(built_packages):
    _, path = built_packages("logreg_binary")
    batch = batch_for("logreg_binary", path)
    want = run("onnxruntime", path, batch)
    got = run("chromium", path, batch, backend="ort-wasm")
    np.testing.assert_allclose(got["probabilities"], want["probabilities"], rtol=0, atol=1e-6)


@pytest.mark.parametrize("runner_name", ["ort-web-node", "chromium"])
def test_a_flipped_byte_is_refused(built_packages, tmp_path, runner_name):
    _, path = built_packages("logreg_binary")
    batch = batch_for("logreg_binary", path)
    with pytest.raises(PackageError, match="failed its checksum"):
        run(runner_name, tamper.flipped_copy(path, tmp_path / "altered", "model.onnx"), batch)


def test_a_wrong_model_fails_the_comparison(built_packages, tmp_path):
    """A re-signed artifact whose scaler was changed loads, runs, and is caught by the profile."""
    import onnx
    from onnx import numpy_helper

    zm, path = built_packages("logreg_binary")
    copy = tmp_path / "wrong"
    shutil.copytree(path, copy)
    model = onnx.load(str(copy / "model.onnx"))
    divide = next(node for node in model.graph.node if node.op_type == "Div")  # the StandardScaler's
    scale = next(t for t in model.graph.initializer if t.name == divide.input[1])
    scale.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(scale) * 1.5, scale.name))
    data = model.SerializeToString()
    (copy / "model.onnx").write_bytes(data)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["artifacts"][0].update(sha256=sha256_bytes(data), size=len(data))
    (copy / "manifest.json").write_text(json.dumps(manifest))

    batch = batch_for("logreg_binary", path)
    reference = zm.model.predict_proba(_frame(batch.records, IOSchema.from_manifest(manifest)))
    good = classification_metrics(reference, run("ort-web-node", path, batch)["probabilities"])
    bad = classification_metrics(reference, run("ort-web-node", copy, batch)["probabilities"])
    assert passes(good, profile_for("float32")), good
    assert not passes(bad, profile_for("float32")), bad


def test_describe_names_the_runtime(built_packages):
    _, path = built_packages("logreg_binary")
    package = Package.open(path)
    info = runner_class("ort-web-node")(package, package.artifact("onnx")).describe()
    assert info["name"] == "ort-web-node" and "onnxruntime-web" in info["runtime"]
    assert info["version"].count(".") == 2
