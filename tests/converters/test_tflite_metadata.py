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
import struct
import zipfile

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")
pytest.importorskip("tensorflow")


# -- an independent flatbuffer reader: offsets and vtables, per the flatbuffers binary format --------------
class Table:
    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf, self.pos = buf, pos
        self.vtable = pos - struct.unpack_from("<i", buf, pos)[0]
        self.vsize = struct.unpack_from("<H", buf, self.vtable)[0]

    def _field(self, slot: int) -> int | None:
        at = 4 + 2 * slot
        if at >= self.vsize:
            return None
        off = struct.unpack_from("<H", self.buf, self.vtable + at)[0]
        return self.pos + off if off else None

    def _indirect(self, at: int) -> int:
        return at + struct.unpack_from("<I", self.buf, at)[0]

    def string(self, slot: int) -> str | None:
        at = self._field(slot)
        if at is None:
            return None
        start = self._indirect(at)
        n = struct.unpack_from("<I", self.buf, start)[0]
        return self.buf[start + 4:start + 4 + n].decode()

    def u8(self, slot: int) -> int:
        at = self._field(slot)
        return 0 if at is None else self.buf[at]

    def u32(self, slot: int) -> int:
        at = self._field(slot)
        return 0 if at is None else struct.unpack_from("<I", self.buf, at)[0]

    def table(self, slot: int) -> Table | None:
        at = self._field(slot)
        return None if at is None else Table(self.buf, self._indirect(at))

    def tables(self, slot: int) -> list[Table]:
        at = self._field(slot)
        if at is None:
            return []
        start = self._indirect(at)
        n = struct.unpack_from("<I", self.buf, start)[0]
        return [Table(self.buf, self._indirect(start + 4 + 4 * i)) for i in range(n)]

    def bytes_vector(self, slot: int) -> bytes:
        at = self._field(slot)
        start = self._indirect(at)
        n = struct.unpack_from("<I", self.buf, start)[0]
        return self.buf[start + 4:start + 4 + n]


def root(buf: bytes) -> Table:
    return Table(buf, struct.unpack_from("<I", buf, 0)[0])


# field ids: tensorflow/lite/schema/schema.fbs (Model, Metadata, Buffer) and tflite-support metadata_schema.fbs
MODEL_BUFFERS, MODEL_METADATA, META_NAME, META_BUFFER, BUFFER_DATA = 4, 6, 0, 1, 0
MM_NAME, MM_DESCRIPTION, MM_VERSION, MM_SUBGRAPHS, MM_AUTHOR, MM_LICENSE, MM_MIN_PARSER = 0, 1, 2, 3, 4, 5, 7
SG_INPUTS, SG_OUTPUTS, T_NAME, T_DESCRIPTION, T_CONTENT, T_FILES = 2, 3, 0, 1, 3, 6
F_NAME, F_TYPE, C_TYPE = 0, 2, 0


def read_metadata(model: bytes) -> bytes:
    m = root(model)
    entries = {e.string(META_NAME): e.u32(META_BUFFER) for e in m.tables(MODEL_METADATA)}
    return m.tables(MODEL_BUFFERS)[entries["TFLITE_METADATA"]].bytes_vector(BUFFER_DATA)


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
