"""The build's check: run one artifact of a staged package in its format's first runner and judge it,
and leave out the quantized variants that fail."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import numpy as np

from ..parity.data import input_batch
from ..parity.metrics import classification_metrics, regression_metrics
from ..parity.runners import runner_class, runners_for
from ..runtime.judge import Metrics, judge, profile_of
from ..runtime.manifest import artifact_size
from ..runtime.package import Package
from ..runtime.schema import IOSchema


def utc_now() -> str:
    """The current time as the manifest records it (UTC, seconds)."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def check_artifact(path: Path, entry: dict[str, Any], frame: Any, schema: IOSchema, ref: dict[str, np.ndarray],
                   scale: float, data_name: str, manifest: dict[str, Any] | None = None,
                   batch: Any | None = None) -> dict[str, Any]:
    """Run one artifact of the package in the first runner of its format (parity/runners table) on
    `frame` and compare with the reference under the profile of the artifact's precision.
    `batch`: `frame` already as an InputBatch, when the caller checks several artifacts on it."""
    package = Package.open(path)
    art = package.artifact(entry["id"])
    precision = entry.get("precision", "float32")
    result: dict[str, Any] = {"artifact": art.id, "data": data_name, "rows": int(len(frame)), "profile": precision,
                              "when": utc_now()}
    names = runners_for(art.format)
    if not names:
        return {**result, "runtime": "none", "metrics": {}, "passed": False,
                "unavailable": f"no runner for {art.format} artifacts"}
    cls = runner_class(names[0])
    reason = cls.availability()
    if reason:
        return {**result, "runtime": names[0], "metrics": {}, "passed": False, "unavailable": reason}
    if batch is None:
        batch = input_batch(frame, schema)
    try:
        with cls(package, art) as runner:
            got = runner.predict(batch)
    except Exception as exc:  # the runtime cannot run a variant at all (XNNPACK refusing a full-int8 graph)
        if entry.get("default"):
            raise
        return {**result, "runtime": names[0], "metrics": {}, "passed": False, "status": "error",
                "reason": f"{type(exc).__name__}: {exc}"}
    if schema.task == "classification":
        classes = list(schema.classes)
        ref_idx = np.array([classes.index(v.item() if isinstance(v, np.generic) else v) for v in ref["label"]])
        metrics = classification_metrics(ref["probabilities"], got["probabilities"], ref_idx)
    else:
        metrics = regression_metrics(ref["value"], got["value"], scale)
    return {**result, "runtime": names[0], "metrics": metrics,
            "passed": judge(Metrics.from_dict(metrics), profile_of(precision, manifest)).passed}


def drop_failed_variants(entries: list[dict[str, Any]], files: dict[str, bytes], checks: list[dict[str, Any]],
                         manifest: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    """Leave out every quantized variant (a non-default artifact) that failed its profile, could not be
    checked here or is not smaller than its format's float32 artifact, and say why in its check
    (`dropped`). A failing default artifact stays: the build then fails, as it should. Entries without a
    check (--quantize candidates, judged by quantize.select) stay."""
    by_id = {c["artifact"]: c for c in checks}
    base_size = {e["format"]: artifact_size(e) for e in entries if e.get("default")}
    kept, dropped_files = [], set()
    for entry in entries:
        check = by_id.get(entry["id"])
        size = artifact_size(entry)
        bigger = not entry.get("default") and size >= base_size.get(entry["format"], size + 1)
        if check is None or entry.get("default") or (check["passed"] and not bigger):
            kept.append(entry)
            continue
        check["size"] = entry["size"]
        check["dropped"] = (f"dropped: not verified ({check['unavailable']})" if "unavailable" in check else
                            f"dropped: its runtime failed on it ({check['reason']})" if check.get("status") == "error" else
                            failure_reason(check["metrics"], check["profile"], manifest) if not check["passed"] else
                            f"dropped: not smaller than the float32 artifact ({size} >= "
                            f"{base_size[entry['format']]} bytes)")
        dropped_files.update([entry["file"], *(f["file"] for f in entry.get("files", []))])
    still_used = {f for e in kept for f in [e["file"], *(x["file"] for x in e.get("files", []))]}
    return kept, {k: v for k, v in files.items() if k not in dropped_files or k in still_used}


def failure_reason(metrics: dict[str, float], precision: str, manifest: dict[str, Any] | None) -> str:
    """Which limits of the precision's profile the recorded metrics break, in words."""
    verdict = judge(Metrics.from_dict(metrics), profile_of(precision, manifest))
    return f"dropped: fails the {precision} profile ({verdict.reasons() or 'check failed'})"
