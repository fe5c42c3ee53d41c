"""The device side of tensor packages: edgepack-score on JSON lines of nested arrays (top-k, error lines,
exit codes), selftest, and a runtime that refuses what it cannot read."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from edgepack.runtime.errors import PackageError, RecordError
from edgepack.runtime.package import Package, check_manifest
from edgepack.runtime.tensor_scorer import TensorScorer


def _score(package, lines: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgepack.runtime", str(package), *args], input=lines,
                          capture_output=True, text=True, timeout=120)


def test_score_cli_writes_top_k_per_image(digits_package, digits):
    images = np.load(digits / "holdout.npz")["image"][:3]
    lines = "".join(json.dumps({"id": f"img{i}", "image": img.tolist()}) + "\n" for i, img in enumerate(images))
    proc = _score(digits_package.path, lines, "--id-field", "id")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["img0", "img1", "img2"]
    from edgepack.converters.sources import load_source

    probs = load_source(digits / "digits.keras").predict_tensors({"image": images})["probabilities"]
    for row, p in zip(rows, probs):
        assert row["label"] == int(np.argmax(p))
        assert len(row["top_k"]) == 5
        assert abs(row["top_k"][0]["probability"] - float(np.max(p))) < 1e-5


def test_score_cli_rejects_bad_records_and_scores_the_rest(digits_package, digits):
    image = np.load(digits / "holdout.npz")["image"][0].tolist()
    lines = "\n".join([json.dumps({"image": image}), json.dumps({"image": [[1, 2]]}), "not json",
                       json.dumps({"other": 1}), json.dumps({"image": image})]) + "\n"
    proc = _score(digits_package.path, lines)
    assert proc.returncode == 3
    assert len(proc.stdout.splitlines()) == 2
    errors = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    assert [e["line"] for e in errors] == [2, 3, 4]
    assert "shape [1, 2] where the model takes [8, 8, 1]" in errors[0]["reason"]
    assert errors[2]["field"] == "image"


def test_selftest_passes_on_a_tensor_package(digits_package):
    proc = subprocess.run([sys.executable, "-m", "edgepack.runtime", "selftest", str(digits_package.path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "top-1 agreement" in proc.stdout and "PASS" in proc.stdout


def test_predict_checks_shapes(digits_package):
    scorer = TensorScorer.load(digits_package.path)
    with pytest.raises(RecordError, match="shape"):
        scorer.predict({"image": np.zeros((2, 8, 8), dtype=np.float32)})
    with pytest.raises(RecordError, match="NaN"):
        scorer.predict({"image": np.full((1, 8, 8, 1), np.nan, dtype=np.float32)})
    assert scorer.predict({"image": np.zeros((3, 8, 8, 1))})["probabilities"].shape == (3, 10)


def test_version_2_needs_tensors_and_unknown_versions_are_refused(digits_package):
    manifest = Package.open(digits_package.path).manifest
    broken = json.loads(json.dumps(manifest))
    broken["inputs"] = {}
    with pytest.raises(PackageError, match="inputs.tensors"):
        check_manifest(broken, "here")
    with pytest.raises(PackageError, match="unknown package format version 3"):
        check_manifest(dict(manifest, format_version=3), "here")


def test_watch_mode_scores_npy_files(digits_package, digits, tmp_path):
    inbox, outbox = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    images = np.load(digits / "holdout.npz")["image"][:40]
    np.save(inbox / "batch.npy", images)
    np.save(inbox / "wrong.npy", np.zeros((2, 3), dtype=np.float32))
    lines = "".join(json.dumps({"image": img.tolist()}) + "\n" for img in images[:2])
    (inbox / "two.jsonl").write_text(lines)
    proc = subprocess.run([sys.executable, "-m", "edgepack.runtime", str(digits_package.path), "--watch", str(inbox),
                           "--out", str(outbox), "--once", "--min-age", "0"], capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 3), proc.stderr
    rows = [json.loads(line) for line in (outbox / "batch.jsonl").read_text().splitlines()]
    assert len(rows) == 40 and all(len(r["top_k"]) == 5 for r in rows)
    assert len((outbox / "two.jsonl").read_text().splitlines()) == 2
    error = json.loads((outbox / "wrong.errors.jsonl").read_text())
    assert "the array does not fit the input" in error["reason"]


def test_tabular_commands_explain_tensor_packages(digits_package):
    """edgepack inspect shows a tensor package; parity checks it; the Spark engine (tabular) refuses it in words."""
    run = [sys.executable, "-m", "edgepack.toolchain.cli"]
    shown = subprocess.run([*run, "inspect", str(digits_package.path)], capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr
    assert "[N, 8, 8, 1]" in shown.stdout and "NHWC" in shown.stdout and "tflite-int8" in shown.stdout
    checked = subprocess.run([*run, "parity", str(digits_package.path), "--runtimes", "onnxruntime", "--quiet"],
                             capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0, checked.stdout + checked.stderr  # the tensor gate (test_tensor_parity.py)
    refused = subprocess.run([*run, "parity", str(digits_package.path), "--engine", "spark"],
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2
    assert "runs tabular packages" in refused.stderr and "Traceback" not in refused.stderr


def test_tensor_scoring_opens_no_socket_and_loads_no_heavy_library(digits_package, digits, tmp_path):
    import importlib.util
    from pathlib import Path

    # The tabular test's audit-hook script, loaded by path (tests/ is not a package).
    spec = importlib.util.spec_from_file_location("runtime_imports", Path(__file__).parents[1] / "runtime" / "test_imports.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    code = module.NO_NETWORK.format(forbidden=module.FORBIDDEN)
    image = np.load(digits / "holdout.npz")["image"][:2]
    record = json.dumps({"image": image[0].tolist()}) + "\n"
    (tmp_path / "in").mkdir()
    np.save(tmp_path / "in" / "a.npy", image)
    runs = [([str(digits_package.path)], record), (["selftest", str(digits_package.path)], ""),
            ([str(digits_package.path), "--watch", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--once",
              "--min-age", "0"], "")]
    for args, stdin in runs:
        result = subprocess.run([sys.executable, "-c", code, *args], input=stdin, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert "NETWORK" not in result.stderr and "FORBIDDEN \n" in result.stderr
    assert len((tmp_path / "out" / "a.jsonl").read_text().splitlines()) == 2


def test_score_cli_runs_the_tflite_artifact_with_the_same_output(digits_package, digits):
    images = np.load(digits / "holdout.npz")["image"][:4]
    lines = "".join(json.dumps({"image": img.tolist()}) + "\n" for img in images)
    onnx = _score(digits_package.path, lines)
    tflite = _score(digits_package.path, lines, "--artifact", "tflite")
    assert tflite.returncode == 0, tflite.stderr
    for a, b in zip(onnx.stdout.splitlines(), tflite.stdout.splitlines()):
        a, b = json.loads(a), json.loads(b)
        assert a["label"] == b["label"]
        assert abs(a["top_k"][0]["probability"] - b["top_k"][0]["probability"]) < 1e-5
    refused = _score(digits_package.path, lines, "--artifact", "tfjs")
    assert refused.returncode == 4 and "runs ONNX and TFLite artifacts" in refused.stderr
