"""Latency of an artifact in its format's first runner: median single-row and batch times.

Measured in the build, in the same process and run for every kept artifact of a format, so the
float32 baseline and its variants are compared under the same conditions.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

SINGLE_RUNS = 31
BATCH_RUNS = 7
BATCH_ROWS = 256
WARMUP = 3


def measure_latency(package_path: Path, artifact_id: str, frame: Any, schema: Any) -> dict[str, Any] | None:
    """{"runtime", "single_row_ms", "batch_ms", "batch_rows", "runs"} or None when no runner is available."""
    from ...parity.runners import runner_class, runners_for
    from ...parity.runners.base import InputBatch
    from ...runtime.package import Package
    from ..build import frame_columns, records_from_frame

    package = Package.open(package_path)
    art = package.artifact(artifact_id)
    names = runners_for(art.format)
    if not names or runner_class(names[0]).availability():
        return None
    rows = min(BATCH_ROWS, len(frame))

    def batch_of(part: Any) -> InputBatch:
        return InputBatch(records=records_from_frame(part, schema), columns=frame_columns(part, schema))

    one, many = batch_of(frame.iloc[:1]), batch_of(frame.iloc[:rows])
    with runner_class(names[0])(package, art) as runner:
        single = _median_ms(runner, one, SINGLE_RUNS)
        batch = _median_ms(runner, many, BATCH_RUNS)
    return {"runtime": names[0], "single_row_ms": round(single, 4), "batch_ms": round(batch, 4), "batch_rows": rows,
            "runs": {"single_row": SINGLE_RUNS, "batch": BATCH_RUNS}}


def _median_ms(runner: Any, batch: Any, runs: int) -> float:
    for _ in range(WARMUP):
        runner.predict(batch)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        runner.predict(batch)
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)
