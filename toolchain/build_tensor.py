"""`edgepack build` for tensor models (ONNX graphs, Keras image/sequence models): a format version 2
package (docs/package-format.md).

read the .npz sample -> reference outputs from the source -> each target of the tensor table ->
golden vectors -> check every artifact in its format's first tensor runner under its precision's
profile (quantized variants that fail are left out, with the reason) -> write.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..converters.metadata import ModelInfo, stamp_tensor
from ..converters.package_writer import file_record, write_package
from ..converters.sources.tensor_io import read_sample
from ..converters.targets.tensor import get_tensor_target
from ..parity.runners.tensor import tensor_runners_for
from ..parity.tensor_metrics import tensor_failures, tensor_metrics, tensor_profile
from ..runtime.manifest import TENSOR_FORMAT_VERSION
from ..runtime.package import Package
from .check import utc_now

GOLDEN_ROWS = 16
GOLDEN_MAX_NUMBERS = 200_000  # golden.json stays small enough for a device to read at self-test
TOP_K = 5


def golden_rows(inputs: dict[str, np.ndarray]) -> int:
    per_row = sum(int(np.prod(a.shape[1:])) for a in inputs.values())
    n = len(next(iter(inputs.values())))
    return max(1, min(n, GOLDEN_ROWS, GOLDEN_MAX_NUMBERS // max(per_row, 1)))


def check_tensor_artifact(path: Path, entry: dict[str, Any], inputs: dict[str, np.ndarray],
                          ref: dict[str, np.ndarray], kinds: dict[str, str], data_name: str = "sample") -> dict[str, Any]:
    """Run one artifact in the first runner of its format and judge it under its precision's profile."""
    package = Package.open(path)
    art = package.artifact(entry["id"])
    precision = entry.get("precision", "float32")
    rows = len(next(iter(inputs.values())))
    result: dict[str, Any] = {"artifact": art.id, "data": data_name, "rows": rows, "profile": precision, "when": utc_now()}
    runners = tensor_runners_for(art.format)
    if not runners:
        return {**result, "runtime": "none", "metrics": {}, "passed": False, "status": "unavailable",
                "reason": f"no runner for {art.format} tensor artifacts"}
    name, run, available = runners[0]
    reason = available()
    if reason:
        return {**result, "runtime": name, "metrics": {}, "passed": False, "status": "unavailable", "reason": reason}
    try:
        got = run(package, art, inputs)
        metrics = tensor_metrics(ref, got, kinds)
    except Exception as exc:  # a runtime refusing or crashing on the artifact fails the check, with why
        return {**result, "runtime": name, "metrics": {}, "passed": False, "status": "error",
                "reason": f"{type(exc).__name__}: {exc}"[:2000]}
    failures = tensor_failures(metrics, tensor_profile(precision))
    out = {**result, "runtime": name, "metrics": metrics, "passed": not failures, "status": "fail" if failures else "pass"}
    if failures:
        out["failures"] = failures
    return out


def build_tensor(opts: Any, source: Any, progress: Any) -> tuple[Path, dict[str, Any], list[dict[str, Any]]]:
    """Build a format version 2 package from a tensor source (`opts`: BuildOptions).
    Returns (package path, manifest, checks)."""
    with progress.step(f"reading {opts.sample.name} and running the model on it"):
        inputs = read_sample(opts.sample, source.inputs)
        ref = source.predict_tensors(inputs)
        source.check_classifier(ref)
        source.sample_inputs = inputs  # representative data for full int8 calibration
    kinds = {o.name: o.kind for o in source.outputs}
    artifacts = []
    with progress.step(f"converting to {', '.join(opts.targets)}"):
        for name in opts.targets:
            artifacts.extend(get_tensor_target(name)(source, opts.target_options.get(name, {})))
    info = ModelInfo(name=opts.name or opts.model.stem, version=str(opts.version), task=source.task,
                     author=opts.author, license=opts.license, description=opts.description,
                     classes=list(source.classes) if source.task == "classification" else [])
    for art in artifacts:  # before the checks: the artifact checked is the one shipped
        stamp_tensor(art, info, source.inputs, source.outputs)
    n = golden_rows(inputs)
    golden = {"inputs": {k: v[:n].tolist() for k, v in inputs.items()},
              "outputs": {k: np.asarray(v[:n], dtype=np.float64).tolist() for k, v in ref.items()},
              "note": "Inputs from the build's sample; outputs are the source model's own."}
    golden_bytes = (json.dumps(golden, allow_nan=False) + "\n").encode()
    files: dict[str, bytes] = {"golden.json": golden_bytes}
    entries = []
    for art in artifacts:
        files.update(art.files)
        entry = {**art.entry, **file_record(art.files[art.entry["file"]])}
        if len(art.files) > 1:
            entry["files"] = [{"file": f, **file_record(d)} for f, d in sorted(art.files.items())]
        entries.append(entry)
    description = source.describe()
    outputs: dict[str, Any] = {"names": [o.name for o in source.outputs], "tensors": [
        {**o.to_manifest(), "kind": o.kind} for o in source.outputs]}
    if source.task == "classification":
        outputs.update(classes=list(source.classes), top_k=min(TOP_K, len(source.classes)))
    rows = len(next(iter(inputs.values())))
    manifest: dict[str, Any] = {
        "format": "edgepack", "format_version": TENSOR_FORMAT_VERSION,
        "model": {"name": opts.name or opts.model.stem, "version": str(opts.version), "task": source.task,
                  "created": utc_now()},
        "source": {**description, "file": opts.model.name, "sha256": source.sha256()},
        "inputs": {"tensors": [s.to_manifest() for s in source.inputs]},
        "outputs": outputs,
        "artifacts": entries,
        "golden": {"file": "golden.json", "sha256": file_record(golden_bytes)["sha256"], "rows": n},
        "tolerance_profiles": {p: tensor_profile(p) for p in sorted({e["precision"] for e in entries})},
        "parity": [],
        "statistics": {"sample_rows": rows, "sample_file": opts.sample.name},
    }
    checks = []
    staging = Path(tempfile.mkdtemp(prefix="edgepack-build-"))
    try:
        with progress.step("checking every artifact against the model in its runtime"):
            staged = write_package(staging / "package", manifest, files)
            for entry in entries:
                checks.append(check_tensor_artifact(staged, entry, inputs, ref, kinds))
        kept = []
        for entry, check in zip(entries, checks):
            if check["passed"] or entry.get("default"):
                kept.append(entry)
                continue
            why = check.get("failures") or [check.get("reason", "not checked")]
            check["dropped"] = f"dropped: {'; '.join(why)}"
            for f in [entry["file"], *(x["file"] for x in entry.get("files", []))]:
                files.pop(f, None)
        manifest["artifacts"] = kept
        manifest["tolerance_profiles"] = {p: v for p, v in manifest["tolerance_profiles"].items()
                                          if any(e["precision"] == p for e in kept)}
        manifest["parity"] = checks
        with progress.step(f"writing {opts.out}"):
            path = write_package(opts.out, manifest, files)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path, manifest, checks
