"""Session fixtures of the device tests: the churn package (built with the full toolchain) and a minimal
device install (a fresh venv with `pip install .`, no extras).

Both are built once per test run and shared by the xdist workers through a file lock under build/device/.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from device_support import FIGURES_DIR, REPO, base_python, clean_env, copy_source, records_from_frame  # noqa: E402

WORK = REPO / "build" / "device"
# One id per `pytest` run, shared by its xdist workers: "fresh" means built by this run.
RUN_ID = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex


def pytest_configure(config: pytest.Config) -> None:
    config._device_started = time.time()  # figures files written after this belong to this run


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Print the figures the device tests measured in this run, so a CI log shows them."""
    started = getattr(config, "_device_started", 0.0)
    files = [p for p in sorted(FIGURES_DIR.glob("*.json")) if p.stat().st_mtime >= started]
    if not files:
        return
    terminalreporter.section(f"device figures (saved in {FIGURES_DIR.relative_to(REPO)}/)")
    for path in files:
        figures = json.loads(path.read_text())
        figures.pop("measured_at", None)
        terminalreporter.write_line(f"{path.stem}: {json.dumps(figures)}")


@contextmanager
def locked(name: str) -> Iterator[None]:
    """An exclusive lock shared by the xdist workers (and concurrent runs) of this worktree."""
    WORK.mkdir(parents=True, exist_ok=True)
    with open(WORK / f".{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sources_key(*folders: str) -> str:
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted((REPO / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(REPO)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Churn:
    """The churn example built into an edge package, its held-out rows and the original model."""

    package: Path
    holdout_csv: Path
    model_path: Path

    @property
    def classes(self) -> list[Any]:
        return json.loads((self.package / "manifest.json").read_text())["outputs"]["classes"]

    def model(self) -> Any:
        import joblib

        return joblib.load(self.model_path)

    def holdout_records(self, with_ids: bool = False) -> list[dict[str, Any]]:
        import pandas as pd

        return records_from_frame(pd.read_csv(self.holdout_csv), id_start=0 if with_ids else None)


def _tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


@pytest.fixture(scope="session")
def churn() -> Churn:
    """examples/churn generated, trained and built with `edgepack build` (cached by source hash)."""
    key = _sources_key("examples/churn", "converters", "runtime", "parity")
    out = WORK / "churn" / key
    with locked("churn"):
        if not (out / "package" / "manifest.json").exists():
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            py = sys.executable
            steps = [
                [py, "examples/churn/generate.py", "--rows", "5000", "--seed", "7", "-o", str(out / "churn.csv")],
                [py, "examples/churn/train.py", "--data", str(out / "churn.csv"), "--out", str(out)],
                [_tool("edgepack"), "build", str(out / "churn.joblib"), "--sample", str(out / "sample.csv"),
                 "--label-column", "churn", "--name", "churn", "-o", str(out / "package")],
            ]
            for step in steps:
                done = subprocess.run(step, cwd=REPO, capture_output=True, text=True)
                assert done.returncode == 0, f"{' '.join(step)} failed:\n{done.stdout}\n{done.stderr}"
    return Churn(out / "package", out / "holdout.csv", out / "churn.joblib")


@dataclass(frozen=True)
class DeviceInstall:
    """A fresh venv holding only `pip install .` (numpy + onnxruntime + edgepack), as on a gateway."""

    venv: Path
    install_s: float

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    @property
    def scorer(self) -> str:
        return str(self.venv / "bin" / "edgepack-score")


@pytest.fixture(scope="session")
def device_install() -> DeviceInstall:
    """Build (once per run) build/device/minimal-venv with `pip install <copy of the repo>` and no extras."""
    venv = WORK / "minimal-venv"
    stamp = venv / ".built-by-run"
    with locked("minimal-venv"):
        if stamp.exists() and stamp.read_text().split()[0] == RUN_ID:
            return DeviceInstall(venv, float(stamp.read_text().split()[1]))
        shutil.rmtree(venv, ignore_errors=True)
        src = copy_source(WORK / "minimal-src")
        env = clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1")
        start = time.perf_counter()
        subprocess.run([base_python(), "-m", "venv", str(venv)], check=True, env=env)
        done = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(src)],
                              capture_output=True, text=True, env=env)
        elapsed = time.perf_counter() - start
        assert done.returncode == 0, f"pip install . failed:\n{done.stdout}\n{done.stderr}"
        shutil.rmtree(src, ignore_errors=True)
        stamp.write_text(f"{RUN_ID} {elapsed:.1f}\n")
    return DeviceInstall(venv, elapsed)
