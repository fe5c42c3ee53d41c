"""Issue 18's transformers that edgepack converts itself (FunctionTransformer with numpy ufuncs, TargetEncoder,
SplineTransformer; tests/tabular_zoo.py STEPS, real data with missing cells, unseen categories and values beyond
the training range held out) in every format: each case is built once with every format it is not refused in,
and each artifact runs in its runtime on the held-out rows against scikit-learn itself: 100 % labels,
probabilities within 1e-5, values within 1e-5 of the target's scale. The refusals name the step or feature and
the reason; a changed TargetEncoder encoding is caught by `edgepack parity`; a Python function is refused."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import tabular_zoo
from edgepack.converters.sources.sample import frame_columns, records_from_frame
from edgepack.parity.runners import runner_class
from edgepack.parity.runners.base import InputBatch
from edgepack.runtime.errors import ModelError
from edgepack.runtime.package import Package
from edgepack.runtime.schema import IOSchema

FORMATS = ("onnx", "tflite", "tfjs", "coreml", "c", "js")
# the runtimes each format is checked in here (ONNX: onnxruntime and the ONNX reference evaluator)
RUNTIMES = {"onnx": ("onnxruntime", "onnx-reference"), "tflite": ("tflite",), "tfjs": ("tfjs-node-wasm",),
            "coreml": ("coreml-spec",), "c": ("c-gcc",), "js": ("js-node",)}
SPLINE_IN_COREML = ["SplineTransformer", "piecewise polynomial"]
# (case, format) -> words the build's refusal must contain
REFUSED = {
    ("ridge_spline_linear_diabetes", "coreml"): SPLINE_IN_COREML,
    ("ridge_spline_continue_diabetes", "coreml"): SPLINE_IN_COREML,
    ("logreg_spline_breast_cancer", "coreml"): SPLINE_IN_COREML,
}
CELLS = [(case, fmt) for case in tabular_zoo.STEPS for fmt in FORMATS if (case, fmt) not in REFUSED]
FLOAT32_ONLY = {"tflite": {"variants": "float32"}, "tfjs": {"variants": "float32"}, "coreml": {"variants": "none"}}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    """case name -> (case, model path, package path): one package per case with every format it takes."""
    root = tmp_path_factory.mktemp("transformer_steps")
    cache: dict[str, tuple[tabular_zoo.TabularCase, Path, Path]] = {}

    def get(name: str) -> tuple[tabular_zoo.TabularCase, Path, Path]:
        if name not in cache:
            case = tabular_zoo.get(name)
            targets = [f for f in FORMATS if (name, f) not in REFUSED]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model_path, result = tabular_zoo.build_case(case, root / name, targets=targets, target_options={
                    f: FLOAT32_ONLY[f] for f in targets if f in FLOAT32_ONLY})
            assert result.manifest["parity"] and all(c["passed"] for c in result.manifest["parity"]), result.manifest["parity"]
            cache[name] = (case, model_path, result.path)
        return cache[name]

    return get


def _outputs(package: Path, artifact_id: str, runtime: str, frame) -> dict[str, np.ndarray]:
    pkg = Package.open(package)
    schema = IOSchema.from_manifest(pkg.manifest)
    batch = InputBatch(records=records_from_frame(frame, schema), columns=frame_columns(frame, schema))
    with runner_class(runtime)(pkg, pkg.artifact(artifact_id)) as runner:
        return runner.predict(batch)


@pytest.mark.parametrize("name,fmt", CELLS, ids=[f"{case}-{fmt}" for case, fmt in CELLS])
def test_artifact_agrees_with_sklearn_on_held_out_rows(name, fmt, built):
    case, _model, package = built(name)
    holdout = case.holdout.drop(columns=[tabular_zoo.LABEL])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = case.expected(case.holdout)  # scikit-learn's own output
    for runtime in RUNTIMES[fmt]:
        got = _outputs(package, fmt, runtime, holdout)
        if case.task == "classification":
            p = np.asarray(got["probabilities"], dtype=np.float64)
            assert np.array_equal(np.argmax(p, axis=1), np.argmax(want, axis=1)), runtime
            assert np.abs(p - want).max() <= 1e-5, (runtime, np.abs(p - want).max())
        else:
            error = np.abs(np.asarray(got["value"], dtype=np.float64).reshape(-1) - want).max()
            assert error <= 1e-5 * np.std(case.train[tabular_zoo.LABEL]), (runtime, error)


def test_the_held_out_rows_exercise_what_the_steps_handle():
    """Unseen and missing categories reach the TargetEncoders; spline inputs leave the training range."""
    te = tabular_zoo.get("ridge_target_encoder_diabetes")
    assert "unrecorded" in set(te.holdout["sex"])
    three = tabular_zoo.get("logreg_target_encoder_three_classes_diabetes")
    assert three.holdout["sex"].isna().any() and len(three.model[-1].classes_) == 3
    assert any(isinstance(c, float) for c in three.model[0].named_transformers_["cat"].categories_[0])  # NaN learnt
    for name in ("ridge_spline_linear_diabetes", "ridge_spline_continue_diabetes"):
        spline = tabular_zoo.get(name)
        knots = spline.model.named_steps["spline"].bsplines_[0].t
        age = spline.holdout["age"]
        assert (age < knots[3]).any() and (age > knots[-4]).any()


@pytest.mark.parametrize("name,fmt", list(REFUSED), ids=[f"{case}-{fmt}" for case, fmt in REFUSED])
def test_refused_by_name_with_the_reason(name, fmt, tmp_path):
    with pytest.raises(ModelError) as caught:
        tabular_zoo.build_case(tabular_zoo.get(name), tmp_path, targets=[fmt], target_options={fmt: FLOAT32_ONLY[fmt]})
    message = str(caught.value)
    assert all(word in message for word in REFUSED[(name, fmt)]), message


def test_parity_catches_a_changed_target_encoding(built, tmp_path):
    """The TargetEncoder's fitted encodings in model.onnx scaled by 1.01 (checksum fixed): parity against the
    model fails where the untouched package passes."""
    import onnx
    from edgepack.toolchain.cli import main
    from onnx import numpy_helper

    case, model_path, package = built("ridge_target_encoder_diabetes")
    args = tabular_zoo.parity_args(case, model_path, tmp_path, "onnxruntime")
    assert main(["parity", str(package), *args, "--json", str(tmp_path / "ok.json")]) == 0
    broken = shutil.copytree(package, tmp_path / "broken")
    graph = onnx.load(str(broken / "model.onnx"))
    tables = [t for t in graph.graph.initializer if "encodings" in t.name]
    assert len(tables) == 1
    tables[0].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(tables[0]) * 1.01, tables[0].name))
    tabular_zoo.replace_artifact(broken, "onnx", graph.SerializeToString())
    assert main(["parity", str(broken), *args, "--json", str(tmp_path / "bad.json")]) == 1


@pytest.mark.parametrize("setting,words", [
    ("lambda", ["FunctionTransformer(<lambda>) is not supported", "np.log1p"]),
    ("np.square", ["FunctionTransformer(square) is not supported"]),
    ("kw_args", ["kw_args", "np.log1p(x) alone"]),
    ("periodic", ["SplineTransformer(extrapolation='periodic'", "not supported"]),
    ("linear degree 1", ["degree=1, extrapolation='linear'", "wrong knot"]),
])
def test_settings_no_artifact_can_honour_are_refused_by_the_source(setting, words):
    from edgepack.converters.sources.sklearn import SklearnSource
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, SplineTransformer

    train, _ = tabular_zoo.real_frame("diabetes")
    X, y = train.drop(columns=[tabular_zoo.LABEL]).fillna(0.0), train[tabular_zoo.LABEL]
    step = {"lambda": lambda: FunctionTransformer(lambda v: v * 2),
            "np.square": lambda: FunctionTransformer(np.square),
            "kw_args": lambda: FunctionTransformer(np.log1p, kw_args={"dtype": np.float64}),
            "periodic": lambda: SplineTransformer(extrapolation="periodic"),
            "linear degree 1": lambda: SplineTransformer(degree=1, extrapolation="linear")}[setting]()
    model = make_pipeline(step, Ridge()).fit(X, y)
    with pytest.raises(ModelError) as caught:
        SklearnSource(model, Path("model.joblib"))
    assert all(w in str(caught.value) for w in words), str(caught.value)


def test_every_converted_step_has_cases_that_hold_it():
    from edgepack.converters.sources.sklearn import walk
    from edgepack.converters.targets.onnx_sklearn_steps import CONVERTED_STEPS

    assert set(tabular_zoo.TRANSFORMER_CASES) == set(CONVERTED_STEPS)
    for step, names in tabular_zoo.TRANSFORMER_CASES.items():
        assert set(names) <= set(tabular_zoo.STEPS)
        for name in names:
            assert step in {type(p).__name__ for p in walk(tabular_zoo.get(name).model)}, (step, name)
