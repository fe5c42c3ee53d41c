"""Keras sequence classifiers with recurrent layers (Embedding -> LSTM / GRU / Bidirectional GRU + LSTM ->
softmax; the GRU one skips padding with mask_zero) built to ONNX, TFLite, TF.js and Core ML: every float32 artifact run in its runtime against the
Keras model on the sample and on held-out sequences, with a dynamic batch; an artifact with one
recurrent weight changed is caught; a recurrence over sequences of variable length is refused by name
where a format needs it unrolled (TFLite keeps it, with a batch of 1)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from edgepack.converters.package_writer import file_record
from edgepack.converters.sources import load_source
from edgepack.runtime.errors import EXIT_MODEL, ModelError
from edgepack.runtime.package import Package
from edgepack.toolchain.build import BuildOptions, build
from edgepack.toolchain.build_tensor import check_tensor_artifact

from .models import keras_recurrent, sequences

FORMATS = ("onnx", "tflite", "tfjs", "coreml")
KINDS = ("lstm", "gru", pytest.param("stacked", marks=pytest.mark.slow))


@pytest.fixture(scope="module", params=KINDS)
def recurrent(request, tmp_path_factory):
    """(kind, model path, build result) for each recurrent classifier, float32 artifacts only."""
    folder = tmp_path_factory.mktemp(request.param)
    model, sample = keras_recurrent(folder, request.param)
    result = build(BuildOptions(model=model, sample=sample, out=folder / "package", quiet=True, targets=list(FORMATS),
                                target_options={f: {"variants": "float32"} for f in FORMATS}))
    return request.param, model, result


def test_recurrent_classifier_reaches_every_format_with_a_dynamic_batch(recurrent):
    _, _, result = recurrent
    for check in result.checks:
        assert check["status"] == "pass", check
        assert check["metrics"]["top1_agreement"] == 1.0 and check["metrics"]["max_abs_error"] <= 1e-4, check
    assert {a["id"] for a in result.manifest["artifacts"]} == set(FORMATS)
    (tokens,) = result.manifest["inputs"]["tensors"]
    assert (tokens["name"], tokens["dtype"], tokens["shape"]) == ("tokens", "int32", [None, 12])
    assert not any("batch" in a for a in result.manifest["artifacts"])  # no fixed batch of 1 any more


def test_held_out_sequences_agree_with_keras(recurrent):
    """Sequences never in the sample, in one batch of 40 through each format's runtime."""
    from edgepack.parity.runners.tensor import tensor_runners_for
    from edgepack.parity.tensor_metrics import tensor_metrics

    _, model, result = recurrent
    tokens = {"tokens": sequences(40, seed=7)}
    ref = load_source(model).predict_tensors(tokens)
    package = Package.open(result.path)
    for fmt in FORMATS:
        _, run, _ = tensor_runners_for(fmt)[0]
        metrics = tensor_metrics(ref, run(package, package.artifact(fmt), tokens), {"probabilities": "probabilities"})
        assert metrics["top1_agreement"] == 1.0 and metrics["max_abs_error"] <= 1e-4, (fmt, metrics)


def _recurrent_kernel(model_path) -> np.ndarray:
    import keras

    model = keras.models.load_model(model_path)
    layer = next(x for x in model.layers if type(x).__name__ in ("LSTM", "GRU"))
    return np.asarray(layer.cell.recurrent_kernel, dtype=np.float32)


def _change_one_weight(data: bytes, kernel: np.ndarray) -> bytes:
    """`data` with one element of the recurrent kernel (stored as is or transposed, float32) changed by 0.5,
    in every copy of the kernel (TF.js stores one per time step, see docs/DEPENDENCIES.md)."""
    for stored in (kernel, np.ascontiguousarray(kernel.T)):
        raw, at = bytearray(data), data.find(stored.tobytes())
        while at >= 0:
            value = np.frombuffer(raw, dtype=np.float32, count=1, offset=at + 4 * 5)[0] + np.float32(0.5)
            raw[at + 4 * 5:at + 4 * 6] = np.float32(value).tobytes()
            at = data.find(stored.tobytes(), at + 1)
        if raw != data:
            return bytes(raw)
    raise AssertionError("the recurrent kernel's float32 values are not in the artifact's files")


def test_each_format_stores_a_recurrent_kernel_once(recurrent):
    """Unrolled, every time step reads the kernels; the artifacts keep one copy (TF.js: shared_weights)."""
    kind, model, result = recurrent
    if kind != "lstm":
        pytest.skip("one model is enough")
    kernel = _recurrent_kernel(model)
    for entry in result.manifest["artifacts"]:
        files = [result.path / r["file"] for r in entry.get("files") or [entry]]
        copies = sum(p.read_bytes().count(k.tobytes()) for p in files for k in (kernel, np.ascontiguousarray(kernel.T)))
        assert copies == 1, (entry["id"], copies)


@pytest.mark.parametrize("fmt", FORMATS)
def test_one_changed_recurrent_weight_is_caught(recurrent, fmt, tmp_path):
    kind, model, result = recurrent
    if kind != "lstm":
        pytest.skip("one model is enough to show a damaged recurrence is caught")
    copy = tmp_path / "broken"
    shutil.copytree(result.path, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    entry = next(a for a in manifest["artifacts"] if a["id"] == fmt)
    kernel = _recurrent_kernel(model)
    changed = 0
    for record in entry.get("files") or [entry]:
        path = copy / record["file"]
        try:
            path.write_bytes(_change_one_weight(path.read_bytes(), kernel))
        except AssertionError:
            continue
        record.update(file_record(path.read_bytes()))
        if record is not entry and record["file"] == entry["file"]:
            entry.update(file_record(path.read_bytes()))
        changed += 1
    assert changed == 1, f"{fmt}: the recurrent kernel was found in {changed} files"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    golden = Package.open(result.path).golden()
    inputs = {"tokens": np.asarray(golden["inputs"]["tokens"], dtype=np.int32)}
    ref = {"probabilities": np.asarray(golden["outputs"]["probabilities"])}
    check = check_tensor_artifact(copy, entry, inputs, ref, {"probabilities": "probabilities"})
    assert check["status"] == "fail" and any("absolute error" in f for f in check["failures"]), check


def test_sequences_of_variable_length_are_refused(tmp_path):
    """Every format gets the recurrence unrolled over a known number of steps, and the package format
    fixes every dimension but the batch: a model reading sequences of any length is refused (exit 5)."""
    model, sample = keras_recurrent(tmp_path, "gru", length=None)
    with pytest.raises(ModelError) as info:
        build(BuildOptions(model=model, sample=sample, out=tmp_path / "refused", quiet=True, targets=["onnx"]))
    assert info.value.exit_code == EXIT_MODEL
    assert "input 'tokens' has shape [None, None]" in info.value.what
    assert not (tmp_path / "refused").exists()


def test_unrolling_refuses_a_recurrent_layer_of_variable_length_by_name():
    """The guard behind the source's own refusal: no format gets a recurrence it would have to loop."""
    import keras
    from edgepack.converters.targets.tensor.tf_graph import unrolled

    tokens = keras.Input((None,), dtype="int32")
    x = keras.layers.Bidirectional(keras.layers.GRU(4), name="bigru")(keras.layers.Embedding(10, 4)(tokens))
    with pytest.raises(ModelError) as info:
        unrolled(keras.Model(tokens, keras.layers.Dense(2, activation="softmax")(x)))
    assert info.value.exit_code == EXIT_MODEL
    assert "recurrent layer 'bigru' (Bidirectional) reads sequences of variable length" in info.value.what
