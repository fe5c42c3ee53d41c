from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from edgepack.toolchain.build import BuildOptions, build

from .models import onnx_cnn

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def onnx_package(tmp_path_factory):
    """The ONNX CNN built to all four formats (onnx2tf for the TensorFlow-based ones)."""
    # find_spec, not importorskip: importing onnx2tf sets the recursion limit to 2**31 - 1 for the process.
    if importlib.util.find_spec("onnx2tf") is None:
        pytest.skip("onnx2tf is not installed (the Makefile installs it without its dependencies)")
    folder = tmp_path_factory.mktemp("onnx_cnn")
    model, sample = onnx_cnn(folder)
    result = build(BuildOptions(model=model, sample=sample, out=folder / "package", quiet=True,
                                targets=["onnx", "tflite", "tfjs", "coreml"],
                                target_options={"tflite": {"variants": "float32,float16"},
                                                "tfjs": {"variants": "float32"}}))
    return result, sample


@pytest.fixture(scope="session")
def digits(tmp_path_factory):
    """The digits example trained briefly (its train.py, as a user runs it): folder with digits.keras,
    sample.npz, holdout.npz."""
    folder = tmp_path_factory.mktemp("digits")
    subprocess.run([sys.executable, str(ROOT / "examples" / "digits" / "train.py"), "--out", str(folder), "--epochs", "8"],
                   check=True, capture_output=True, timeout=600)
    return folder


@pytest.fixture(scope="session")
def digits_package(digits):
    result = build(BuildOptions(model=digits / "digits.keras", sample=digits / "sample.npz", out=digits / "package",
                                name="digits", quiet=True, targets=["onnx", "tflite", "tfjs", "coreml"]))
    return result
