"""Weight-only int8 (issue 16, item 3): int8 weights with one scale per output channel, float32 compute.
TFLite (DEQUANTIZE) is checked in ai-edge-litert against Keras itself on rows the build never saw, and a
variant whose scales are broken must be dropped by the build; TF.js (uint8 storage + a per-channel Mul)
runs in TF.js in Node through the build's selection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zoo
from test_tf_targets import run_tflite, tflite_ops

COLUMNS = ["tenure_months", "senior_citizen", "monthly_charges", "total_charges", "support_calls", "data_gb"]


@pytest.fixture(scope="module")
def small_keras(tmp_path_factory: pytest.TempPathFactory):
    """A 6-64-32-3 network (2.7k weights) on the churn rows, its sample CSV and rows it was not built on."""
    import keras

    keras.utils.set_random_seed(2)
    frame = zoo.churn_frame().dropna(subset=COLUMNS).reset_index(drop=True)
    frame["plan"] = (frame.monthly_charges > 70).astype(int) + (frame.tenure_months > 24).astype(int)
    train, unseen = frame.iloc[:500], frame.iloc[500:]
    x = train[COLUMNS].to_numpy(np.float32)
    norm = keras.layers.Normalization()
    norm.adapt(x)
    model = keras.Sequential([keras.Input((6,)), norm, keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(32, activation="relu"), keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, train.plan.to_numpy(np.float32), epochs=40, batch_size=32, verbose=0)  # confident: few near-ties
    root = tmp_path_factory.mktemp("int8w")
    model.save(root / "small.keras")
    train[COLUMNS + ["plan"]].to_csv(root / "sample.csv", index=False)
    return model, root, unseen[COLUMNS].to_numpy(np.float32)


def _build(root: Path, out: str):
    from edgepack.toolchain.build import BuildOptions, build

    return build(BuildOptions(model=root / "small.keras", sample=root / "sample.csv", out=root / out, label_column="plan",
                              quiet=True, targets=["tflite"], quantize="tflite-int8-weights"))


def test_int8_weights_variant_is_per_channel_int8_and_agrees_on_unseen_rows(small_keras):
    from ai_edge_litert.interpreter import Interpreter

    model, root, unseen = small_keras
    result = _build(root, "package")
    arts = {a["id"]: a for a in result.manifest["artifacts"]}
    assert set(arts) == {"tflite", "tflite-int8-weights"}, [(v["reason"], v.get("metrics")) for v in result.manifest["quantization"]["variants"]]
    entry = arts["tflite-int8-weights"]
    assert (entry["precision"], entry["quantization"]) == ("int8", "weights-int8")
    data = (result.path / entry["file"]).read_bytes()
    assert len(data) < 0.6 * arts["tflite"]["size"]  # tiny network: the flatbuffer's fixed part weighs in
    assert "DEQUANTIZE" in tflite_ops(data)
    int8 = [t for t in Interpreter(model_content=data).get_tensor_details() if t["dtype"] == np.int8]
    assert int8 and all(len(t["quantization_parameters"]["scales"]) > 1 for t in int8)  # one scale per channel
    want = np.asarray(model(unseen))
    got = run_tflite(data, unseen)
    assert np.abs(got - want).max() <= 0.02 and np.mean(got.argmax(1) == want.argmax(1)) >= 0.995
    checked = {c["data"] for c in result.manifest["parity"] if c["artifact"] == "tflite-int8-weights"}
    assert checked == {"sample", "holdout", "interpolated"}


def test_a_variant_with_broken_scales_is_dropped(small_keras, monkeypatch):
    from edgepack.converters.quantize import tflite as q

    real = q.quantize_per_channel

    def wrong_scales(weights, axis):  # every channel dequantized with the first channel's scale reversed
        values, scale = real(weights, axis)
        return values, scale[::-1].copy()

    monkeypatch.setattr(q, "quantize_per_channel", wrong_scales)
    _, root, _ = small_keras
    result = _build(root, "broken")
    outcome = {v["id"]: v for v in result.manifest["quantization"]["variants"]}["tflite-int8-weights"]
    assert outcome["status"] == "dropped" and "fails the int8 profile" in outcome["reason"], outcome
    assert {a["id"] for a in result.manifest["artifacts"]} == {"tflite"}


@pytest.mark.slow  # a TF.js conversion and three Node runs
def test_tfjs_int8_weights_runs_in_tfjs_and_agrees_on_unseen_rows(small_keras):
    """The same per-channel form for TF.js, run by TF.js in Node (the build's tfjs runner)."""
    from edgepack.toolchain.build import BuildOptions, build

    _, root, _ = small_keras
    result = build(BuildOptions(model=root / "small.keras", sample=root / "sample.csv", out=root / "tfjs", label_column="plan",
                                quiet=True, targets=["tfjs"], quantize="tfjs-int8-weights"))
    outcome = {v["id"]: v for v in result.manifest["quantization"]["variants"]}["tfjs-int8-weights"]
    assert outcome["status"] == "kept" and outcome["size_ratio"] < 0.8, outcome  # tiny: model.json weighs in
    assert all(m["label_agreement"] >= 0.995 and m["max_probability_error"] <= 0.02 for m in outcome["metrics"].values())
    checks = [c for c in result.manifest["parity"] if c["artifact"] == "tfjs-int8-weights"]
    assert {c["runtime"] for c in checks} <= {"tfjs-node-wasm", "tfjs-node-cpu"} and len(checks) == 3


def test_tolerance_sets_the_profile_the_build_judges_by_and_is_recorded(small_keras):
    """--tolerance int8:max_probability_error=1e-9: the same variant the default profile keeps is dropped,
    and the manifest records the profile it was judged by."""
    from edgepack.toolchain.build import BuildOptions, build

    _, root, _ = small_keras
    result = build(BuildOptions(model=root / "small.keras", sample=root / "sample.csv", out=root / "strict", label_column="plan",
                                quiet=True, targets=["tflite"], quantize="tflite-int8-weights",
                                tolerance=["int8:max_probability_error=1e-9"]))
    outcome = {v["id"]: v for v in result.manifest["quantization"]["variants"]}["tflite-int8-weights"]
    assert outcome["status"] == "dropped" and "> 1e-09" in outcome["reason"], outcome
    assert result.manifest["tolerance_profiles"]["int8"] == {"min_label_agreement": 0.995, "max_probability_error": 1e-9,
                                                             "max_value_error": 0.02}
