"""Quantized TFLite variants of a Keras network with ~100k parameters: the build keeps each variant
only when it passes its precision's profile and says why it dropped the others; int8 files are at most
30 % of the float32 file and agree with Keras on >= 99 % of held-out labels. Plus: a deliberately
broken lowering is caught by the build's own check, and bad target options are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zoo
from edgepack.runtime.errors import UsageError
from test_tf_targets import run_tflite

COLUMNS = ["tenure_months", "senior_citizen", "monthly_charges", "total_charges", "support_calls", "data_gb"]


@pytest.fixture(scope="module")
def wide_keras(tmp_path_factory: pytest.TempPathFactory):
    import keras
    from edgepack.toolchain.build import BuildOptions, build

    keras.utils.set_random_seed(1)
    frame = zoo.churn_frame().dropna(subset=COLUMNS).reset_index(drop=True)
    train, holdout = frame.iloc[:600], frame.iloc[600:]
    x = train[COLUMNS].to_numpy(np.float32)
    norm = keras.layers.Normalization()
    norm.adapt(x)
    model = keras.Sequential([keras.Input((6,)), norm, keras.layers.Dense(256, activation="relu"),
                              keras.layers.Dense(256, activation="relu"), keras.layers.Dense(128, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    assert model.count_params() >= 100_000
    model.compile("adam", "binary_crossentropy")
    model.fit(x, train.churn.to_numpy(np.float32), epochs=3, batch_size=64, verbose=0)
    root = tmp_path_factory.mktemp("wide")
    model.save(root / "wide.keras")
    train[COLUMNS + ["churn"]].to_csv(root / "sample.csv", index=False)
    result = build(BuildOptions(model=root / "wide.keras", sample=root / "sample.csv", out=root / "package",
                                label_column="churn", quiet=True, targets=["tflite"]))
    return model, holdout[COLUMNS].to_numpy(np.float32), result


def test_every_variant_is_kept_or_dropped_with_a_reason(wide_keras):
    _, _, result = wide_keras
    kept = {a["id"] for a in result.manifest["artifacts"]}
    assert "tflite" in kept
    for check in result.manifest["parity"]:
        assert "label_agreement" in check["metrics"] and "max_probability_error" in check["metrics"]
        if check["artifact"] in kept:
            assert check["passed"]
        else:  # dropped on the sample, or (sample passed) on the holdout + interpolated rows
            last = [c for c in result.manifest["parity"] if c["artifact"] == check["artifact"]][-1]
            assert not last["passed"] and last["dropped"].startswith(f"dropped: fails the {check['profile']} profile")
            assert not (result.path / f"model-{check['artifact'].removeprefix('tflite-')}.tflite").exists()
    unseen = {c["artifact"] for c in result.manifest["parity"] if c["data"] == "holdout+interpolated"}
    assert kept - {"tflite"} <= unseen  # every kept variant was also checked on rows it was not fitted on
    assert {c["artifact"] for c in result.manifest["parity"]} == {
        "tflite", "tflite-float16", "tflite-int8-weights", "tflite-int8-dynamic", "tflite-int8"}


def test_int8_variants_are_small_and_agree(wide_keras):
    model, holdout, result = wide_keras
    entries = {a["id"]: a for a in result.manifest["artifacts"]}
    want = np.asarray(model(holdout)).reshape(-1) > 0.5
    int8 = [a for a in entries.values() if a["precision"] == "int8"]
    assert int8, "no int8 variant passed its profile"
    for entry in int8:
        assert entry["size"] <= 0.30 * entries["tflite"]["size"], (entry["id"], entry["size"], entries["tflite"]["size"])
        got = run_tflite((result.path / entry["file"]).read_bytes(), holdout)[:, 1] > 0.5
        assert np.mean(got == want) >= 0.99


def test_a_broken_lowering_is_caught_by_the_build_check(tmp_path: Path, monkeypatch):
    """Thresholds carried in float32 only (the mid and lo parts dropped) flip splits that sit on a data
    value (HistGradientBoosting's quantile bins): the build's check must fail that artifact."""
    from edgepack.converters.lowering import trees
    from edgepack.toolchain.build import BuildOptions, build

    exact = trees.fold_parts

    def hi_only(*args):
        parts = exact(*args)
        parts[:, 1:] = 0.0
        return parts

    monkeypatch.setattr(trees, "fold_parts", hi_only)
    z = zoo.get("hist_gradient_boosting_reg")
    model_path, sample_path = zoo.save(z, tmp_path)
    result = build(BuildOptions(model=model_path, sample=sample_path, out=tmp_path / "package", label_column=z.label,
                                quiet=True, targets=["tflite"], target_options={"tflite": {"variants": "float32"}}))
    check = result.checks[0]
    assert check["artifact"] == "tflite" and not check["passed"]
    assert check["metrics"]["max_scaled_error"] > 1e-5
    assert not result.passed


@pytest.mark.parametrize("option", [{"bogus": "1"}, {"tree_strategy": "fastest"}, {"variants": "int4"}])
def test_bad_target_options_are_refused(option, tmp_path: Path):
    from edgepack.toolchain.build import BuildOptions, build

    z = zoo.get("decision_tree_clf")
    model_path, sample_path = zoo.save(z, tmp_path)
    with pytest.raises(UsageError):
        build(BuildOptions(model=model_path, sample=sample_path, out=tmp_path / "package", label_column=z.label,
                           quiet=True, targets=["tflite"], target_options={"tflite": option}))


def test_gemm_and_gather_strategies_agree_with_the_model(tmp_path: Path):
    """Both tree formulations, forced by option, give scikit-learn's probabilities on held-out rows."""
    from edgepack.converters.sources.sample import frame_columns
    from edgepack.runtime.records import tensors_for
    from edgepack.runtime.schema import IOSchema
    from edgepack.toolchain.build import BuildOptions, build
    from test_tf_targets import tflite_ops

    z = zoo.get("random_forest_clf")
    model_path, sample_path = zoo.save(z, tmp_path)
    holdout = z.holdout.drop(columns=[z.label])
    want = z.model.predict_proba(holdout)
    ops = {}
    for strategy in ("gemm", "gather"):
        result = build(BuildOptions(model=model_path, sample=sample_path, out=tmp_path / strategy, label_column=z.label,
                                    quiet=True, targets=["tflite"],
                                    target_options={"tflite": {"variants": "float32", "tree_strategy": strategy}}))
        schema = IOSchema.from_manifest(result.manifest)
        binding = next(a for a in result.manifest["artifacts"] if a["id"] == "tflite")["inputs"]
        x = next(iter(tensors_for(binding, frame_columns(holdout, schema), schema).values()))
        data = (result.path / "model.tflite").read_bytes()
        got = run_tflite(data, x)
        assert np.abs(got - want).max() <= 1e-5
        assert list(np.argmax(got, axis=1)) == list(np.argmax(want, axis=1))
        ops[strategy] = tflite_ops(data)
    assert "BATCH_MATMUL" in ops["gemm"] and "BATCH_MATMUL" not in ops["gather"]
