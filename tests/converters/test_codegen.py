"""Targets c and js on every supported scikit-learn family: the generated C compiled with gcc (strict C99)
and the ES module run in Node agree with scikit-learn itself on held-out rows (labels 100 %, probability
error <= 1e-5, regression error <= 1e-5 of the target's scale). Expected values come from the original
model. A deliberately broken artifact (one constant of the generated code changed, its checksum updated
so only the numbers can tell) must fail `edgepack parity`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import zoo
from edgepack.converters.sources.sample import frame_columns, records_from_frame
from edgepack.parity.runners import runner_class
from edgepack.parity.runners.base import InputBatch
from edgepack.runtime.package import Package, sha256_bytes
from edgepack.runtime.schema import IOSchema
from edgepack.toolchain.build import BuildOptions, build
from edgepack.toolchain.cli import main as edgepack

_CACHE: dict[str, Path] = {}


def _package(family: str, tmp_path_factory) -> tuple[zoo.ZooModel, Path]:
    model = zoo.get(family)
    if family not in _CACHE:
        root = tmp_path_factory.mktemp(f"codegen-{family}")
        model_path, sample_path = zoo.save(model, root)
        result = build(BuildOptions(model=model_path, sample=sample_path, out=root / "package", label_column=model.label,
                                    name=family, targets=["onnx", "c", "js"], quiet=True))
        _CACHE[family] = result.path
    return model, _CACHE[family]


@pytest.mark.parametrize("runtime", ["c-gcc", "js-node"])
@pytest.mark.parametrize("family", zoo.FAMILIES)
def test_generated_code_agrees_with_sklearn_on_holdout(family, runtime, tmp_path_factory):
    model, path = _package(family, tmp_path_factory)
    package = Package.open(path)
    schema = IOSchema.from_manifest(package.manifest)
    holdout = model.holdout.drop(columns=[model.label])
    batch = InputBatch(records_from_frame(holdout, schema), frame_columns(holdout, schema))
    fmt = "c" if runtime == "c-gcc" else "js"
    with runner_class(runtime)(package, package.artifact(fmt, format=fmt)) as runner:
        got = runner.predict(batch)
    X = holdout if model.fitted_on_frame else holdout.to_numpy()
    if model.task == "classification":
        want = model.model.predict_proba(X)
        assert np.abs(got["probabilities"] - want).max() <= 1e-5
        labels = np.asarray(package.manifest["outputs"]["classes"], dtype=object)[np.argmax(got["probabilities"], axis=1)]
        assert list(labels) == list(model.model.predict(X))
    else:
        scale = float(np.std(model.sample[model.label]))
        assert np.abs(got["value"] - model.model.predict(X)).max() <= 1e-5 * scale
    checks = {c["artifact"]: c for c in package.manifest["parity"]}
    assert checks[fmt]["passed"] and checks[fmt]["runtime"] == runtime


def _break(path: Path, file: str) -> None:
    """Change the first long decimal constant of a generated file and fix up its checksums."""
    text = (path / file).read_text()
    match = re.search(r"(?<![\w.])(0\.\d{6,})", text)
    assert match, "no constant to break"
    text = text[: match.start()] + "0.75" + text[match.end():]
    data = text.encode()
    (path / file).write_bytes(data)
    manifest = json.loads((path / "manifest.json").read_text())
    for entry in manifest["artifacts"]:
        if entry["file"] == file:
            entry["sha256"], entry["size"] = sha256_bytes(data), len(data)
        for part in entry.get("files", []):
            if part["file"] == file:
                part["sha256"], part["size"] = sha256_bytes(data), len(data)
    (path / "manifest.json").write_text(json.dumps(manifest, indent=2))


@pytest.mark.parametrize("file", ["model.c", "model.mjs"])
def test_a_broken_generated_artifact_fails_parity(file, tmp_path, tmp_path_factory):
    model, path = _package("logreg_binary", tmp_path_factory)
    broken = tmp_path / "package"
    shutil.copytree(path, broken)
    _break(broken, file)
    runtime = "c-gcc" if file.endswith(".c") else "js-node"
    assert edgepack(["parity", str(broken), "--runtimes", runtime]) == 1
    assert edgepack(["parity", str(path), "--runtimes", runtime]) == 0


def test_the_c_code_compiles_clean_and_needs_no_libm_for_trees(tmp_path_factory, tmp_path):
    _model, path = _package("random_forest_clf", tmp_path_factory)
    entry = Package.open(path).artifact("c", format="c").entry
    assert entry["needs_libm"] is False
    done = subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-c", str(path / "model.c"),
                           "-o", str(tmp_path / "model.o")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    undefined = subprocess.run(["nm", "-u", str(tmp_path / "model.o")], capture_output=True, text=True).stdout.split()
    assert [s for s in undefined if s not in ("U",)] == []  # nothing from libc or libm


def test_the_record_checks_refuse_what_the_device_refuses(tmp_path_factory):
    """A missing value where the schema says not nullable: the JS module names the field (as the device does)."""
    _model, path = _package("logreg_binary", tmp_path_factory)
    schema = IOSchema.from_manifest(json.loads((path / "manifest.json").read_text()))
    strict = [f for f in schema.features if not f.nullable]
    if not strict:
        pytest.skip("every feature of this package is nullable")
    record = {f.name: (f.categories[0] if f.type == "category" else 1) for f in schema.features}
    record[strict[0].name] = None
    code = (f"import('{(path / 'model.mjs').as_uri()}').then(m => console.log(JSON.stringify(m.predict([{json.dumps(record)}]))))")
    out = json.loads(subprocess.run(["node", "-e", code], capture_output=True, text=True, check=True).stdout)
    assert out[0]["field"] == strict[0].name and "missing value" in out[0]["error"]


@pytest.mark.slow
@pytest.mark.parametrize("family", ["gradient_boosting_clf", "hist_gradient_boosting_reg", "mlp_clf"])
def test_the_c_code_gives_the_same_numbers_on_32_bit_arm(family, tmp_path_factory):
    """Cross-compiled for 32-bit ARM (the word size of microcontrollers) and run under qemu-user: the same
    outputs as on this machine, bit for bit."""
    if not shutil.which("arm-linux-gnueabihf-gcc") or not shutil.which("qemu-arm-static"):
        pytest.skip("no 32-bit ARM toolchain: make codegen-tools (gcc-arm-linux-gnueabihf, qemu-user-static)")
    model, path = _package(family, tmp_path_factory)
    package = Package.open(path)
    schema = IOSchema.from_manifest(package.manifest)
    holdout = model.holdout.drop(columns=[model.label])
    batch = InputBatch(records_from_frame(holdout, schema), frame_columns(holdout, schema))
    artifact = package.artifact("c", format="c")
    with runner_class("c-gcc")(package, artifact) as native:
        here = native.predict(batch)
    with runner_class("c-gcc")(package, artifact, cc="arm-linux-gnueabihf-gcc", emulator="qemu-arm-static") as arm:
        there = arm.predict(batch)
    for key in here:
        assert np.array_equal(here[key], there[key])


@pytest.mark.parametrize("family", ["gradient_boosting_clf", "mlp_clf"])
def test_optimisation_does_not_change_a_single_bit(family, tmp_path_factory):
    """-O0 and -O2 builds give the same bits: float32 roundings the graph defines survive the optimiser
    (GCC 12's SLP vectorizer dropped one at -O2 until the generated file turned that pass off)."""
    model, path = _package(family, tmp_path_factory)
    package = Package.open(path)
    schema = IOSchema.from_manifest(package.manifest)
    holdout = model.holdout.drop(columns=[model.label])
    batch = InputBatch(records_from_frame(holdout, schema), frame_columns(holdout, schema))
    artifact = package.artifact("c", format="c")
    from edgepack.parity.runners import c_gcc

    results = []
    for level in ("-O0", "-O2"):
        flags = [f for f in c_gcc.CFLAGS if not f.startswith("-O")] + [level]
        original, c_gcc.CFLAGS = c_gcc.CFLAGS, flags
        try:
            with runner_class("c-gcc")(package, artifact) as runner:
                results.append(runner.predict(batch))
        finally:
            c_gcc.CFLAGS = original
    for key in results[0]:
        assert np.array_equal(results[0][key], results[1][key])


@pytest.mark.slow
@pytest.mark.parametrize("case", ["keras_mlp", "xgboost", "lightgbm"])
def test_keras_and_boosting_packages_build_to_c_and_js(case, tmp_path):
    """Every source reaches c and js through its ONNX graph: a Keras MLP (tf2onnx), XGBoost and LightGBM
    (edgepack's double TreeEnsemble); the build checks each artifact in gcc and Node against the model."""
    import joblib
    import pandas as pd

    if case == "keras_mlp":
        import keras_zoo

        model_path, sample_path, _holdout, label = keras_zoo.make("keras_mlp_softmax", tmp_path)
    else:
        from sklearn.datasets import load_breast_cancer, load_diabetes

        if case == "xgboost":
            from xgboost import XGBClassifier

            X, y = load_breast_cancer(return_X_y=True, as_frame=True)
            model = XGBClassifier(n_estimators=20, max_depth=3).fit(X, y)
        else:
            from lightgbm import LGBMRegressor

            X, y = load_diabetes(return_X_y=True, as_frame=True)
            model = LGBMRegressor(n_estimators=30, verbose=-1).fit(X, y)
        model_path, sample_path, label = tmp_path / "model.joblib", tmp_path / "sample.csv", "target"
        joblib.dump(model, model_path)
        pd.DataFrame(X).assign(target=y).head(300).to_csv(sample_path, index=False)
    result = build(BuildOptions(model=model_path, sample=sample_path, out=tmp_path / "package", label_column=label,
                                name=case, targets=["onnx", "c", "js"], quiet=True))
    checks = {c["artifact"]: c for c in result.checks}
    for fmt, runtime in (("c", "c-gcc"), ("js", "js-node")):
        assert checks[fmt]["runtime"] == runtime and checks[fmt]["passed"], checks[fmt]
