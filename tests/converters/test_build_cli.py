"""The `edgepack` CLI: help with examples, one clear error and a documented exit code, no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest
import zoo
from edgepack.toolchain.cli import COMMANDS

EDGEPACK = [sys.executable, "-m", "edgepack.toolchain.cli"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*EDGEPACK, *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_has_an_example(command):
    result = run(*([command] if command else []), "--help")
    assert result.returncode == 0
    assert "example" in result.stdout.lower()
    assert "edgepack " in result.stdout


def test_build_help_warns_about_pickles():
    assert "executes code" in run("build", "--help").stdout


def test_missing_model_file_is_usage_error(tmp_path):
    result = run("build", str(tmp_path / "nope.joblib"), "--sample", str(tmp_path / "s.csv"), "-o", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "no model file" in result.stderr and "Traceback" not in result.stderr


def test_unreadable_sample_is_data_error(tmp_path):
    model, _ = zoo.save(zoo.get("logreg_binary"), tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\x00\x01\x02 not a csv \xff\xfe")
    result = run("build", str(model), "--sample", str(bad), "-o", str(tmp_path / "o"))
    assert result.returncode == 6, result.stderr
    assert "Traceback" not in result.stderr


def test_sample_missing_model_columns_is_data_error(tmp_path):
    zm = zoo.get("logreg_binary")
    model, sample = zoo.save(zm, tmp_path)
    zm.sample.drop(columns=["contract"]).to_csv(sample, index=False)
    result = run("build", str(model), "--sample", str(sample), "--label-column", zm.label, "-o", str(tmp_path / "o"))
    assert result.returncode == 6
    assert "contract" in result.stderr and "Traceback" not in result.stderr


def test_unsupported_estimator_is_named_with_the_supported_list(tmp_path):
    import joblib
    from sklearn.svm import NuSVC  # (SVC is supported since issue 18)

    zm = zoo.get("numpy_logreg")
    X = zm.sample.drop(columns=[zm.label]).to_numpy()
    path = tmp_path / "svc.joblib"
    joblib.dump(NuSVC().fit(X, zm.sample[zm.label]), path)
    zm.sample.to_csv(tmp_path / "s.csv", index=False)
    result = run("build", str(path), "--sample", str(tmp_path / "s.csv"), "--label-column", zm.label, "-o", str(tmp_path / "o"))
    assert result.returncode == 5
    assert "NuSVC" in result.stderr and "HistGradientBoostingClassifier" in result.stderr


def test_build_then_inspect(tmp_path):
    zm = zoo.get("random_forest_clf")
    model, sample = zoo.save(zm, tmp_path)
    out = tmp_path / "pkg.edgepack"
    result = run("build", str(model), "--sample", str(sample), "--label-column", zm.label, "--name", "rf", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "[5/5]" in result.stderr  # progress display
    shown = run("inspect", str(out))
    assert shown.returncode == 0
    for word in ("rf 1", "classification", "contract", "category", "model.onnx", "pass"):
        assert word in shown.stdout
