"""Latency of an artifact in its format's first runner: median single-row and batch times.

Measured in the build, in the same process and run for every kept artifact of a format, so the
float32 baseline and its variants are compared under the same conditions.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from ...parity.data import input_batch
from ...parity.runners import runner_class, runners_for
from ...runtime.package import Package

SINGLE_RUNS = 31
BATCH_RUNS = 7
BATCH_ROWS = 256
WARMUP = 3
MIN_RUNS = 3
# Runners that start a subprocess per call (Node, a browser) take far longer per call than onnxruntime in
# this process; past this many seconds per measurement the build stops at MIN_RUNS and records how many.
BUDGET_SECONDS = 3.0


def measure_latency(package_path: Path, artifact_id: str, frame: Any, schema: Any) -> dict[str, Any] | None:
    """{"runtime", "single_row_ms", "batch_ms", "batch_rows", "runs"} or None when no runner is available."""
    package = Package.open(package_path)
    art = package.artifact(artifact_id)
    names = runners_for(art.format)
    if not names or runner_class(names[0]).availability():
        return None
    rows = min(BATCH_ROWS, len(frame))

    one, many = input_batch(frame.iloc[:1], schema), input_batch(frame.iloc[:rows], schema)
    with runner_class(names[0])(package, art) as runner:
        single, single_runs = _median_ms(runner, one, SINGLE_RUNS)
        batch, batch_runs = _median_ms(runner, many, BATCH_RUNS)
    return {"runtime": names[0], "single_row_ms": round(single, 4), "batch_ms": round(batch, 4), "batch_rows": rows,
            "runs": {"single_row": single_runs, "batch": batch_runs}}


def _median_ms(runner: Any, batch: Any, runs: int) -> tuple[float, int]:
    """(median milliseconds of runner.predict(batch), number of timed calls)."""
    began = time.perf_counter()
    for _ in range(WARMUP):
        runner.predict(batch)
    times: list[float] = []
    while len(times) < runs and (len(times) < MIN_RUNS or time.perf_counter() - began < BUDGET_SECONDS):
        start = time.perf_counter()
        runner.predict(batch)
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times), len(times)
