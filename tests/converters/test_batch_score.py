"""`edgepack batch-score` with the local engine: every input row comes out, in order, with its id; valid
rows carry the original model's own predictions (scikit-learn here, computed by scikit-learn), refused
rows a reason in `error` and null predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from edgepack.toolchain.cli import main


def _input(model, tmp_path):
    frame = model.holdout.drop(columns=[model.label]).reset_index(drop=True)
    frame["customer_id"] = [f"c{i:04d}" for i in range(len(frame))]
    bad = frame.head(3).copy()
    bad["customer_id"] = ["bad-category", "bad-fraction", "bad-infinite"]
    bad["contract"] = bad["contract"].astype(object)
    bad.loc[bad.index[0], "contract"] = None  # categories are never nullable in v1
    bad["tenure_months"] = bad["tenure_months"].astype(float)
    bad.loc[bad.index[1], "tenure_months"] = 2.5  # an int feature
    bad.loc[bad.index[2], "monthly_charges"] = np.inf
    data = pd.concat([frame.iloc[:100], bad, frame.iloc[100:]], ignore_index=True)
    path = tmp_path / "input.parquet"
    data.to_parquet(path)
    return data, path


def test_local_engine_scores_every_row_like_the_model(built_packages, tmp_path, capsys):
    model, package = built_packages("gradient_boosting_clf")
    data, path = _input(model, tmp_path)
    out = tmp_path / "scores.parquet"
    code = main(["batch-score", str(package), "--input", str(path), "--output", str(out),
                 "--id-column", "customer_id", "--batch-rows", "64"])
    assert code == 3  # some records rejected
    scores = pd.read_parquet(out)
    assert list(scores["customer_id"]) == list(data["customer_id"])  # every row, in order
    errors = scores.set_index("customer_id")["error"]
    assert errors["bad-category"].startswith("contract: missing value")
    assert errors["bad-fraction"] == "tenure_months: expected an integer, got 2.5"
    assert "monthly_charges" in errors["bad-infinite"] and "infinity" in errors["bad-infinite"]
    ok = scores["error"].isna().to_numpy()
    assert ok.sum() == len(data) - 3
    features = data.drop(columns=["customer_id"])[ok]
    want = model.model.predict_proba(features)
    got = scores.loc[ok, ["probability_0", "probability_1"]].to_numpy(dtype=float)
    assert np.abs(got - want).max() <= 1e-5
    assert list(scores.loc[ok, "label"]) == list(model.model.predict(features))
    assert scores.loc[~ok, "probability_1"].isna().all()
    assert "rejected" in capsys.readouterr().out


def test_local_engine_regression_and_row_ids(built_packages, tmp_path):
    model, package = built_packages("linear_regression")
    frame = model.holdout.drop(columns=[model.label])
    path = tmp_path / "input.parquet"
    frame.to_parquet(path)
    out = tmp_path / "scores.parquet"
    assert main(["batch-score", str(package), "--input", str(path), "--output", str(out)]) == 0
    scores = pd.read_parquet(out)
    assert list(scores["row"]) == list(range(len(frame)))
    scale = float(np.std(model.sample[model.label]))
    assert np.abs(scores["value"].to_numpy() - model.model.predict(frame)).max() <= 1e-5 * scale


def test_missing_column_is_unusable_data(built_packages, tmp_path, capsys):
    model, package = built_packages("linear_regression")
    path = tmp_path / "input.parquet"
    model.holdout.drop(columns=[model.label, "contract"]).to_parquet(path)
    assert main(["batch-score", str(package), "--input", str(path), "--output", str(tmp_path / "o.parquet")]) == 6
    assert "contract" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--engine", "gpu"]])
def test_unknown_engine_is_a_usage_error(argv, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["batch-score", "p", "--input", "i", "--output", "o", *argv])
    assert exc.value.code == 2
