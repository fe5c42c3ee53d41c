"""Tree fidelity on the rows that break float32 artifacts: every scikit-learn tree family x every format
(ONNX in onnxruntime, the ONNX reference evaluator and onnxruntime-web in Node; TFLite; TF.js cpu and
wasm; Core ML's spec evaluator), run on held-out rows whose values sit exactly on a split's decision
boundary and one float64 step either side, compared with the source model itself: 100 % labels, max
probability (or scaled value) error <= 1e-5.

The boundary of a split is the largest raw value the source sends left: for a model behind a
StandardScaler that is found by bisection over the ordered doubles with scikit-learn's own arithmetic,
after folding the float32 cast of the families that cast (the same functions the converters use, so the
rows land where the source decides; the expected outputs still come from the source model).

TFLite and TF.js artifacts of HistGradientBoosting and of scaled casting families take each number as three
float32 parts (a float32 input cannot carry one double step); the others take float32 inputs.
A broken artifact (one threshold moved by one double step) must be caught on the same rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# family -> (estimator factory, task, has a scaler in front)
FAMILIES = {
    "decision_tree": (lambda: __import__("sklearn.tree", fromlist=["x"]).DecisionTreeClassifier(max_depth=4, random_state=0),
                      "classification", True),
    "random_forest": (lambda: __import__("sklearn.ensemble", fromlist=["x"]).RandomForestClassifier(4, max_depth=3, random_state=0),
                      "classification", False),
    "extra_trees": (lambda: __import__("sklearn.ensemble", fromlist=["x"]).ExtraTreesRegressor(4, max_depth=3, random_state=0),
                    "regression", True),
    "gradient_boosting": (lambda: __import__("sklearn.ensemble", fromlist=["x"]).GradientBoostingClassifier(
        n_estimators=4, max_depth=2, random_state=0), "classification", True),
    "hist_gradient_boosting": (lambda: __import__("sklearn.ensemble", fromlist=["x"]).HistGradientBoostingClassifier(
        max_iter=4, max_depth=3, random_state=0), "classification", True),
    "hist_gradient_boosting_regressor": (lambda: __import__("sklearn.ensemble", fromlist=["x"]).HistGradientBoostingRegressor(
        max_iter=4, max_depth=3, random_state=0), "regression", False),
}
RUNNERS = {"onnx": ("onnx", "onnxruntime"), "onnx-reference": ("onnx", "onnx-reference"),
           "onnx-web": ("onnx", "ort-web-node"), "tflite": ("tflite", "tflite"), "tfjs-cpu": ("tfjs", "tfjs-node-cpu"),
           "tfjs-wasm": ("tfjs", "tfjs-node-wasm"), "coreml-spec": ("coreml", "coreml-spec"),
           "c": ("c", "c-gcc"), "js": ("js", "js-node")}
FEATURES = ["a", "b", "c"]
MAX_SPLITS = 24  # boundaries probed per model (x 3 rows each): enough to cross every tree, small for CI


def _data(rows: int, seed: int, task: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=rows), "b": rng.lognormal(size=rows) * 1000, "c": rng.uniform(-1, 1, rows)})
    score = frame.a + np.log(frame.b) / 3 - frame.c
    frame["y"] = score if task == "regression" else np.where(score > 2.6, "high", np.where(score > 1.8, "mid", "low"))
    return frame


def _boundaries(pipeline) -> list[tuple[int, float]]:
    """(feature index, largest raw value the source sends left) per split, in the raw input space."""
    from edgepack.converters.lowering.thresholds import float32_cast_thresholds
    from edgepack.converters.sources.trees import read
    from edgepack.converters.targets.coreml.sklearn_4_trees import raw_thresholds

    ens = read(pipeline[-1])
    scaler = pipeline[0] if len(pipeline) > 1 else None
    out = []
    for tree in ens.trees:
        for node in np.flatnonzero(tree.feature >= 0):
            j, t = int(tree.feature[node]), tree.threshold[node:node + 1]
            t = float32_cast_thresholds(t) if ens.float32_inputs else t
            ops = (("sub", float(scaler.mean_[j])), ("div", float(scaler.scale_[j]))) if scaler is not None else ()
            out.append((j, float(raw_thresholds(ops, t)[0] if ops else t[0])))
    return list(dict.fromkeys(out))[:MAX_SPLITS]


def _threshold_rows(pipeline, holdout: pd.DataFrame) -> pd.DataFrame:
    rows = []
    base = holdout[FEATURES].to_numpy()
    for k, (j, b) in enumerate(_boundaries(pipeline)):
        for v in (b, np.nextafter(b, np.inf), np.nextafter(b, -np.inf)):
            row = base[k % len(base)].copy()
            row[j] = v
            rows.append(row)
    return pd.DataFrame(rows, columns=FEATURES)


class Case:
    def __init__(self, family: str, root: Path) -> None:
        import joblib
        from edgepack.toolchain.build import BuildOptions, build
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        factory, self.task, scaled = FAMILIES[family]
        train, holdout = _data(400, 1, self.task), _data(40, 2, self.task)
        steps = [("scale", StandardScaler())] if scaled else []
        self.model = Pipeline([*steps, ("model", factory())]).fit(train[FEATURES], train["y"])
        root.mkdir(parents=True)
        joblib.dump(self.model, root / "model.joblib")
        train.head(200).to_csv(root / "sample.csv", index=False)
        one = {"variants": "float32"}
        self.path = build(BuildOptions(model=root / "model.joblib", sample=root / "sample.csv", out=root / "package",
                                       label_column="y", quiet=True, targets=["onnx", "tflite", "tfjs", "coreml", "c", "js"],
                                       target_options={"tflite": one, "tfjs": one, "coreml": {"variants": "none"}})).path
        self.rows = _threshold_rows(self.model, holdout)

    def run(self, fmt: str, runner: str, package=None) -> dict[str, np.ndarray]:
        from edgepack.converters.sources.sample import frame_columns, records_from_frame
        from edgepack.parity.runners import runner_class
        from edgepack.parity.runners.base import InputBatch, Unavailable
        from edgepack.runtime.package import Package
        from edgepack.runtime.schema import IOSchema

        package = package or Package.open(self.path)
        schema = IOSchema.from_manifest(package.manifest)
        batch = InputBatch(records=records_from_frame(self.rows, schema), columns=frame_columns(self.rows, schema))
        cls = runner_class(runner)
        if hasattr(cls, "availability") and cls.availability():
            pytest.skip(f"{runner}: {cls.availability()}")
        try:
            with cls(package, package.artifact(format=fmt)) as r:
                return r.predict(batch)
        except Unavailable as exc:
            pytest.skip(str(exc))

    def errors(self, out: dict[str, np.ndarray]) -> tuple[float, float]:
        """(label agreement, max error) against the source model."""
        if self.task == "regression":
            want = self.model.predict(self.rows)
            scale = float(np.std(self.model.predict(self.rows))) or 1.0
            return 1.0, float(np.abs(np.asarray(out["value"]).reshape(-1) - want).max() / scale)
        want = self.model.predict_proba(self.rows)
        got = np.asarray(out["probabilities"], dtype=np.float64)
        labels = self.model.classes_[np.argmax(got, axis=1)]
        return float(np.mean(labels == self.model.predict(self.rows))), float(np.abs(got - want).max())


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory):
    cache: dict[str, Case] = {}

    def get(family: str) -> Case:
        if family not in cache:
            cache[family] = Case(family, tmp_path_factory.mktemp("fidelity") / family)
        return cache[family]

    return get


CELLS = [pytest.param(family, fmt, marks=[pytest.mark.slow] if fmt.startswith("tfjs") or fmt == "onnx-web" else [],
                      id=f"{family}-{fmt}")
         for family in FAMILIES for fmt in RUNNERS]


@pytest.mark.parametrize(("family", "fmt"), CELLS)
def test_every_format_decides_like_the_source_on_split_boundaries(family, fmt, case):
    c = case(family)
    agreement, error = c.errors(c.run(*RUNNERS[fmt]))
    assert agreement == 1.0 and error <= 1e-5, (agreement, error)


def _moved_threshold_package(c: Case, fmt: str, tmp: Path):
    """A copy of the package whose artifact has one split threshold moved by one double step
    (to the next double above: the boundary row now goes left where the source sends it right)."""
    import shutil

    from edgepack.runtime.package import Package

    copy = tmp / "broken"
    shutil.copytree(c.path, copy)
    entry = Package.open(copy).artifact(format=fmt).entry
    path = copy / entry["file"]
    if fmt == "onnx":
        import onnx
        from onnx import numpy_helper

        model = onnx.load(str(path))
        node = next(n for n in model.graph.node if n.op_type == "TreeEnsemble")
        attr = next(a for a in node.attribute if a.name == "nodes_splits")
        values = numpy_helper.to_array(attr.t).copy()
        root = next(a for a in node.attribute if a.name == "tree_roots").ints[0]
        values[root] = np.nextafter(values[root], np.inf)
        attr.t.CopyFrom(numpy_helper.from_array(values))
        onnx.save(model, str(path))
    else:
        from edgepack.converters.coreml_protobuf import module

        spec = module("Model_pb2").Model()
        spec.ParseFromString(path.read_bytes())
        trees = spec.pipelineClassifier.pipeline.models[-1].treeEnsembleClassifier.treeEnsemble
        node = next(n for n in trees.nodes if n.nodeBehavior != trees.TreeNode.LeafNode)
        node.branchFeatureValue = float(np.nextafter(node.branchFeatureValue, np.inf))
        path.write_bytes(spec.SerializeToString())
    _reseal(copy, entry["file"])
    return Package.open(copy)


def _reseal(root: Path, file: str) -> None:
    """Record the changed file's hash in the manifest, as a tamperer would (else loading refuses it)."""
    import hashlib
    import json

    manifest = json.loads((root / "manifest.json").read_text())
    data = (root / file).read_bytes()
    for art in manifest["artifacts"]:
        if art["file"] == file:
            art["sha256"], art["size"] = hashlib.sha256(data).hexdigest(), len(data)
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2))


@pytest.mark.parametrize("fmt", ["onnx", "coreml-spec"])
def test_a_threshold_moved_by_one_double_step_is_caught(fmt, case, tmp_path):
    c = case("random_forest")  # no scaler: the artifact's thresholds sit in the raw space the rows probe
    broken = _moved_threshold_package(c, RUNNERS[fmt][0], tmp_path)
    agreement, error = c.errors(c.run(*RUNNERS[fmt], package=broken))
    assert agreement < 1.0 or error > 1e-5


@pytest.fixture(scope="module")
def moved_source_package(case, tmp_path_factory: pytest.TempPathFactory):
    """(case, package) built from a copy of the HistGradientBoosting regressor whose first split threshold is
    one double step higher: every artifact of it carries that one threshold moved by one double step (the
    boundary row one step above now goes left where the source sends it right). TFLite and TF.js
    thresholds live in weight buffers of their own layout, so the move is made before conversion."""
    import copy

    import joblib
    from edgepack.runtime.package import Package
    from edgepack.toolchain.build import BuildOptions, build

    c = case("hist_gradient_boosting_regressor")  # no scaler: the raw boundary is the threshold itself
    model = copy.deepcopy(c.model)
    nodes = model[-1]._predictors[0][0].nodes
    nodes["num_threshold"][0] = np.nextafter(nodes["num_threshold"][0], np.inf)  # node 0 is the root
    root = tmp_path_factory.mktemp("moved")
    joblib.dump(model, root / "model.joblib")
    (root / "sample.csv").write_bytes((c.path.parent / "sample.csv").read_bytes())
    one = {"variants": "float32"}
    path = build(BuildOptions(model=root / "model.joblib", sample=root / "sample.csv", out=root / "package",
                              label_column="y", quiet=True, targets=["onnx", "tflite", "tfjs"],
                              target_options={"tflite": one, "tfjs": one})).path
    return c, Package.open(path)


@pytest.mark.parametrize("fmt", ["tflite", pytest.param("tfjs-cpu", marks=pytest.mark.slow)])
def test_a_tf_threshold_moved_by_one_double_step_is_caught_and_not_called_rounding(fmt, moved_source_package):
    from edgepack.converters.sources.sample import frame_columns, records_from_frame
    from edgepack.parity.explain import tree_explanations
    from edgepack.parity.runners.base import InputBatch
    from edgepack.runtime.schema import IOSchema

    c, broken = moved_source_package
    art = broken.artifact(format=RUNNERS[fmt][0])
    assert art.entry["inputs"][0]["dtype"] == "float64-parts"
    out = c.run(*RUNNERS[fmt], package=broken)
    agreement, error = c.errors(out)
    assert agreement < 1.0 or error > 1e-5
    want = c.model.predict(c.rows)
    scale = float(np.std(want)) or 1.0
    row_error = np.abs(np.asarray(out["value"]).reshape(-1) - want) / scale
    schema = IOSchema.from_manifest(broken.manifest)
    batch = InputBatch(records=records_from_frame(c.rows, schema), columns=frame_columns(c.rows, schema))
    explained = tree_explanations(broken, art, batch, np.flatnonzero(row_error > 1e-5), errors=row_error, limit=1e-5)
    assert explained and all("float32 rounding" not in e["why"] and "not a rounding effect" in e["why"] for e in explained), [
        e["why"] for e in explained]


@pytest.mark.parametrize(("family", "want"), [("random_forest", "float32"), ("decision_tree", "float64-parts"),
                                              ("hist_gradient_boosting_regressor", "float64-parts")])
def test_only_models_that_decide_beyond_float32_take_float64_parts(family, want, case):
    """HistGradientBoosting (float64 decisions) and a casting family behind a scaler need the parts; a
    casting family on raw numbers sees exactly the float32 input's value and keeps a float32 [N, F] input."""
    from edgepack.runtime.package import Package

    package = Package.open(case(family).path)
    for fmt in ("tflite", "tfjs"):
        assert package.artifact(format=fmt).entry["inputs"][0]["dtype"] == want, fmt


@pytest.mark.parametrize("fmt", ["c", "js"])
@pytest.mark.parametrize("family", list(FAMILIES))
def test_generated_code_is_exact_in_double(family, fmt, case):
    """Targets c and js compute the trees in double like scikit-learn: 100 % labels and an error at the level
    of float64 rounding (issue 21's 1e-12), on the rows placed on every split boundary."""
    c = case(family)
    agreement, error = c.errors(c.run(*RUNNERS[fmt]))
    assert agreement == 1.0 and error <= 1e-12, (agreement, error)
