"""TFLite (ai-edge-litert) and TF.js (Node, cpu and wasm backends) artifacts of every scikit-learn
family in the zoo and of small Keras networks, run on held-out rows and compared with the original
model itself: 100 % label agreement and probability error <= 1e-5 (regression: <= 1e-5 of the
target's scale). No .tflite may hold a Flex (Select TF) operator."""

from __future__ import annotations

from pathlib import Path

import keras_zoo
import numpy as np
import pytest
import zoo
from tfjs_node import run_tfjs, tfjs_modules
from tflite_run import run_tflite

FAMILIES = zoo.FAMILIES + keras_zoo.KERAS_FAMILIES


class Case:
    """A built package (float32 TFLite + TF.js) with its original model and held-out rows."""

    def __init__(self, name: str, root: Path) -> None:
        from edgepack.toolchain.build import BuildOptions, build

        if name in keras_zoo.KERAS_FAMILIES:
            model_path, sample_path, self.holdout, self.label = keras_zoo.make(name, root / name)
        else:
            z = zoo.get(name)
            model_path, sample_path = zoo.save(z, root / name)
            self.holdout, self.label = z.holdout, z.label
        options = {"variants": "float32"}
        keras = name in keras_zoo.KERAS_FAMILIES  # Keras packages carry ONNX too (tf2onnx), for the device scorer
        self.result = build(BuildOptions(model=model_path, sample=sample_path, out=root / name / "package",
                                         label_column=self.label, name=name, quiet=True,
                                         targets=["tflite", "tfjs", *(["onnx"] if keras else [])],
                                         target_options={"tflite": options, "tfjs": options}))
        self.path = self.result.path
        self.manifest = self.result.manifest
        from edgepack.converters.sources import load_source

        self.source = load_source(model_path)
        self.features = self.holdout.drop(columns=[self.label])

    def input_tensor(self, entry: dict) -> np.ndarray:
        """Held-out rows encoded per contract 2 as the artifact declares (float32 [N, F], or float64 parts
        [N, F, 3]; category index, NaN missing)."""
        from edgepack.converters.sources.sample import frame_columns
        from edgepack.runtime.records import tensors_for
        from edgepack.runtime.schema import IOSchema

        schema = IOSchema.from_manifest(self.manifest)
        binding = [{"name": "x", "features": schema.names, "dtype": entry["inputs"][0]["dtype"]}]
        return tensors_for(binding, frame_columns(self.features, schema), schema)["x"]

    def artifact(self, art_id: str) -> dict:
        return next(a for a in self.manifest["artifacts"] if a["id"] == art_id)

    def check(self, outputs: dict[str, np.ndarray]) -> None:
        """Compare with the original model's own predictions on the held-out rows."""
        want = self.source.predict(self.features)
        if "probabilities" in want:
            got = np.asarray(outputs["probabilities"], dtype=np.float64)
            assert np.abs(got - want["probabilities"]).max() <= 1e-5
            labels = np.asarray(self.manifest["outputs"]["classes"], dtype=object)[np.argmax(got, axis=1)]
            assert [str(v) for v in labels] == [str(v) for v in want["label"]]
        else:
            scale = float(self.manifest["outputs"]["value_scale"])
            assert np.abs(np.asarray(outputs["value"]).reshape(-1) - want["value"]).max() <= 1e-5 * scale


@pytest.fixture(scope="session")
def tf_case(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("tf_targets")
    cache: dict[str, Case] = {}

    def get(name: str) -> Case:
        if name not in cache:
            cache[name] = Case(name, root)
        return cache[name]

    return get


def tflite_ops(data: bytes) -> set[str]:
    """Operator names in the flatbuffer, without the default XNNPACK delegate folding them away."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_content=data, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    return {op["op_name"] for op in interpreter._get_ops_details()}


@pytest.mark.parametrize("family", FAMILIES)
def test_tflite_float32_agrees_with_the_model(family, tf_case):
    case = tf_case(family)
    entry = case.artifact("tflite")
    data = (case.path / entry["file"]).read_bytes()
    ops = tflite_ops(data)
    assert ops and not any(op.startswith("Flex") or not op.isupper() for op in ops), ops
    out = run_tflite(data, case.input_tensor(entry))
    name = next(iter(entry["outputs"]))
    case.check({name: out})
    check = next(c for c in case.manifest["parity"] if c["artifact"] == "tflite")
    assert check["passed"] and check["runtime"] == "tflite"


@pytest.mark.parametrize("backend", ["cpu", "wasm"])
@pytest.mark.parametrize("family", FAMILIES)
def test_tfjs_float32_agrees_with_the_model(family, backend, tf_case):
    modules = tfjs_modules()
    if modules is None:
        pytest.skip("TF.js for Node is not installed (make installs it under web/node_modules)")
    case = tf_case(family)
    entry = case.artifact("tfjs")
    assert entry["file"] == "tfjs/tfjs/model.json" and any(f["file"].endswith(".bin") for f in entry["files"])
    case.check(run_tfjs(case.path, entry, case.input_tensor(entry), backend, modules))


@pytest.mark.parametrize("family", keras_zoo.KERAS_FAMILIES)
def test_keras_onnx_agrees_with_the_model(family, tf_case):
    from edgepack.runtime.scorer import Scorer

    case = tf_case(family)
    scorer = Scorer.load(case.path)
    records = [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
               for r in case.features.to_dict(orient="records")]
    case.check(scorer.run_columns(_columns(case, records)))


def _columns(case: Case, records: list[dict]) -> dict[str, np.ndarray]:
    from edgepack.runtime.records import encode_records
    from edgepack.runtime.schema import IOSchema

    columns, kept, rejected = encode_records(IOSchema.from_manifest(case.manifest), records)
    assert not rejected and len(kept) == len(records)
    return columns


@pytest.mark.parametrize("runner", ["tflite", "tfjs-node-wasm", "tfjs-node-cpu"])
def test_parity_runners_score_held_out_records_like_the_model(runner, tf_case):
    """The runners the build and the parity harness use (records in, encoded by each runtime itself)."""
    from edgepack.converters.sources.sample import frame_columns, records_from_frame
    from edgepack.parity.runners import runner_class
    from edgepack.parity.runners.base import InputBatch
    from edgepack.runtime.package import Package
    from edgepack.runtime.schema import IOSchema

    cls = runner_class(runner)
    if cls.availability():
        pytest.skip(cls.availability())
    case = tf_case("hist_gradient_boosting_clf")  # NaN and unknown-category routing, ordinal encoder
    schema = IOSchema.from_manifest(case.manifest)
    package = Package.open(case.path)
    batch = InputBatch(records=records_from_frame(case.features, schema), columns=frame_columns(case.features, schema))
    with cls(package, package.artifact(format=cls.formats[0])) as run:
        case.check(run.predict(batch))
