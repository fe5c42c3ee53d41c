"""Memory cap: the scorer self-tests and scores a 10,000-record stream under a hard 256 MiB address-space
limit (`prlimit --as`), the budget of a small gateway, and its peak resident memory is recorded.
"""

from __future__ import annotations

import importlib.util

import pytest
from device_support import (
    MAX_PROBABILITY_ERROR,
    REPO,
    compare_outputs,
    jsonl,
    records_from_frame,
    reference_probabilities,
    run_measured,
    save_figures,
)

pytestmark = pytest.mark.device

LIMIT_BYTES = 256 * 2**20
CAPPED = ["prlimit", f"--as={LIMIT_BYTES}", "--"]
STREAM_RECORDS = 10_000


def _churn_frame(rows: int, seed: int):
    spec = importlib.util.spec_from_file_location("churn_generate", REPO / "examples" / "churn" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate(rows, seed)


def test_limit_is_really_enforced(device_install):
    # The same cap kills an allocation of 300 MiB: a pass below is not a pass for want of a limit.
    hungry = run_measured(CAPPED + [device_install.python, "-c", "bytearray(300 * 2**20)"])
    assert hungry.returncode != 0 and "MemoryError" in hungry.stderr, hungry.explain()


def test_scores_ten_thousand_records_under_256_mib(device_install, churn):
    selftest = run_measured(CAPPED + [device_install.scorer, "selftest", str(churn.package)])
    assert selftest.returncode == 0, selftest.explain()

    records = records_from_frame(_churn_frame(STREAM_RECORDS, seed=2026))
    stream = run_measured(CAPPED + [device_install.scorer, str(churn.package)], stdin=jsonl(records), timeout=300)
    assert stream.returncode == 0, stream.explain()
    worst = compare_outputs(stream.lines(), reference_probabilities(churn.model(), records), churn.classes)
    assert worst <= MAX_PROBABILITY_ERROR

    # Uncapped, for comparison: the cap must not have changed what was computed.
    free = run_measured([device_install.scorer, str(churn.package)], stdin=jsonl(records), timeout=300)
    assert free.stdout == stream.stdout
    save_figures("memory_cap", {
        "limit": "prlimit --as=268435456 (256 MiB address space)",
        "selftest_peak_rss_mib": round(selftest.peak_rss_mib, 1),
        "stream_records": STREAM_RECORDS,
        "stream_peak_rss_mib": round(stream.peak_rss_mib, 1),
        "stream_wall_s": round(stream.wall_s, 2),
        "stream_records_per_s": round(STREAM_RECORDS / stream.wall_s),
        "uncapped_stream_peak_rss_mib": round(free.peak_rss_mib, 1),
        "max_probability_error_vs_sklearn": worst,
    })
