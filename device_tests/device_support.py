"""Helpers the device tests share: a clean copy of the source tree, measured child processes, churn
records, the scikit-learn reference, output comparison and the figures file.

Nothing here imports the code under test: the scorer is always run as a separate process, the way a
device runs it, and expected values come from the original scikit-learn model.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FIGURES_DIR = REPO / "test-artifacts" / "device"
PEAK = Path(__file__).resolve().parent / "peak.py"
# The float32 profile (parity/profiles.py): what "equal outputs" means between two runs of a float32 model.
MAX_PROBABILITY_ERROR = 1e-5

# Folders a device install never needs; everything else of the tree (what `pip install .` reads) is copied.
_SKIP = {".git", ".venv", "build", "test-artifacts", "node_modules", "__pycache__", ".pytest_cache",
         ".ruff_cache", "web", "tests", "device_tests", "benchmarks", "examples"}


def copy_source(dest: Path) -> Path:
    """Copy the project's installable source into `dest` (so `pip install` builds there, not in the repo)."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n in _SKIP or n.endswith(".egg-info") or n.endswith(".pyc")}

    shutil.copytree(REPO, dest, ignore=ignore, dirs_exist_ok=True)
    return dest


def clean_env(**extra: str) -> dict[str, str]:
    """An environment like a device's: no PYTHONPATH or venv leaking in from the test process."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PIP_CACHE_DIR")}
    keep.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    keep.update(extra)
    return keep


@dataclass
class Run:
    """A finished child process with its wall time and peak resident memory (from wait4's rusage)."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    peak_rss_mib: float

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def error_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stderr.splitlines() if line.strip().startswith("{")]

    def explain(self) -> str:
        return f"{' '.join(self.args)} exited {self.returncode}\nstderr:\n{self.stderr[-3000:]}"


def base_python() -> str:
    """The interpreter the toolchain venv was made from: what a device's plain system Python is here."""
    return getattr(sys, "_base_executable", None) or shutil.which("python3") or "python3"


def run_measured(args: Sequence[str], stdin: str | bytes | None = None, timeout: float = 120,
                 env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Run `args` to completion and return its output, wall time and peak RSS (device_tests/peak.py).

    Raises subprocess.TimeoutExpired after `timeout` seconds.
    """
    data = stdin.encode() if isinstance(stdin, str) else (stdin or b"")
    with tempfile.TemporaryDirectory() as scratch:
        result = Path(scratch) / "peak.json"
        done = subprocess.run([base_python(), str(PEAK), str(result), "--", *args], input=data,
                              capture_output=True, timeout=timeout,
                              env=env if env is not None else clean_env(), cwd=cwd)
        measured = json.loads(result.read_text()) if result.exists() else {"wall_s": 0.0, "peak_rss_kib": 0}
    return Run(list(args), done.returncode, done.stdout.decode(errors="replace"),
               done.stderr.decode(errors="replace"), measured["wall_s"], measured["peak_rss_kib"] / 1024)


# -- churn records -----------------------------------------------------------------------------------
NUMERIC = ["tenure_months", "senior_citizen", "monthly_charges", "total_charges", "support_calls", "data_gb"]
CATEGORICAL = ["contract", "internet_service", "payment_method"]


def records_from_frame(frame: Any, id_start: int | None = None) -> list[dict[str, Any]]:
    """JSON-ready records from a churn DataFrame (NaN becomes null; `id` added when id_start is given)."""
    records = []
    for i, row in enumerate(frame[NUMERIC + CATEGORICAL].itertuples(index=False)):
        record: dict[str, Any] = {}
        for name, value in zip(NUMERIC + CATEGORICAL, row):
            if isinstance(value, float) and math.isnan(value):
                record[name] = None
            elif hasattr(value, "item"):
                record[name] = value.item()
            else:
                record[name] = value
        if id_start is not None:
            record["id"] = f"r{id_start + i}"
        records.append(record)
    return records


def jsonl(records: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def reference_probabilities(model: Any, records: list[dict[str, Any]]) -> list[list[float]]:
    """predict_proba of the original scikit-learn pipeline on `records` (null -> NaN, as the scorer reads it)."""
    import pandas as pd

    frame = pd.DataFrame([{k: r[k] for k in NUMERIC + CATEGORICAL} for r in records])
    for name in NUMERIC:
        frame[name] = frame[name].astype(float)
    return model.predict_proba(frame).tolist()


def compare_outputs(outputs: list[dict[str, Any]], expected: list[list[float]], classes: list[Any]) -> float:
    """Max probability error of scorer output lines against expected rows; asserts the labels match.

    The expected label is classes[argmax] (first on ties), the package contract's rule.
    """
    assert len(outputs) == len(expected), f"{len(outputs)} outputs for {len(expected)} records"
    worst = 0.0
    for i, (out, row) in enumerate(zip(outputs, expected)):
        probs = [out["probabilities"][str(c)] for c in classes]
        worst = max(worst, max(abs(a - b) for a, b in zip(probs, row)))
        label = classes[max(range(len(row)), key=lambda j: (row[j], -j))]
        if abs(row[0] - row[1]) > 2 * MAX_PROBABILITY_ERROR:  # a near-tie may flip within the profile
            assert str(out["label"]) == str(label), f"record {i}: label {out['label']!r}, expected {label!r}"
    return worst


# -- figures ---------------------------------------------------------------------------------------
def save_figures(name: str, figures: dict[str, Any]) -> Path:
    """Write test-artifacts/device/NAME.json and print it (so the CI log carries the figures)."""
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)
    path = FIGURES_DIR / f"{name}.json"
    figures = {"measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **figures}
    path.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"device figures {name}: {json.dumps(figures)}")
    return path


def dir_size_mib(path: Path) -> float:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            file = Path(root) / name
            if not file.is_symlink():
                total += file.stat().st_size
    return total / 2**20


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def install_sizes(venv: Path) -> dict[str, float]:
    """MiB on disk: the whole venv, its site-packages, the runtime without pip/setuptools, and the main packages."""
    site = site_packages(venv)
    sizes = {"venv_mib": dir_size_mib(venv), "site_packages_mib": dir_size_mib(site)}
    # What the runtime itself costs: site-packages less the installer tools every venv carries.
    installer = sum(dir_size_mib(p) for p in site.iterdir()
                    if p.is_dir() and p.name.split("-")[0] in ("pip", "setuptools", "_distutils_hack", "pkg_resources"))
    sizes["runtime_mib"] = sizes["site_packages_mib"] - installer
    for name in ("numpy", "numpy.libs", "onnxruntime", "edgepack"):
        if (site / name).exists():
            sizes[f"{name}_mib"] = dir_size_mib(site / name)
    return {k: round(v, 1) for k, v in sizes.items()}

