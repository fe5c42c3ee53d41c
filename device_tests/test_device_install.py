"""Minimal install: a fresh venv with `pip install .` and no extras is all a device needs.

Proves the runtime's dependency promise on a real install (not on sys.modules of a full toolchain venv):
numpy + onnxruntime + edgepack only, then self-test and scoring of the churn package from that venv.
"""

from __future__ import annotations

import json
import statistics

import pytest
from device_support import (
    MAX_PROBABILITY_ERROR,
    compare_outputs,
    install_sizes,
    jsonl,
    reference_probabilities,
    run_measured,
    save_figures,
)

pytestmark = pytest.mark.device

# The heavy toolchain libraries a device must never need (pip distribution names).
FORBIDDEN = {"scikit-learn", "tensorflow", "tensorflow-cpu", "coremltools", "pandas"}
FORBIDDEN_MODULES = ["sklearn", "tensorflow", "coremltools", "pandas"]


def test_minimal_install_holds_only_the_runtime(device_install):
    listing = run_measured([device_install.python, "-m", "pip", "list", "--format", "json",
                            "--disable-pip-version-check"])
    assert listing.returncode == 0, listing.explain()
    installed = {d["name"].lower().replace("_", "-"): d["version"] for d in json.loads(listing.stdout)}
    assert not FORBIDDEN & installed.keys(), f"a device install pulled in {sorted(FORBIDDEN & installed.keys())}"
    assert {"edgepack", "numpy", "onnxruntime"} <= installed.keys(), installed
    # The import system agrees: none of the heavy modules can even be found.
    probe = run_measured([device_install.python, "-c",
                          "import importlib.util, json, sys; "
                          f"print(json.dumps([m for m in {FORBIDDEN_MODULES!r} if importlib.util.find_spec(m)]))"])
    assert probe.returncode == 0, probe.explain()
    assert json.loads(probe.stdout) == []
    sizes = install_sizes(device_install.venv)
    save_figures("install", {
        "what": "fresh venv, `pip install .` with no extras (pip cache allowed)",
        "install_seconds": round(device_install.install_s, 1),
        "packages": dict(sorted(installed.items())),
        **sizes,
    })


def test_minimal_install_selftest_and_scoring(device_install, churn):
    selftest = run_measured([device_install.scorer, "selftest", str(churn.package)])
    assert selftest.returncode == 0, selftest.explain()

    records = churn.holdout_records()
    scored = run_measured([device_install.scorer, str(churn.package)], stdin=jsonl(records))
    assert scored.returncode == 0, scored.explain()
    worst = compare_outputs(scored.lines(), reference_probabilities(churn.model(), records), churn.classes)
    assert worst <= MAX_PROBABILITY_ERROR, f"max probability error {worst:.2e} against scikit-learn"

    # Cold start to first prediction: a whole process scoring one record, as a per-event invocation pays it.
    one = jsonl(records[:1])
    cold = [run_measured([device_install.scorer, str(churn.package)], stdin=one) for _ in range(5)]
    assert all(run.returncode == 0 for run in cold), cold[0].explain()
    save_figures("minimal_install", {
        "selftest_exit": selftest.returncode,
        "selftest_wall_ms": round(selftest.wall_s * 1000),
        "scored_records": len(records),
        "score_wall_ms": round(scored.wall_s * 1000),
        "max_probability_error_vs_sklearn": worst,
        "cold_start_one_record_wall_ms_median5": round(statistics.median(r.wall_s for r in cold) * 1000),
        "cold_start_one_record_peak_rss_mib_median5": round(statistics.median(r.peak_rss_mib for r in cold), 1),
    })
