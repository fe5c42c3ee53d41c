"""batch-score --stats (issue 20): Spark's partitions, summed by an accumulator, give exactly the counts
the local engine and the device scorer give for the same records; edgepack drift reads the window."""

from __future__ import annotations

import json

import numpy as np
import spark_zoo


def test_spark_stats_window_equals_local_and_device(spark, spark_packages, tmp_path):
    from edgepack.toolchain.cli import main

    _, path = spark_packages("gbt_clf")
    frame = spark_zoo.frame(1200, seed=33)
    frame["id"] = np.arange(len(frame))
    frame.loc[5, "spend"] = np.nan  # refused (VectorAssembler takes no NaN): counted as rejected, by field
    data = tmp_path / "data"
    data.mkdir()
    for i, start in enumerate(range(0, len(frame), 400)):
        frame.iloc[start:start + 400].to_parquet(data / f"part-{i}.parquet")
    common = ["--input", str(data), "--id-column", "id", "--stats-device", "t"]
    assert main(["batch-score", str(path), *common, "--output", str(tmp_path / "s"), "--engine", "spark",
                 "--stats", str(tmp_path / "spark")]) == 3
    assert main(["batch-score", str(path), *common, "--output", str(tmp_path / "l.parquet"),
                 "--stats", str(tmp_path / "local")]) == 3
    (spark_window,) = [json.loads(p.read_text()) for p in (tmp_path / "spark").glob("*.stats.json")]
    (local_window,) = [json.loads(p.read_text()) for p in (tmp_path / "local").glob("*.stats.json")]
    assert spark_window["records"] == 1200 and spark_window["rejected"] == 1
    assert spark_window["rejected_by_field"] == {"spend": 1}
    for key in ("records", "scored", "rejected", "rejected_by_field", "features"):
        assert spark_window[key] == local_window[key], key
    assert spark_window["outputs"]["labels"] == local_window["outputs"]["labels"]
    assert main(["drift", str(path), "--stats", str(tmp_path / "spark"), str(tmp_path / "local")]) in (0, 1)
