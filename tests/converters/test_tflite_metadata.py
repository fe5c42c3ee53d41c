"""TFLite metadata for Android Studio's ML model binding (issue 19 item 5): a tabular package's .tflite
carries the TFLite Support ModelMetadata (name, description, version, author, license, tensor
descriptions) and, for a classifier, labels.txt as the probabilities' TENSOR_AXIS_LABELS file in the zip
appended to the model. Read back here with a decoder written against metadata_schema.fbs's field ids
(plain struct reads of the flatbuffer's vtables, not the writer's code), the labels with zipfile, and the
model run in ai-edge-litert before and after: the same outputs, bit for bit. A weight byte changed in the
stamped model must change the outputs (the comparison can fail)."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from tflite_meta_reader import (
    C_TYPE,
    F_NAME,
    F_TYPE,
    MM_AUTHOR,
    MM_DESCRIPTION,
    MM_LICENSE,
    MM_MIN_PARSER,
    MM_NAME,
    MM_SUBGRAPHS,
    MM_VERSION,
    SG_INPUTS,
    SG_OUTPUTS,
    T_CONTENT,
    T_DESCRIPTION,
    T_FILES,
    T_NAME,
    read_metadata,
    root,
)

pytest.importorskip("ai_edge_litert")
pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    import joblib
    import zoo
    from edgepack.toolchain.build import BuildOptions, build

    case = zoo.get("logreg_binary")
    root_dir = tmp_path_factory.mktemp("tflite_meta")
    model, sample = zoo.save(case, root_dir)
    result = build(BuildOptions(model=model, sample=sample, out=root_dir / "package", label_column=case.label,
                                name="churn", version="7", targets=["tflite"], target_options={"tflite": {"variants": "float32"}},
                                author="Data Team <data@example.com>", license="Apache-2.0",
                                description="Predicts churn from a customer's contract and usage.", quiet=True))
    manifest = json.loads((result.path / "manifest.json").read_text())
    return result.path, manifest, joblib.load(model), case


def test_the_metadata_reads_back_with_an_independent_decoder(built):
    path, manifest, _, _ = built
    data = (path / "model.tflite").read_bytes()
    meta = read_metadata(data)
    assert meta[4:8] == b"M001"
    mm = root(meta)
    assert (mm.string(MM_NAME), mm.string(MM_VERSION)) == ("churn", "7")
    assert mm.string(MM_DESCRIPTION) == "Predicts churn from a customer's contract and usage."
    assert (mm.string(MM_AUTHOR), mm.string(MM_LICENSE), mm.string(MM_MIN_PARSER)) == (
        "Data Team <data@example.com>", "Apache-2.0", "1.0.0")
    (subgraph,) = mm.tables(MM_SUBGRAPHS)
    (inp,) = subgraph.tables(SG_INPUTS)
    features = [f["name"] for f in manifest["inputs"]["features"]]
    assert inp.string(T_NAME) == "features" and all(f in inp.string(T_DESCRIPTION) for f in features)
    assert inp.table(T_CONTENT).u8(C_TYPE) == 1  # FeatureProperties
    (out,) = subgraph.tables(SG_OUTPUTS)
    assert out.string(T_NAME) == "probabilities"
    (labels,) = out.tables(T_FILES)
    assert (labels.string(F_NAME), labels.u8(F_TYPE)) == ("labels.txt", 2)  # TENSOR_AXIS_LABELS


def test_the_labels_file_is_in_the_appended_zip(built):
    path, manifest, model, _ = built
    data = (path / "model.tflite").read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["labels.txt"]
        labels = archive.read("labels.txt").decode().splitlines()
    assert labels == [str(c) for c in model.classes_]  # the source model's classes, in output order


def _with_a_weight_changed(data: bytes) -> bytes:
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(data))
    tensors = {t.buffer for g in model.subgraphs for t in g.tensors}  # weights, not the metadata buffer
    biggest = max((b for i, b in enumerate(model.buffers) if i in tensors and b.data is not None), key=lambda b: len(b.data))
    weights = np.frombuffer(bytes(bytearray(biggest.data)), dtype="<f4").copy()
    weights[0] = -weights[0] + 1.0
    biggest.data = np.frombuffer(weights.tobytes(), dtype=np.uint8)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def test_the_model_runs_the_same_with_its_metadata(built, tmp_path):
    """The raw conversion (the TFLite target, no metadata) and the stamped artifact of the same model."""
    import zoo
    from edgepack.converters.metadata import ModelInfo, stamp
    from edgepack.converters.sources import load_source
    from edgepack.converters.sources.sample import feature_frame, infer_schema, read_table
    from edgepack.converters.targets import tflite as target
    from test_tf_targets import run_tflite  # the TFLite target's own tests run a flatbuffer this way

    _, manifest, _, case = built
    model_path, sample_path = zoo.save(case, tmp_path)
    source = load_source(model_path)
    frame = feature_frame(source, read_table(sample_path), case.label, str(sample_path))
    schema = infer_schema(source, frame)
    (art,) = target.emit(source, schema, {"variants": "float32"})
    raw = art.files["model.tflite"]
    info = ModelInfo(name="churn", version="7", task=schema.task, inputs=manifest["inputs"]["features"],
                     classes=list(schema.classes))
    stamp(art, info)
    stamped = art.files["model.tflite"]
    assert len(stamped) > len(raw) and b"TFLITE_METADATA" in stamped and b"TFLITE_METADATA" not in raw
    x = target.sample_tensor(type("S", (), {"sample": frame})(), schema, rows=64)
    expected = run_tflite(raw, x)
    assert np.array_equal(run_tflite(stamped, x), expected)
    assert not np.array_equal(run_tflite(_with_a_weight_changed(stamped), x), expected)  # the comparison can fail
