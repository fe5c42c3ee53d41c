"""The CLI says what is so (issue 19 item 3): versions, every target in help, sizes of every file,
"not verified" rather than a false failure, typos named before any work, `| head` without a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import zoo
from edgepack.converters.targets import TARGETS

BIN = Path(sys.executable).parent
EDGEPACK = [sys.executable, "-m", "edgepack.toolchain.cli"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*EDGEPACK, *args], capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """logreg_binary built to onnx and js (js: model.mjs + model.d.ts, a two-file artifact)."""
    root = tmp_path_factory.mktemp("honest")
    model, sample = zoo.save(zoo.get("logreg_binary"), root)
    out = root / "package"
    done = run("build", str(model), "--sample", str(sample), "--label-column", "churn", "--targets", "onnx,js",
               "-o", str(out), "-q")
    assert done.returncode == 0, done.stderr
    return model, sample, out


def test_version_names_the_package_and_its_runtimes():
    done = run("--version")
    assert done.returncode == 0
    first, *rest = done.stdout.splitlines()
    assert first == f"edgepack {metadata.version('edgepack')}"
    assert any(line.split() == ["onnxruntime", metadata.version("onnxruntime")] for line in rest)
    assert any(line.split()[0] == "node" for line in rest)
    score = subprocess.run([str(BIN / "edgepack-score"), "--version"], capture_output=True, text=True, timeout=60)
    assert score.returncode == 0 and score.stdout.startswith(f"edgepack-score {metadata.version('edgepack')}\n")


def test_build_help_lists_every_target_of_the_table():
    text = " ".join(run("build", "--help").stdout.split())
    assert f"comma-separated formats: {', '.join(TARGETS)} (default onnx)" in text


@pytest.mark.parametrize(("argv", "hint"), [
    (["biuld"], "did you mean 'build'?"),
    (["build", "nope.joblib", "--sample", "nope.csv", "-o", "{tmp}/o", "--targets", "onnx,tflte"], "did you mean 'tflite'?"),
    (["parity", "nope", "--runtimes", "onnxruntim"], "did you mean 'onnxruntime'?"),
])
def test_a_typo_is_named_with_the_nearest_choice_before_any_work(tmp_path, argv, hint):
    # The model file does not exist: the target is checked before the model is loaded (or it would say so).
    done = run(*[a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert done.returncode == 2
    assert hint in done.stderr and "Traceback" not in done.stderr and "no model file" not in done.stderr


def test_scorer_subcommand_typo():
    done = subprocess.run([str(BIN / "edgepack-score"), "selftst", "pkg"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "did you mean 'selftest'?" in done.stderr


def test_inspect_counts_every_file_of_an_artifact_and_the_package(built):
    _, _, out = built
    manifest = json.loads((out / "manifest.json").read_text())
    js = next(a for a in manifest["artifacts"] if a["id"] == "js")
    on_disk = sum((out / f["file"]).stat().st_size for f in js["files"])
    assert len(js["files"]) > 1 and on_disk > js["size"]
    text = run("inspect", str(out)).stdout
    row = next(line for line in text.splitlines() if line.startswith("js "))
    assert str(on_disk) in row.split() and "(+1 files)" in row
    total = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    assert f"package total: {total} bytes" in text


def test_a_missing_runtime_is_not_verified_not_a_failure(tmp_path, built):
    model, sample, _ = built
    env = {**os.environ, "PATH": str(tmp_path / "empty")}  # no node on PATH
    done = run("build", str(model), "--sample", str(sample), "--label-column", "churn", "--targets", "onnx,js",
               "-o", str(tmp_path / "p"), "-q", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "js: not verified (Node.js is not installed)" in done.stdout
    assert "disagree" not in done.stdout and "FAIL" not in done.stdout


def test_inspect_into_a_closed_pipe_ends_quietly(built):
    """`| true`: the reader is gone before edgepack writes (it takes a second to start)."""
    _, _, out = built
    done = subprocess.run(f"{sys.executable} -m edgepack.toolchain.cli inspect {out} | true; echo ${{PIPESTATUS[0]}}",
                          shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.stdout.strip() == "0"
