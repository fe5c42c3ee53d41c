"""The scikit-learn families beyond the first nineteen (SVMs, SGD, Perceptron, KNeighbors, naive Bayes,
ElasticNet/Huber, calibration, voting, stacking; PCA, TruncatedSVD, PolynomialFeatures, KBinsDiscretizer,
Quantile/PowerTransformer, SimpleImputer(add_indicator), MinMaxScaler(clip)) on real data sets: each builds to
ONNX and agrees with scikit-learn on held-out rows with missing values. A classifier without predict_proba
(LinearSVC, Perceptron, hinge SGD) packages its decision scores, whose argmax is scikit-learn's predict."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import tabular_zoo
from edgepack.runtime.errors import ModelError
from edgepack.toolchain.build import BuildOptions, build
from edgepack.toolchain.cli import main


@pytest.mark.parametrize("name", tabular_zoo.SKLEARN)
def test_onnx_agrees_with_sklearn_on_held_out_rows(name, built_tabular):
    case, _model, package = built_tabular(name)
    tabular_zoo.assert_agrees_on_holdout(case, package)


@pytest.mark.parametrize("name", ["svc_rbf_proba_breast_cancer", "knn_reg_diabetes", "ridge_sex_onehot_nan_diabetes"])
def test_parity_catches_a_tampered_artifact(name, built_tabular, tmp_path):
    """Every float initializer of model.onnx scaled by 1.01 (checksum fixed): parity against the model fails
    where the untouched package passes."""
    import hashlib

    import onnx
    from onnx import numpy_helper

    case, model_path, package = built_tabular(name)
    holdout = tmp_path / "holdout.csv"
    case.holdout.to_csv(holdout, index=False)
    args = ["--quiet", "--runtimes", "onnxruntime", "--reference", str(model_path), "--data", str(holdout),
            "--label-column", tabular_zoo.LABEL]
    assert main(["parity", str(package), *args, "--json", str(tmp_path / "ok.json")]) == 0
    broken = shutil.copytree(package, tmp_path / "broken")
    model = onnx.load(str(broken / "model.onnx"))
    for init in model.graph.initializer:
        values = numpy_helper.to_array(init)
        if values.dtype.kind == "f" and values.size > 1:
            init.CopyFrom(numpy_helper.from_array(values * 1.01, init.name))
    for node in model.graph.node:  # SVM and KNN keep their support vectors / training rows as attributes
        for attr in node.attribute:
            if attr.name in ("support_vectors", "coefficients") and attr.floats:
                attr.floats[:] = [v * 1.01 for v in attr.floats]
    data = model.SerializeToString()
    (broken / "model.onnx").write_bytes(data)
    manifest = json.loads((broken / "manifest.json").read_text())
    manifest["artifacts"][0].update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    (broken / "manifest.json").write_text(json.dumps(manifest))
    assert main(["parity", str(broken), *args, "--json", str(tmp_path / "bad.json")]) == 1


def test_distance_weighted_neighbours_are_refused_with_the_reason(tmp_path):
    import joblib
    from sklearn.neighbors import KNeighborsRegressor

    train, _ = tabular_zoo.real_frame("diabetes")
    train = train.dropna()
    X, y = train.drop(columns=[tabular_zoo.LABEL]), train[tabular_zoo.LABEL]
    joblib.dump(KNeighborsRegressor(weights="distance").fit(X, y), tmp_path / "m.joblib")
    train.to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(ModelError, match=r"KNeighborsRegressor\(weights='distance'\) is not supported: .*zero distance"):
        build(BuildOptions(model=tmp_path / "m.joblib", sample=tmp_path / "s.csv", out=tmp_path / "pkg",
                           label_column=tabular_zoo.LABEL, quiet=True))


def test_svc_probability_label_is_the_argmax_of_its_probabilities(built_tabular):
    """SVC(probability=True).predict uses the decision function and can disagree with predict_proba; the
    package's label is the argmax of the probabilities it carries (contract 3), and so is the reference's."""
    case, _model, package = built_tabular("svc_poly_iris")
    got = tabular_zoo.onnx_outputs(package, case.holdout)["probabilities"]
    want = case.expected(case.holdout)
    assert np.array_equal(np.argmax(got, axis=1), np.argmax(want, axis=1))
