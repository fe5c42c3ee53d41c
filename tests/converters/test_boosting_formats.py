"""XGBoost, LightGBM, CatBoost and native categorical splits (HistGradientBoosting, XGBoost enable_categorical and
LightGBM categorical_feature on integer codes, LightGBM on pandas category columns) in TFLite, TF.js and
Core ML, through the one tree reader (converters/sources/trees.py): each package is built for every format,
and each artifact, run in its runtime (ai-edge-litert, TF.js cpu backend in Node, the Core ML spec evaluator)
on held-out rows of real data sets with missing values and unseen categories, agrees with the library's own
predict_proba / predict: labels 100 %, probabilities within 1e-5, values within 1e-5 of the target's scale.

On rows placed on each split's boundary and one double step either side, every library is exact in every
format: XGBoost and CatBoost round their input to float32 first; LightGBM decides in float64, and its
TFLite/TF.js artifacts take the input as float64 parts (docs/ARCHITECTURE.md, "Exact tree decisions").
Artifacts with their leaf values scaled by 1.1, or with one category of one split moved to the other side
(checksums fixed), must fail the same comparison.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tabular_zoo
from edgepack.runtime.errors import ModelError

RUNNERS = {"tflite": ("tflite", "tflite"), "tfjs-cpu": ("tfjs", "tfjs-node-cpu"), "coreml-spec": ("coreml", "coreml-spec")}
# case -> the formats it builds to (beside ONNX); each booster family, each kind of booster file, Pipelines,
# native categorical splits
CASES: dict[str, tuple[str, ...]] = {
    "xgb_binary_breast_cancer": ("tflite", "tfjs", "coreml"),
    "xgb_softmax_wine_pipeline": ("tflite", "tfjs", "coreml"),
    "xgb_softmax_iris_booster_json": ("tflite", "tfjs", "coreml"),
    "xgb_poisson_diabetes": ("tflite", "tfjs", "coreml"),  # Core ML: trees, then a float32 exp stage
    "xgb_squared_diabetes_categories": ("tflite", "tfjs", "coreml"),
    "xgb_tweedie_diabetes_booster_ubj": ("tflite", "tfjs", "coreml"),
    "lgb_binary_breast_cancer_pipeline": ("tflite", "tfjs", "coreml"),
    "lgb_softmax_wine": ("tflite", "tfjs", "coreml"),
    "lgb_squared_diabetes_categories": ("tflite", "tfjs", "coreml"),
    "lgb_binary_breast_cancer_booster_txt": ("tflite", "tfjs", "coreml"),
    "cb_binary_breast_cancer": ("tflite", "tfjs", "coreml"),
    "cb_softmax_wine_cbm": ("tflite", "tfjs", "coreml"),
    "cb_squared_diabetes": ("tflite", "tfjs", "coreml"),
    "cb_squared_diabetes_categories": ("tflite", "tfjs", "coreml"),
    "hgb_native_categories_wine": ("tflite", "tfjs", "coreml"),
    "hgb_native_categories_squared_diabetes": ("tflite", "tfjs", "coreml"),
    # the boosters' own categorical splits on integer codes (tabular_zoo.coded_frame)
    **{name: ("tflite", "tfjs", "coreml") for name in tabular_zoo.NATIVE_CODED},
    # LightGBM and XGBoost on pandas category columns of text: ordinal codes in front of the trees; Core ML:
    # XGBoost's unknown category goes as missing, an OrdinalEncoder unknown_value NaN (refused below)
    **{name: ("tflite", "tfjs", "coreml") if name.startswith("lgb") else ("tflite", "tfjs")
       for name in tabular_zoo.PANDAS_CATEGORIES},
}
# (case, TF format) -> why its held-out rows cannot all pass yet (strict xfails: a fix turns them red)
GAPS: dict[tuple[str, str], str] = {}
# support-table family -> the cases in CASES that cover its TFLite, TF.js and Core ML cells
FORMAT_CASES: dict[str, tuple[str, ...]] = {
    "XGBClassifier": ("xgb_binary_breast_cancer",), "XGBRegressor": ("xgb_poisson_diabetes", "xgb_squared_diabetes_categories"),
    "LGBMClassifier": ("lgb_softmax_wine",), "LGBMRegressor": ("lgb_squared_diabetes_categories",),
    "CatBoostClassifier": ("cb_binary_breast_cancer",), "CatBoostRegressor": ("cb_squared_diabetes",),
    "xgboost Booster .json/.ubj": ("xgb_softmax_iris_booster_json",),
    "lightgbm Booster .txt": ("lgb_binary_breast_cancer_booster_txt",), "catboost model .cbm": ("cb_softmax_wine_cbm",),
}
_FORMAT_OF = {"tflite": "tflite", "tfjs-cpu": "tfjs", "coreml-spec": "coreml"}
_BUILT: dict[str, tuple[tabular_zoo.TabularCase, Path]] = {}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from edgepack.toolchain.build import BuildOptions, build

    root = tmp_path_factory.mktemp("boost-formats")

    def get(name: str) -> tuple[tabular_zoo.TabularCase, Path]:
        if name not in _BUILT:
            case = tabular_zoo.get(name)
            model_path, sample_path = tabular_zoo.save(case, root / name)
            one = {"variants": "float32"}
            opts = {"tflite": one, "tfjs": one, "coreml": {"variants": "none"}}
            targets = ["onnx", *CASES[name]]
            result = build(BuildOptions(model=model_path, sample=sample_path, out=root / name / "package",
                                        label_column=tabular_zoo.LABEL, quiet=True, targets=targets,
                                        target_options={k: v for k, v in opts.items() if k in targets}))
            _BUILT[name] = (case, result.path)
        return _BUILT[name]

    return get


def _run(path: Path, fmt: str, runner: str, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    from edgepack.converters.sources.sample import frame_columns, records_from_frame
    from edgepack.parity.runners import runner_class
    from edgepack.parity.runners.base import InputBatch
    from edgepack.runtime.package import Package
    from edgepack.runtime.schema import IOSchema

    package = Package.open(path)
    schema = IOSchema.from_manifest(package.manifest)
    batch = InputBatch(records=records_from_frame(frame, schema), columns=frame_columns(frame, schema))
    cls = runner_class(runner)
    if cls.availability():
        pytest.skip(f"{runner}: {cls.availability()}")
    with cls(package, package.artifact(format=fmt)) as r:
        return r.predict(batch)


def _errors(case: tabular_zoo.TabularCase, got: dict[str, np.ndarray], frame: pd.DataFrame) -> tuple[float, float]:
    """(label agreement, max error) against the library itself: probabilities, or values over the target's spread."""
    want = case.expected(frame)
    if case.task == "regression":
        scale = float(np.std(case.train[tabular_zoo.LABEL]))
        return 1.0, float(np.abs(np.asarray(got["value"], dtype=np.float64).reshape(-1) - want).max() / scale)
    probs = np.asarray(got["probabilities"], dtype=np.float64)
    return float(np.mean(np.argmax(probs, axis=1) == np.argmax(want, axis=1))), float(np.abs(probs - want).max())


def _marks(name: str, runner: str) -> list:
    gap = GAPS.get((name, _FORMAT_OF[runner]))
    covering = {c for cases in FORMAT_CASES.values() for c in cases}
    return [*([pytest.mark.xfail(strict=True, reason=gap)] if gap else []),
            *([pytest.mark.slow] if runner == "tfjs-cpu" and (name not in covering or gap) else [])]


HOLDOUT_CELLS = [pytest.param(name, runner, id=f"{name}-{runner}", marks=_marks(name, runner))
                 for name, formats in CASES.items() for runner in RUNNERS if _FORMAT_OF[runner] in formats]


@pytest.mark.parametrize(("name", "runner"), HOLDOUT_CELLS)
def test_held_out_rows_agree_with_the_library(name, runner, built):
    case, path = built(name)
    holdout = case.holdout[case.features]
    assert holdout.isna().to_numpy().any()  # the rows do carry missing values
    agreement, error = _errors(case, _run(path, *RUNNERS[runner], holdout), holdout)
    assert agreement == 1.0 and error <= 1e-5, (agreement, error)


def _boundary_rows(case: tabular_zoo.TabularCase, limit: int = 24) -> pd.DataFrame:
    """Held-out rows with one feature set on a split's boundary (the largest value the library sends left,
    in the reader's `x <= t` form) and one double step either side."""
    from edgepack.converters.sources.trees import read

    ens = read(case.model)
    base = case.holdout[case.features].to_numpy(dtype=np.float64)
    splits = list(dict.fromkeys((int(t.feature[n]), float(t.threshold[n])) for t in ens.trees
                                for n in np.flatnonzero(t.feature >= 0)))[:limit]
    rows = []
    for k, (j, b) in enumerate(splits):
        for v in (b, np.nextafter(b, np.inf), np.nextafter(b, -np.inf)):
            row = base[k % len(base)].copy()
            row[j] = v
            rows.append(row)
    return pd.DataFrame(rows, columns=case.features)


BOUNDARY = ["xgb_binary_breast_cancer", "cb_binary_breast_cancer", "lgb_softmax_wine"]
BOUNDARY_CELLS = [pytest.param(name, runner, id=f"{name}-{runner}", marks=[
    *([pytest.mark.slow] if runner == "tfjs-cpu" else [])]) for name in BOUNDARY for runner in RUNNERS]


@pytest.mark.parametrize(("name", "runner"), BOUNDARY_CELLS)
def test_split_boundaries_decide_like_the_library(name, runner, built):
    case, path = built(name)
    rows = _boundary_rows(case)
    agreement, error = _errors(case, _run(path, *RUNNERS[runner], rows), rows)
    assert agreement == 1.0 and error <= 1e-5, (agreement, error)


def _reseal(root: Path, changed: set[str]) -> None:
    """Record the changed files' hashes in the manifest, as a tamperer would (else loading refuses them)."""
    manifest = json.loads((root / "manifest.json").read_text())
    for art in manifest["artifacts"]:
        for rec in [art, *art.get("files", [])]:
            if rec["file"] in changed:
                data = (root / rec["file"]).read_bytes()
                rec["sha256"], rec["size"] = hashlib.sha256(data).hexdigest(), len(data)
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2))


def _scaled_leaves(path: Path, runner: str, tmp: Path, case: tabular_zoo.TabularCase) -> Path:
    """A copy of the package whose artifact of the runner's format has every leaf value times 1.1."""
    from edgepack.converters.coreml_protobuf import module
    from edgepack.converters.sources.trees import read

    copy = shutil.copytree(path, tmp / "broken")
    if runner == "coreml-spec":
        spec = module("Model_pb2").Model()
        spec.ParseFromString((copy / "model.mlmodel").read_bytes())
        last = spec.pipelineClassifier.pipeline.models[-1]
        kind = last.WhichOneof("Type")
        for node in getattr(last, kind).treeEnsemble.nodes:
            for info in node.evaluationInfo:
                info.evaluationValue *= 1.1
        (copy / "model.mlmodel").write_bytes(spec.SerializeToString())
        _reseal(copy, {"model.mlmodel"})
        return copy
    # TFLite and TF.js hold the gather walk's leaf table as raw little-endian float32 (this case is deep
    # enough for the gather strategy): find it and scale it in place.
    ens = read(case.model)
    table = np.concatenate([t.dense(ens.n_out) for t in ens.trees]).astype(np.float32)
    file = "model.tflite" if runner == "tflite" else "tfjs/tfjs/group1-shard1of1.bin"
    data = (copy / file).read_bytes()
    assert data.count(table.tobytes()) == 1
    (copy / file).write_bytes(data.replace(table.tobytes(), (table * np.float32(1.1)).tobytes()))
    _reseal(copy, {file})
    return copy


@pytest.mark.parametrize("runner", list(RUNNERS))
def test_an_artifact_with_scaled_leaves_is_caught(runner, built, tmp_path):
    case, path = built("lgb_softmax_wine")
    holdout = case.holdout[case.features]
    agreement, error = _errors(case, _run(path, *RUNNERS[runner], holdout), holdout)
    assert agreement == 1.0 and error <= 1e-5  # the untouched artifact passes
    broken = _scaled_leaves(path, runner, tmp_path, case)
    agreement, error = _errors(case, _run(broken, *RUNNERS[runner], holdout), holdout)
    assert agreement < 1.0 or error > 1e-5, (agreement, error)


def test_core_ml_poisson_trees_end_in_an_exp_stage_that_is_checked(built, tmp_path):
    """TreeEnsemble has no exp transform: the trees give the raw score and a NeuralNetwork EXP layer the
    value (float32). Held to 1e-5 of the target's scale on held-out rows against XGBoost; an exp stage
    computing exp(1.001 x) must fail the same comparison."""
    from edgepack.converters.coreml_protobuf import module

    case, path = built("xgb_poisson_diabetes")
    holdout = case.holdout[case.features]
    _, error = _errors(case, _run(path, *RUNNERS["coreml-spec"], holdout), holdout)
    assert error <= 1e-5, error
    copy = shutil.copytree(path, tmp_path / "broken")
    spec = module("Model_pb2").Model()
    spec.ParseFromString((copy / "model.mlmodel").read_bytes())
    stages = spec.pipeline.models[-1].pipeline.models
    assert [m.WhichOneof("Type") for m in stages] == ["treeEnsembleRegressor", "neuralNetworkRegressor"]
    stages[1].neuralNetworkRegressor.layers[0].unary.scale = 1.001
    (copy / "model.mlmodel").write_bytes(spec.SerializeToString())
    _reseal(copy, {"model.mlmodel"})
    _, error = _errors(case, _run(copy, *RUNNERS["coreml-spec"], holdout), holdout)
    assert error > 1e-5, error


def test_core_ml_unrolls_category_sets_into_equality_chains(built):
    """TreeEnsemble has no membership branch: each set becomes BranchOnValueEqual nodes, one per member."""
    from edgepack.converters.coreml_protobuf import module

    _case, path = built("hgb_native_categories_wine")
    spec = module("Model_pb2").Model()
    spec.ParseFromString((path / "model.mlmodel").read_bytes())
    trees = spec.pipelineClassifier.pipeline.models[-1].treeEnsembleClassifier.treeEnsemble
    assert any(n.nodeBehavior == trees.TreeNode.BranchOnValueEqual for n in trees.nodes)


def test_every_booster_yes_cell_is_in_the_matrix():
    """Each booster family or file the support table says yes to in TFLite, TF.js or Core ML has a case
    above that builds to that format and passes on held-out rows (no xfail)."""
    from edgepack.toolchain import support

    for row in support.rows():
        if row.family not in FORMAT_CASES and row.role != "booster file":
            continue
        for fmt in ("tflite", "tfjs", "coreml"):
            if row.cells[fmt].supported:
                assert any(fmt in CASES[c] and (c, fmt) not in GAPS for c in FORMAT_CASES[row.family]), (row.family, fmt)


def _category_to_move(case: tabular_zoo.TabularCase) -> tuple[int, int, int, float]:
    """(tree, node, code, low): a membership split and one of its codes whose move to the other side changes
    the library-exact arrays' output on the held-out rows (so every artifact must show it); `low` is the
    smallest code of any split (the TF lookup table's first column)."""
    from edgepack.converters.sources.boosted_trees import raw_scores
    from edgepack.converters.sources.sklearn import booster_trees

    ens = booster_trees(case.model)
    X = case.holdout[case.features].to_numpy(dtype=np.float64)
    before = raw_scores(ens, X)
    low = min(float(m.min()) for t in ens.trees for m in (t.left_categories or {}).values())
    for k, tree in enumerate(ens.trees):
        for node, members in (tree.left_categories or {}).items():
            for code in members:
                moved = {**(tree.left_categories or {}), node: members[members != code]}
                trees = [*ens.trees[:k], replace(tree, left_categories=moved), *ens.trees[k + 1:]]
                after = raw_scores(replace(ens, trees=trees), X)
                if np.abs(after - before).max() > 1e-3:
                    return k, node, int(code), low
    raise AssertionError("no category split decides a held-out row")


def _moved_category(path: Path, fmt: str, tmp: Path, case: tabular_zoo.TabularCase) -> Path:
    """A copy of the package whose artifact of `fmt` sends one category of one split to the other side."""
    import onnx
    from edgepack.converters.coreml_protobuf import module
    from edgepack.converters.sources.trees import read
    from onnx import numpy_helper

    k, node, code, low = _category_to_move(case)
    copy = shutil.copytree(path, tmp / f"moved-{fmt}")
    if fmt == "onnx":  # membership_values: each member node's codes, NaN-separated, in tree then node order
        model = onnx.load(str(copy / "model.onnx"))
        trees = next(n for n in model.graph.node if n.op_type == "TreeEnsemble")
        attr = next(a for a in trees.attribute if a.name == "membership_values")
        values = numpy_helper.to_array(attr.t).copy()
        ens = read(case.model)
        order = [(t, int(n)) for t, tree in enumerate(ens.trees) for n in np.flatnonzero(tree.left >= 0)
                 if int(n) in (tree.categories or {})]
        segment = order.index((k, node))
        starts = np.concatenate([[0], np.flatnonzero(np.isnan(values)) + 1])
        hit = starts[segment] + np.flatnonzero(values[starts[segment]:] == code)[0]
        values[hit] = -1000.0  # a code no row has: `code` now goes right
        attr.t.CopyFrom(numpy_helper.from_array(values, "membership_values"))
        (copy / "model.onnx").write_bytes(model.SerializeToString())
        _reseal(copy, {"model.onnx"})
    elif fmt == "coreml":  # the equality-chain links of that tree testing `code` now test a code no row has
        spec = module("Model_pb2").Model()
        spec.ParseFromString((copy / "model.mlmodel").read_bytes())
        last = spec.pipelineClassifier.pipeline.models[-1]
        ensemble = getattr(last, last.WhichOneof("Type")).treeEnsemble
        links = [n for n in ensemble.nodes if n.treeId == k and n.nodeBehavior == ensemble.TreeNode.BranchOnValueEqual
                 and n.branchFeatureValue == code]
        assert links
        for n in links:
            n.branchFeatureValue = -1000.0
        (copy / "model.mlmodel").write_bytes(spec.SerializeToString())
        _reseal(copy, {"model.mlmodel"})
    else:  # TFLite / TF.js: the lookup table (member node row x code - low) as raw little-endian float32
        ens = read(case.model)
        members = [(t, n, m) for t, tree in enumerate(ens.trees) for n, m in (tree.categories or {}).items()]
        span = int(max(m.max() for _, _, m in members) - low) + 1
        table = np.zeros((len(members) + 1, span + 1), dtype=np.float32)
        for row, (_t, _n, m) in enumerate(members, start=1):
            table[row, :span] = np.isin(np.arange(low, low + span), m)
        broken = table.copy()
        broken[1 + [(t, n) for t, n, _ in members].index((k, node)), int(code - low)] = 0.0
        file = "model.tflite" if fmt == "tflite" else "tfjs/tfjs/group1-shard1of1.bin"
        data = (copy / file).read_bytes()
        assert data.count(table.tobytes()) >= 1  # TF.js keeps one copy per walk step
        (copy / file).write_bytes(data.replace(table.tobytes(), broken.tobytes()))
        _reseal(copy, {file})
    return copy


@pytest.mark.parametrize("name", ["lgb_native_categories_binary_diabetes_booster_txt", "xgb_native_categories_binary_diabetes"])
@pytest.mark.parametrize("runner", list(RUNNERS))
def test_an_artifact_with_a_category_moved_is_caught(runner, name, built, tmp_path):
    """LightGBM categorical_feature / XGBoost enable_categorical splits: the untouched artifact agrees on
    held-out rows; a copy with one category of one split sent to the other side (checksums fixed) must not."""
    case, path = built(name)
    holdout = case.holdout[case.features]
    agreement, error = _errors(case, _run(path, *RUNNERS[runner], holdout), holdout)
    assert agreement == 1.0 and error <= 1e-5
    broken = _moved_category(path, RUNNERS[runner][0], tmp_path, case)
    agreement, error = _errors(case, _run(broken, *RUNNERS[runner], holdout), holdout)
    assert agreement < 1.0 or error > 1e-5, (agreement, error)


def test_onnx_with_a_category_moved_is_caught(built, tmp_path):
    """The same in ONNX (run in onnxruntime), for an XGBoost enable_categorical model."""
    case, path = built("xgb_native_categories_binary_diabetes")
    holdout = case.holdout[case.features]
    want = case.expected(holdout)
    assert np.abs(tabular_zoo.onnx_outputs(path, holdout)["probabilities"] - want).max() <= 1e-5
    broken = _moved_category(path, "onnx", tmp_path, case)
    assert np.abs(tabular_zoo.onnx_outputs(broken, holdout)["probabilities"] - want).max() > 1e-5


def test_core_ml_refuses_xgboost_pandas_categories_by_name_with_the_reason(tmp_path):
    """XGBoost sends an unseen category the missing way: an OrdinalEncoder whose unknown_value is NaN, which
    Core ML's encoders cannot give."""
    from edgepack.toolchain.build import BuildOptions, build

    case = tabular_zoo.get("xgb_pandas_categories_binary_diabetes")
    model_path, sample_path = tabular_zoo.save(case, tmp_path)
    with pytest.raises(ModelError) as err:
        build(BuildOptions(model=model_path, sample=sample_path, out=tmp_path / "pkg", label_column=tabular_zoo.LABEL,
                           quiet=True, targets=["coreml"]))
    assert "OrdinalEncoder" in str(err.value), str(err.value)
