"""`--quantize`: quantized ONNX variants chosen by parity.

Expected values come from the scikit-learn models themselves, and the kept variants are run here in
onnxruntime directly on rows the build never saw (the issue's check), not through the code under test.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from edgepack.parity.profiles import DEFAULT_PROFILES

EDGEPACK = [sys.executable, "-m", "edgepack.toolchain.cli"]
PIXELS = [f"px{i}" for i in range(64)]


def _digits_split():
    import pandas as pd
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(7).permutation(len(y))
    frame = pd.DataFrame(X[order], columns=PIXELS)
    frame["digit"] = y[order]
    # training rows, the build's sample (a part of the training rows), and rows nobody showed the build
    return frame.iloc[:1300], frame.iloc[:500], frame.iloc[1300:]


@pytest.fixture(scope="module")
def digits_mlp(tmp_path_factory):
    """A digits MLP with (128, 64) hidden units: 17k weights, enough for quantization to pay."""
    import joblib
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    train, sample, held_out = _digits_split()
    model = Pipeline([("scale", StandardScaler()),
                      ("mlp", MLPClassifier(hidden_layer_sizes=(128, 64), max_iter=80, random_state=0))])
    with threadpool_limits(1):  # BLAS threads fighting over 2 shared cores made this fit 25 times slower
        model.fit(train[PIXELS], train["digit"])
    root = tmp_path_factory.mktemp("digits_mlp")
    joblib.dump(model, root / "mlp.joblib")
    sample.to_csv(root / "sample.csv", index=False)
    return model, root, held_out


def _build(root, model_file, *extra):
    return subprocess.run([*EDGEPACK, "build", str(root / model_file), "--sample", str(root / "sample.csv"),
                           "--label-column", "digit", "-o", str(root / "package"), *extra],
                          capture_output=True, text=True, timeout=300)


def test_mlp_auto_keeps_a_variant_at_most_55_percent_that_passes_on_held_out_rows(digits_mlp):
    import onnxruntime as ort
    from edgepack.runtime import Scorer

    model, root, held_out = digits_mlp
    result = _build(root, "mlp.joblib", "--quantize", "auto")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((root / "package" / "manifest.json").read_text())
    arts = {a["id"]: a for a in manifest["artifacts"]}
    assert arts["onnx"]["default"] and arts["onnx"]["precision"] == "float32"
    small = [a for a in arts.values() if a["precision"] in ("int8", "float16") and a["size"] <= 0.55 * arts["onnx"]["size"]]
    assert small, f"no kept variant at most 55 % of float32: {[(a['id'], a['size']) for a in arts.values()]}"

    variant = small[0]
    assert variant["latency"]["single_row_ms"] > 0 and variant["latency"]["batch_ms"] > 0
    session = ort.InferenceSession(str(root / "package" / variant["file"]), providers=["CPUExecutionProvider"])
    (binding,) = variant["inputs"]
    got = session.run([variant["outputs"]["probabilities"]],
                      {binding["name"]: held_out[binding["features"]].to_numpy(np.float64)})[0]
    want = model.predict_proba(held_out[PIXELS])
    profile = DEFAULT_PROFILES[variant["precision"]]
    agreement = np.mean(np.argmax(got, 1) == np.argmax(want, 1))
    assert agreement >= profile["min_label_agreement"]
    assert np.abs(got - want).max() <= profile["max_probability_error"]

    # the device scorer picks the variant by id, and its self-test holds under the variant's profile
    scorer = Scorer.load(root / "package", artifact=variant["id"])
    assert scorer.artifact.precision == variant["precision"] and scorer.selftest().passed
    scored = scorer.predict_records(held_out[PIXELS].iloc[:5].to_dict("records"))
    assert [s["label"] for s in scored] == [int(k) for k in np.argmax(got[:5], 1)]

    listing = subprocess.run([*EDGEPACK, "inspect", "--variants", str(root / "package"), "--html", str(root / "v.html")],
                             capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0 and variant["id"] in listing.stdout
    page = (root / "v.html").read_text()
    assert "<svg" in page and "http" not in page.replace("http://www.w3.org/2000/svg", "")


def test_random_forest_auto_explains_which_modes_do_not_apply(tmp_path):
    import joblib
    from sklearn.ensemble import RandomForestClassifier

    train, sample, _ = _digits_split()
    joblib.dump(RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(train[PIXELS], train["digit"]),
                tmp_path / "rf.joblib")
    sample.to_csv(tmp_path / "sample.csv", index=False)
    result = _build(tmp_path, "rf.joblib", "--quantize", "auto")
    assert result.returncode == 0, result.stderr
    assert "not applicable" in result.stdout and "TreeEnsemble" in result.stdout
    manifest = json.loads((tmp_path / "package" / "manifest.json").read_text())
    assert [a["id"] for a in manifest["artifacts"]] == ["onnx"]
    tried = manifest["quantization"]["variants"]
    assert {v["id"] for v in tried} == {"onnx-float16", "onnx-int8-dynamic", "onnx-int8-static", "onnx-int8-weights"}
    assert all(v["status"] == "not applicable" and "MatMul/Gemm" in v["reason"] for v in tried)


def test_a_broken_variant_is_dropped_and_the_default_can_name_a_variant(digits_mlp, tmp_path, monkeypatch):
    """A deliberately broken int8 variant (weights scaled by 1.3 after quantization) must fail its check."""
    import onnx
    from edgepack.converters.quantize import onnx as onnx_variants
    from edgepack.toolchain.build import BuildOptions, build
    from onnx import numpy_helper

    real = onnx_variants._int8_weights

    def broken(model):
        data, converter = real(model)
        graph = onnx.load_from_string(data)
        for i, init in enumerate(graph.graph.initializer):
            if init.name.endswith("_scale"):
                graph.graph.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * 1.3, init.name))
        return graph.SerializeToString(), converter

    monkeypatch.setattr(onnx_variants, "_int8_weights", broken)
    _, root, _ = digits_mlp
    result = build(BuildOptions(model=root / "mlp.joblib", sample=root / "sample.csv", out=tmp_path / "p",
                                label_column="digit", quiet=True, quantize="int8-weights,float16",
                                default_variant="onnx-float16"))
    tried = {v["id"]: v for v in result.manifest["quantization"]["variants"]}
    assert tried["onnx-int8-weights"]["status"] == "dropped"
    assert "fails the int8 profile" in tried["onnx-int8-weights"]["reason"]
    arts = {a["id"]: a for a in result.manifest["artifacts"]}
    assert set(arts) == {"onnx", "onnx-float16"} and not (tmp_path / "p" / "model.int8-weights.onnx").exists()
    assert arts["onnx-float16"]["default"] and not arts["onnx"]["default"]


def test_unknown_quantization_mode_is_a_usage_error(tmp_path):
    result = subprocess.run([*EDGEPACK, "build", str(tmp_path / "m.joblib"), "--sample", str(tmp_path / "s.csv"),
                             "-o", str(tmp_path / "o"), "--quantize", "int4"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "int4" in result.stderr and "int8-dynamic" in result.stderr
    assert "Traceback" not in result.stderr


def test_variants_a_target_emits_itself_go_through_the_same_selection(digits_mlp, tmp_path, monkeypatch):
    """The hook for other formats: a target returning [float32, variant] gets its variant checked and kept
    (or dropped) like the ones built by --quantize."""
    from edgepack.converters import targets
    from edgepack.converters.quantize import onnx as onnx_variants
    from edgepack.toolchain.build import BuildOptions, build

    plain = targets.TARGETS["onnx"]

    def with_own_variant(source, schema, options):
        [base] = plain(source, schema, options)
        own = onnx_variants.emit_variant(base, "float16", None)
        del own.entry["variant_of"]
        return [base, own]

    monkeypatch.setitem(targets.TARGETS, "onnx", with_own_variant)
    _, root, _ = digits_mlp
    result = build(BuildOptions(model=root / "mlp.joblib", sample=root / "sample.csv", out=tmp_path / "p",
                                label_column="digit", quiet=True, quantize="int8-dynamic"))
    tried = {v["id"]: v for v in result.manifest["quantization"]["variants"]}
    assert tried["onnx-float16"]["status"] == "kept" and tried["onnx-float16"]["base"] == "onnx"
    checked = {(c["artifact"], c["data"]) for c in result.manifest["parity"]}
    assert {("onnx-float16", "holdout"), ("onnx-float16", "interpolated")} <= checked
