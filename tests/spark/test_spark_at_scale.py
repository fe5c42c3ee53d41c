"""Spark as the parity reference and as a place to score: the `spark` runner, the distributed parity
engine (passes on a faithful package, fails on a perturbed one) and batch scoring on Spark. Expected
values come from Spark's own transform."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import spark_zoo


def _spark_probabilities(spark, model, frame):
    from pyspark.ml.functions import vector_to_array

    out = model.fitted.transform(spark.createDataFrame(frame))
    return np.array(out.select(vector_to_array("probability").alias("p")).toPandas()["p"].tolist())


@pytest.fixture(scope="module")
def parquet_dir(tmp_path_factory):
    """Held-out rows in three Parquet files, with two the package must refuse (never compared)."""
    root = tmp_path_factory.mktemp("holdout")
    frame = spark_zoo.frame(3000, seed=21)
    frame["id"] = np.arange(len(frame))
    frame.loc[10, "plan"] = "platinum"  # unknown; the GBT pipeline's indexer has handleInvalid="error"
    frame.loc[11, "spend"] = np.nan  # VectorAssembler refuses NaN
    for i, start in enumerate(range(0, len(frame), 1000)):
        frame.iloc[start:start + 1000].to_parquet(root / f"part-{i}.parquet")
    return root, frame


def _perturbed(package, tmp_path):
    """Every 7th tree leaf weight x 1.2, checksums updated (examples/spark/acceptance.py: perturb)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "spark"))
    from acceptance import perturb

    return perturb(package, tmp_path / "perturbed", factor=1.2, leaves=slice(None, None, 7))


def test_spark_runner_gives_sparks_own_outputs(spark, spark_packages):
    from edgepack.parity.runners import runner_class
    from edgepack.parity.runners.base import InputBatch
    from edgepack.runtime.package import Package
    from edgepack.runtime.records import encode_records

    model, path = spark_packages("gbt_clf")
    package = Package.open(path)
    frame = model.holdout.dropna().head(40).reset_index(drop=True)
    records = json.loads(frame.to_json(orient="records"))
    from edgepack.runtime.schema import IOSchema

    columns, kept, rejected = encode_records(IOSchema.from_manifest(package.manifest), records)
    assert not rejected
    with runner_class("spark")(package, None, model=model.path) as runner:
        got = runner.predict(InputBatch(records, columns))
    assert np.abs(got["probabilities"] - _spark_probabilities(spark, model, frame)).max() <= 1e-12


def test_parity_on_spark_passes_and_catches_a_perturbed_onnx(spark, spark_packages, parquet_dir, tmp_path, capsys):
    """`edgepack parity --engine spark`: the same report as on one machine, from merged partition summaries."""
    from edgepack.toolchain.cli import main

    model, path = spark_packages("gbt_clf")
    data, frame = parquet_dir
    report_path = tmp_path / "parity.json"
    argv = ["parity", "--data", str(data), "--reference", str(model.path), "--engine", "spark", "--quiet"]
    assert main([*argv[:1], str(path), *argv[1:], "--label-column", "churn", "--json", str(report_path),
                 "--html", str(tmp_path / "parity.html")]) == 0, capsys.readouterr().out
    report = json.loads(report_path.read_text())
    (entry,) = report["results"]
    assert entry["status"] == "pass" and entry["runtime"] == "onnxruntime"
    assert entry["rows"] == len(frame) - 2  # the two refused records are counted, not compared
    assert entry["metrics"]["label_agreement"] == 1.0 and entry["metrics"]["max_probability_error"] <= 1e-9
    assert entry["metrics"]["auc_change"] == 0.0
    assert any("2 refused" in note for note in report["notes"])
    capsys.readouterr()

    assert main([*argv[:1], str(_perturbed(path, tmp_path)), *argv[1:]]) == 1
    out = capsys.readouterr().out
    assert "max_probability_error" in out and "fail" in out.lower()


def test_batch_score_on_spark_matches_spark(spark, spark_packages, parquet_dir, tmp_path):
    from edgepack.toolchain.cli import main

    model, path = spark_packages("gbt_clf")
    data, frame = parquet_dir
    out = tmp_path / "scores"
    assert main(["batch-score", str(path), "--input", str(data), "--output", str(out), "--engine", "spark",
                 "--id-column", "id"]) == 3
    scores = pd.read_parquet(out).sort_values("id").reset_index(drop=True)
    assert list(scores["id"]) == list(frame["id"])  # nothing dropped
    assert scores["error"].notna().sum() == 2 and "plan" in scores.loc[10, "error"]
    ok = scores["error"].isna().to_numpy()
    want = _spark_probabilities(spark, model, frame[spark_zoo.FEATURES][ok])
    got = scores.loc[ok, ["probability_0", "probability_1"]].to_numpy(dtype=float)
    assert np.abs(got - want).max() <= 1e-9
