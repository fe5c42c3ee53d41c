"""Every supported scikit-learn family: the package's float32 Core ML artifact, evaluated by the
coreml-spec runner on held-out rows, agrees with scikit-learn itself under the float32 profile (labels
100 %, probabilities within 1e-5, regression within 1e-5 of the target's scale). Expected values come
from the original model. A perturbed tree threshold must fail."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import zoo
from edgepack.converters.sources.sample import frame_columns, records_from_frame
from edgepack.parity.metrics import classification_metrics, passes, regression_metrics
from edgepack.parity.profiles import DEFAULT_PROFILES
from edgepack.parity.runners import runner_class, runners_for
from edgepack.parity.runners.base import InputBatch
from edgepack.runtime.package import Package
from edgepack.runtime.schema import IOSchema
from edgepack.toolchain.build import BuildOptions, build

_BUILT: dict[str, tuple[zoo.ZooModel, Path]] = {}


@pytest.fixture(scope="module")
def coreml_package(tmp_path_factory):
    root = tmp_path_factory.mktemp("coreml")

    def get(name: str):
        if name not in _BUILT:
            model = zoo.get(name)
            model_path, sample_path = zoo.save(model, root / name)
            result = build(BuildOptions(model=model_path, sample=sample_path, out=root / name / "package",
                                        label_column=model.label, name=name, quiet=True, targets=["coreml"]))
            _BUILT[name] = (model, result.path)
        return _BUILT[name]

    return get


def _run(package: Package, artifact_id: str, frame) -> dict:
    schema = IOSchema.from_manifest(package.manifest)
    batch = InputBatch(records=records_from_frame(frame, schema), columns=frame_columns(frame, schema))
    with runner_class("coreml-spec")(package, package.artifact(artifact_id)) as runner:
        return runner.predict(batch)


def _metrics(model: zoo.ZooModel, got: dict, holdout) -> dict:
    X = holdout if model.fitted_on_frame else holdout.to_numpy()
    if model.task == "classification":
        classes = list(model.model.classes_)
        want_idx = np.array([classes.index(v) for v in model.model.predict(X)])
        return classification_metrics(model.model.predict_proba(X), got["probabilities"], want_idx)
    return regression_metrics(model.model.predict(X), got["value"], float(np.std(model.sample[model.label])))


@pytest.mark.parametrize("family", zoo.FAMILIES)
def test_coreml_float32_agrees_with_sklearn_on_holdout(family, coreml_package):
    model, path = coreml_package(family)
    package = Package.open(path)
    holdout = model.holdout.drop(columns=[model.label])
    metrics = _metrics(model, _run(package, "coreml", holdout), holdout)
    assert passes(metrics, DEFAULT_PROFILES["float32"]), metrics
    # every artifact (variants too) passed its own profile in the build's check, with the spec evaluator
    manifest = package.manifest
    assert {c["runtime"] for c in manifest["parity"]} == {"coreml-spec"}
    assert all(c["passed"] for c in manifest["parity"]), manifest["parity"]
    entry = package.artifact("coreml").entry
    assert entry["spec_version"] >= 1 and entry["min_ios"] and entry["min_macos"]
    assert [t["name"] for t in entry["inputs"]] == [f["name"] for f in manifest["inputs"]["features"]]
    assert (path / "snippets" / "ios" / "Predict.swift").read_text().count("MLFeatureValue(") == len(entry["inputs"])


def test_variants_exist_only_for_neural_networks(coreml_package):
    _, mlp = coreml_package("mlp_clf")
    _, forest = coreml_package("random_forest_clf")
    assert [a["id"] for a in json.loads((mlp / "manifest.json").read_text())["artifacts"]] == [
        "coreml", "coreml-float16", "coreml-int8", "coreml-palette"]
    assert [a["id"] for a in json.loads((forest / "manifest.json").read_text())["artifacts"]] == ["coreml"]


def test_perturbed_tree_threshold_fails_parity(coreml_package, tmp_path):
    from edgepack.converters.package_writer import file_record, write_package
    from edgepack.parity.coreml_spec import CoreMLModel

    model, path = coreml_package("decision_tree_clf")
    spec = CoreMLModel.open(path / "model.mlmodel").spec
    tree = spec.pipelineClassifier.pipeline.models[-1].treeEnsembleClassifier.treeEnsemble
    holdout = model.holdout.drop(columns=[model.label])
    # Move the root's threshold just past the nearest held-out value on its right: that one row (at
    # least) now takes the other branch. Everything else about the artifact stays as built.
    features = CoreMLModel.open(path / "model.mlmodel")
    vec_name = spec.pipelineClassifier.pipeline.models[-1].description.input[0].name
    root = next(n for n in tree.nodes if n.treeId == 0 and n.nodeId == 0)
    manifest = json.loads((path / "manifest.json").read_text())
    schema = IOSchema.from_manifest(manifest)
    inputs = {f.name: frame_columns(holdout, schema)[f.name] for f in schema.features}
    values = _vector(features, vec_name, inputs)[:, root.branchFeatureIndex]
    right = values[values > root.branchFeatureValue]
    root.branchFeatureValue = float(right.min())
    files = {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file() and p.name != "manifest.json"}
    files["model.mlmodel"] = spec.SerializeToString()
    entry = manifest["artifacts"][0]
    entry.update(file_record(files["model.mlmodel"]))
    entry["files"] = [{"file": f, **file_record(files[f])} for f in sorted(files) if f != "golden.json"]
    broken = Package.open(write_package(tmp_path / "broken", manifest, files))
    metrics = _metrics(model, _run(broken, "coreml", holdout), holdout)
    assert not passes(metrics, DEFAULT_PROFILES["float32"]), metrics
    assert metrics["disagreements"] >= 1 or metrics["max_probability_error"] > 1e-5


def _vector(model, name: str, inputs: dict) -> np.ndarray:
    """The named intermediate feature of a pipeline (the tree's input), computed by the evaluator."""
    pool = dict(inputs)
    for part in model.spec.pipelineClassifier.pipeline.models[:-1]:
        pool.update(model._evaluate(part, pool))
    return np.asarray(pool[name])


def test_runner_table_lists_the_spec_evaluator_first_on_linux():
    assert runners_for("coreml")[0] == "coreml-spec"
    assert "macOS" in (runner_class("coreml").availability() or "macOS")


def test_variant_option_is_checked():
    from edgepack.converters.targets.coreml import parse_variants
    from edgepack.runtime.errors import UsageError

    assert parse_variants("none") == []
    assert parse_variants("float16, int8") == ["float16", "int8"]
    with pytest.raises(UsageError, match="unknown Core ML variant"):
        parse_variants("int4")


def test_column_selections_by_mask_and_slice():
    """ColumnTransformer parts chosen by boolean mask and by slice (the rest dropped) reach the right
    Core ML inputs (expected values from scikit-learn)."""
    from pathlib import Path as _Path

    from edgepack.converters.sources.sample import infer_schema
    from edgepack.converters.sources.sklearn import SklearnSource
    from edgepack.converters.targets.coreml.sklearn_2_pipeline import convert
    from edgepack.parity.coreml_spec import CoreMLModel
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    frame = zoo.churn_frame(300, 5)[["tenure_months", "monthly_charges", "support_calls", "data_gb", "revenue"]].dropna()
    X = frame.drop(columns=["revenue"])
    model = Pipeline([("ct", ColumnTransformer([("a", StandardScaler(), [True, False, False, True]),
                                                ("b", MinMaxScaler(), slice(1, 2))], remainder="drop")),
                      ("ridge", Ridge())]).fit(X, frame.revenue)
    source = SklearnSource(model, _Path("m.joblib"))
    schema = infer_schema(source, X)
    got = CoreMLModel.from_bytes(convert(source, schema).SerializeToString()).predict(frame_columns(X, schema))["value"]
    assert np.abs(got - model.predict(X)).max() <= 1e-9


@pytest.mark.parametrize("family", ["numpy_random_forest_reg", "decision_tree_clf"])
def test_missing_values_follow_sklearn(family, coreml_package):
    """NaN in every nullable column: through the Imputer, or straight into the trees (scikit-learn's
    per-node missing_go_to_left), the Core ML artifact gives scikit-learn's outputs."""
    model, path = coreml_package(family)
    package = Package.open(path)
    holdout = model.holdout.drop(columns=[model.label]).copy()
    rng = np.random.default_rng(0)
    nullable = [f["name"] for f in package.manifest["inputs"]["features"] if f["nullable"]]
    assert nullable
    for name in nullable:
        holdout.loc[rng.random(len(holdout)) < 0.3, name] = np.nan
    metrics = _metrics(model, _run(package, "coreml", holdout), holdout)
    assert passes(metrics, DEFAULT_PROFILES["float32"]), metrics
