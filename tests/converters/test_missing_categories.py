"""Missing values in a categorical column (diabetes' `sex` as strings, NaN in 1 of 11 training rows and 1 of
7 held-out rows, plus a category the training never saw): imputed (most frequent, constant) or one-hot
encoded (missing as its own category, drop='first') as scikit-learn does. The package declares the column
nullable; the ONNX artifact, the device scorer (Python API, `edgepack-score` JSON lines, predict_array with
category indices) agree with scikit-learn on the held-out rows. Before issue 18 the build refused:
"categorical column 'sex' has missing values". TFLite and TF.js take them too (NaN in the tensor; held-out
rows in tests/converters/test_sklearn_tf_matrix.py, a broken artifact here)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import tabular_zoo
from edgepack.runtime import Scorer
from edgepack.toolchain.build import BuildOptions, build
from tfjs_node import tfjs_modules


@pytest.mark.parametrize("name", tabular_zoo.CATEGORIES)
def test_onnx_agrees_with_sklearn_with_missing_categories(name, built_tabular):
    case, _model, package = built_tabular(name)
    assert case.holdout["sex"].isna().any() and case.train["sex"].isna().any()
    manifest = json.loads((package / "manifest.json").read_text())
    sex = next(f for f in manifest["inputs"]["features"] if f["name"] == "sex")
    assert sex["type"] == "category" and sex["nullable"] and sex["missing_rate"] > 0
    # the learnt missing category is not one a record names
    assert {"female", "male"} <= set(sex["categories"]) and "nan" not in sex["categories"]
    tabular_zoo.assert_agrees_on_holdout(case, package)


@pytest.mark.parametrize("name", ["ridge_sex_most_frequent_diabetes", "ridge_sex_onehot_nan_diabetes"])
def test_the_device_scorer_takes_null_categories(name, built_tabular):
    from edgepack.converters.sources.sample import records_from_frame

    case, _model, package = built_tabular(name)
    scorer = Scorer.load(str(package))
    frame = case.holdout[case.features]
    records = records_from_frame(frame, scorer.schema)
    assert any(r["sex"] is None for r in records)
    want = case.expected(case.holdout)
    got = np.array([p["value"] for p in scorer.predict_records(records)])
    assert np.abs(got - want).max() <= 1e-5 * float(np.std(case.train[tabular_zoo.LABEL]))

    # edgepack-score as a device runs it: JSON lines in, one prediction line out per record
    lines = "".join(json.dumps(r) + "\n" for r in records)
    proc = subprocess.run([sys.executable, "-m", "edgepack.runtime", str(package)], input=lines.encode(),
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    cli = np.array([json.loads(line)["value"] for line in proc.stdout.decode().splitlines()])
    assert np.abs(cli - want).max() <= 1e-5 * float(np.std(case.train[tabular_zoo.LABEL]))

    # predict_array with categories as indices: NaN missing, -1 unknown (contract 2)
    cats = list(scorer.schema.feature("sex").categories)
    X = frame.copy()
    X["sex"] = [np.nan if v is None or v != v else (cats.index(v) if v in cats else -1) for v in frame["sex"]]
    arr = scorer.predict_array(X[scorer.schema.names].to_numpy(dtype=np.float64))["value"]
    assert np.abs(arr - want).max() <= 1e-5 * float(np.std(case.train[tabular_zoo.LABEL]))


def test_infrequent_categories_are_refused_with_the_estimator_and_reason(tmp_path):
    from edgepack.runtime.errors import ModelError

    case = tabular_zoo.get("ridge_sex_onehot_infrequent_diabetes")
    model_path, sample_path = tabular_zoo.save(case, tmp_path)
    with pytest.raises(ModelError, match="OneHotEncoder.*to ONNX: NotImplementedError: Infrequent categories"):
        build(BuildOptions(model=model_path, sample=sample_path, out=tmp_path / "pkg", label_column=tabular_zoo.LABEL,
                           quiet=True))


@pytest.mark.parametrize("name", tabular_zoo.HGB_NATIVE)
def test_hist_gradient_boosting_native_categories_agree_on_held_out_rows(name, built_tabular):
    """HistGradientBoosting with categorical_features: before issue 18 its ONNX graph failed its own check
    (skl2onnx writes category splits as thresholds). Held-out rows carry missing and unseen categories."""
    case, _model, package = built_tabular(name)
    assert (case.holdout["sex"] == "unrecorded").any() and case.holdout["sex"].isna().any()
    tabular_zoo.assert_agrees_on_holdout(case, package)


def test_hist_gradient_boosting_on_text_category_columns_is_refused_by_name(tmp_path):
    """Fitted on pandas category columns (categorical_features='from_dtype'): refused with the reason, where
    the build used to crash in its own check ("Required inputs (['input']) are missing")."""
    import joblib
    from edgepack.runtime.errors import ModelError
    from sklearn.ensemble import HistGradientBoostingRegressor

    train, _ = tabular_zoo.real_frame("diabetes", categorical="missing")
    X = train.drop(columns=[tabular_zoo.LABEL])
    X["sex"] = X["sex"].astype("category")
    joblib.dump(HistGradientBoostingRegressor(max_iter=3, categorical_features="from_dtype").fit(X, train[tabular_zoo.LABEL]),
                tmp_path / "m.joblib")
    train.to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(ModelError, match="HistGradientBoostingRegressor fitted on pandas category columns of text"):
        build(BuildOptions(model=tmp_path / "m.joblib", sample=tmp_path / "s.csv", out=tmp_path / "pkg",
                           label_column=tabular_zoo.LABEL, quiet=True))


@pytest.mark.parametrize(("fmt", "runtime"), [("tflite", "tflite"), ("tfjs", "tfjs-node-wasm")])
def test_tf_parity_catches_an_artifact_with_the_imputed_category_swapped(fmt, runtime, tmp_path):
    """TFLite and TF.js take a missing category as NaN (contract 2) and fill it as the fitted SimpleImputer
    does (tests/converters/test_sklearn_tf_matrix.py checks them on held-out rows). The broken artifact: the
    same model with the imputer's most frequent category swapped ("female" <-> "male"), built on its own;
    `edgepack parity` against the original model fails it where the right package passes."""
    import copy

    import joblib
    from edgepack.toolchain.cli import main

    if fmt == "tfjs" and tfjs_modules() is None:
        pytest.skip("TF.js for Node is not installed (make installs it under web/node_modules)")
    case = tabular_zoo.get("ridge_sex_most_frequent_diabetes")
    model_path, sample_path = tabular_zoo.save(case, tmp_path / "ok")
    swapped = copy.deepcopy(case.model)
    imputer = swapped.named_steps["prepare"].named_transformers_["cat"].named_steps["impute"]
    assert list(imputer.statistics_) in (["female"], ["male"])
    imputer.statistics_ = np.array(["male" if imputer.statistics_[0] == "female" else "female"], dtype=object)
    joblib.dump(swapped, tmp_path / "swapped.joblib")
    holdout = tmp_path / "holdout.csv"
    case.holdout.to_csv(holdout, index=False)
    args = ["--quiet", "--runtimes", runtime, "--reference", str(model_path), "--data", str(holdout),
            "--label-column", tabular_zoo.LABEL]
    for path, out, want in ((model_path, "ok", 0), (tmp_path / "swapped.joblib", "broken", 1)):
        build(BuildOptions(model=path, sample=sample_path, out=tmp_path / out / "pkg", label_column=tabular_zoo.LABEL,
                           targets=[fmt], target_options={fmt: {"variants": "float32"}}, quiet=True))
        assert main(["parity", str(tmp_path / out / "pkg"), *args, "--json", str(tmp_path / f"{out}.json")]) == want
    worst = json.loads((tmp_path / "broken.json").read_text())["results"][0]["worst_rows"][0]
    assert worst["input"]["sex"] is None  # failed on a row whose category is missing
