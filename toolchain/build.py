"""`edgepack build`: a trained model and a sample of its input in, a verified edge package out.

load the model (sources/) -> read the sample and infer the schema -> reference predictions ->
emit each target (targets/) -> check each artifact in onnxruntime against the reference -> write.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..converters import package_destination
from ..converters.metadata import ModelInfo, stamp
from ..converters.package_writer import file_record, write_package
from ..converters.sources import load_source
from ..converters.sources.sample import (
    feature_frame,
    frame_columns,
    infer_schema,
    mixed_cell,
    read_table,
    records_from_frame,
)
from ..converters.targets import get_target
from ..parity.data import input_batch
from ..parity.profiles import DEFAULT_PROFILES, load_overrides, profile_for
from ..runtime.errors import DataError, EdgepackError, UsageError
from ..runtime.judge import PROFILES
from ..runtime.manifest import artifact_size
from ..runtime.profile import PROFILE_FILE
from ..runtime.schema import IOSchema
from .build_tensor import build_tensor
from .check import check_artifact, drop_failed_variants, utc_now
from .drift.reference import build_profile
from .live import LiveProgress
from .variants import select as quantize
from .variants.select import parse_quantize

FLOAT32_PROFILE = DEFAULT_PROFILES["float32"]
GOLDEN_ROWS = 128


@dataclass
class BuildOptions:
    model: Path
    sample: Path
    out: Path
    label_column: str | None = None
    name: str | None = None
    version: str = "1"
    targets: list[str] = field(default_factory=lambda: ["onnx"])
    target_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    golden_rows: int = GOLDEN_ROWS
    quiet: bool = False
    verbose: bool = False  # show the converters' own output instead of capturing it in a log file
    # none | auto | MODE[,MODE...] (converters/quantize/select.py); default_variant: an artifact id to make default
    quantize: str = "none"
    default_variant: str | None = None
    # written into the manifest and into every artifact that keeps metadata (converters/metadata.py)
    author: str | None = None
    license: str | None = None
    description: str | None = None
    force: bool = False  # write into a non-empty OUT that holds no package (converters/package_destination.py)
    # --tolerance PRECISION:KEY=VALUE (parity/profiles.py grammar): the profiles the build judges by, recorded
    tolerance: list[str] = field(default_factory=list)
    # the drift reference (profile.json): this table instead of the sample, e.g. a larger or held-out one
    reference_data: Path | None = None


@dataclass
class BuildResult:
    path: Path
    manifest: dict[str, Any]
    checks: list[dict[str, Any]]

    @property
    def passed(self) -> bool:
        """Every kept artifact that could be checked here agrees with the model within its profile."""
        return all(c["passed"] for c in self.checks if "dropped" not in c and "unavailable" not in c)

    @property
    def unverified(self) -> dict[str, str]:
        """Kept artifacts whose runtime is missing here -> why (e.g. node is not installed): not
        failures, not verified either; `edgepack parity` checks them where the runtime is."""
        return {c["artifact"]: c["unavailable"] for c in self.checks if "unavailable" in c and "dropped" not in c}


def _golden_rows(n: int, wanted: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.sort(rng.permutation(n)[: min(n, wanted)])


def _outputs_json(ref: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in ref.items():
        part = value[rows]
        out[key] = [v.item() if isinstance(v, np.generic) else v for v in part.tolist()] if key == "label" else part.tolist()
    return out


def build(opts: BuildOptions) -> BuildResult:
    """Build a package. Raises an EdgepackError subclass for user errors (bad model, bad sample)."""
    package_destination.plan(opts.out, opts.force)  # refuse a destination that would lose files before any work
    for name in opts.targets:  # a typo in --targets is reported before the model loads
        get_target(name)
    plan = parse_quantize(opts.quantize, opts.targets)
    target_options = quantize.target_options(plan, opts.targets, opts.target_options)
    profiles = build_profiles(opts.tolerance)  # flags checked before the model loads
    # 5 steps, and 3 more with --quantize (build the variants, check them, measure latency): fixed here.
    progress = LiveProgress(5 + (3 if plan else 0), quiet=opts.quiet, verbose=opts.verbose)
    failed = True
    try:
        result = _build(opts, plan, progress, target_options, profiles)
        failed = False
        return result
    finally:
        progress.close(failed)


def _build(opts: BuildOptions, plan: Any, progress: LiveProgress, target_options: dict[str, dict[str, Any]],
           profiles: dict[str, dict[str, Any]]) -> BuildResult:
    with progress.step(f"loading {opts.model.name}"):
        source = load_source(opts.model)
    if getattr(source, "kind", "table") == "tensor":  # images, sequences: format version 2 (build_tensor.py)
        if plan or opts.label_column or opts.tolerance:
            raise EdgepackError("--quantize, --tolerance and --label-column apply to tabular models only",
                                fix="tensor models take --sample x.npz; pick variants with --option tflite.variants=...")
        return BuildResult(*build_tensor(opts, source, progress))
    with progress.step(f"reading {opts.sample.name} and inferring the input schema"):
        table = read_table(opts.sample)
        frame = feature_frame(source, table, opts.label_column, str(opts.sample))
        try:
            ref = source.predict(frame)
        except Exception as exc:  # the user's model raising on the user's sample: the data is unusable (exit 6)
            raise DataError(f"the model cannot predict on the sample: {type(exc).__name__}: {exc}",
                            where=mixed_cell(frame) or str(opts.sample),
                            fix="pass a sample with the columns and types the model was trained on") from exc
        schema = infer_schema(source, frame)
        # The rows variants are checked on but never fitted on (calibration, palettes): the holdout share.
        calibration, holdout = quantize.split_sample(len(frame))
        # representative data for targets that calibrate (e.g. full int8 TFLite): never the holdout rows
        source.sample = frame.iloc[calibration]
    artifacts = []
    with progress.step(f"converting to {', '.join(opts.targets)}"):
        for name in opts.targets:
            progress.detail(name)
            # float32 first, then the variants the target built itself (e.g. TFLite's float16 and int8)
            artifacts.extend(get_target(name)(source, schema, target_options.get(name, {})))
    candidates: list[Any] = []
    if plan:
        with progress.step(f"building quantized variants ({plan.text}) calibrated on {len(calibration)} rows"):
            part = frame.iloc[calibration]
            context = quantize.QuantizeContext(source, schema, frame_columns(part, schema),
                                               records_from_frame(part, schema), part)
            candidates, outcomes = quantize.build_candidates(plan, artifacts, context)
        # Variants a target emitted itself (non-float32 or non-default) are candidates like those built here.
        own = [a for a in artifacts if quantize.is_variant(a)]
        artifacts = [a for a in artifacts if not quantize.is_variant(a)]
        candidates = quantize.adopt(own, artifacts) + candidates

    scale = 1.0
    if schema.task == "regression":
        basis = table[opts.label_column] if opts.label_column else ref["value"]
        scale = float(np.std(np.asarray(basis, dtype=float))) or 1.0
    rows = _golden_rows(len(frame), opts.golden_rows)
    golden = {
        "records": records_from_frame(frame.iloc[rows], schema),
        "outputs": _outputs_json(ref, rows),
        "note": "Inputs sampled from the build's sample; outputs are the source model's own predictions.",
    }
    golden_bytes = (json.dumps(golden, allow_nan=False) + "\n").encode()
    profile_bytes = _reference_profile(opts, source, schema, table, frame, ref)
    files: dict[str, bytes] = {"golden.json": golden_bytes, PROFILE_FILE: profile_bytes}
    info = ModelInfo(name=opts.name or opts.model.stem, version=str(opts.version), task=schema.task,
                     author=opts.author, license=opts.license, description=opts.description,
                     inputs=[f.to_manifest() for f in schema.features], classes=list(schema.classes))
    entries = []
    for art in artifacts + candidates:
        stamp(art, info)
        files.update(art.files)
        main = art.entry["file"]
        entry = {**art.entry, **file_record(art.files[main])}
        if len(art.files) > 1:
            entry["files"] = [{"file": f, **file_record(d)} for f, d in sorted(art.files.items())]
        entries.append(entry)

    description = source.describe()
    manifest: dict[str, Any] = {
        "format": "edgepack",
        "format_version": 1,
        "model": {"name": info.name, "version": info.version, "task": schema.task, "created": utc_now(),
                  **{k: v for k, v in (("author", opts.author), ("license", opts.license),
                                       ("description", opts.description)) if v}},
        "source": {**description, "file": opts.model.name,
                   "sha256": source.sha256() if hasattr(source, "sha256") else hashlib.sha256(opts.model.read_bytes()).hexdigest()},
        "inputs": {"features": [f.to_manifest() for f in schema.features]},
        "outputs": _outputs_manifest(schema, scale),
        "artifacts": entries,
        "golden": {"file": "golden.json", "sha256": file_record(golden_bytes)["sha256"], "rows": len(rows)},
        "reference_profile": {"file": PROFILE_FILE, **file_record(profile_bytes)},
        "tolerance_profiles": {"float32": dict(FLOAT32_PROFILE), **profiles},  # --tolerance recorded here
        "parity": [],
        "statistics": {"sample_rows": int(len(frame)), "sample_file": opts.sample.name},
    }

    for art in candidates:
        manifest["tolerance_profiles"].setdefault(art.entry["precision"], profile_for(art.entry["precision"]))
    candidate_ids = {art.id for art in candidates}

    checks: list[dict[str, Any]] = []
    staging = Path(tempfile.mkdtemp(prefix="edgepack-build-"))
    try:
        with progress.step("checking every artifact against the model in its runtime"):
            staged = write_package(staging / "package", manifest, files)
            # One batch for every artifact: records are built row by row in Python, once is enough.
            batch = input_batch(frame, schema)
            for entry in entries:
                if entry["id"] not in candidate_ids:
                    checks.append(check_artifact(staged, entry, frame, schema, ref, scale, "sample", manifest, batch))
        # Variants a target emitted that are not --quantize candidates: keep those that pass their profile.
        entries, files = drop_failed_variants(entries, files, checks, manifest)
        unseen = None if plan else quantize.unseen_rows(source, frame, schema, ref, holdout)
        if unseen is not None:  # the targets' own variants, also on rows none of them was fitted on
            variants = [e for e in entries if not e.get("default") and e["id"] not in candidate_ids]
            for entry in variants:
                checks.append(check_artifact(staged, entry, unseen[0], schema, unseen[1], scale,
                                             "holdout+interpolated", manifest))
            entries, files = drop_failed_variants(entries, files, checks, manifest)
        manifest["artifacts"] = entries
        if plan:
            data = quantize.CheckData(frame, schema, ref, scale, holdout,
                                      quantize.interpolated_check(source, frame, schema, holdout), batch=batch)
            sizes = {e["id"]: artifact_size(e) for e in entries}  # every file of it
            chosen = quantize.select(plan, staged, candidates, outcomes, sizes, data, manifest, progress)
            checks.extend(chosen.checks)
            entries = _keep_entries(entries, candidate_ids - set(chosen.kept), chosen.latency)
            for art in candidates:
                if art.id not in chosen.kept:
                    for name in art.files:
                        files.pop(name, None)
            manifest["artifacts"] = entries
            manifest["tolerance_profiles"] = {p: v for p, v in manifest["tolerance_profiles"].items()
                                              if p == "float32" or p in profiles or any(e["precision"] == p for e in entries)}
            manifest["quantization"] = {"requested": plan.text, "calibration_rows": int(len(calibration)),
                                        "holdout_rows": int(len(holdout)),
                                        "interpolated_rows": len(data.interpolated[0]) if data.interpolated else 0,
                                        "variants": chosen.outcomes}
        if opts.default_variant:
            _set_default(entries, opts.default_variant, manifest.get("quantization"))
        manifest["parity"] = checks
        with progress.step(f"writing {opts.out}"):
            path = write_package(opts.out, manifest, files, force=opts.force)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if hasattr(source, "close"):  # e.g. the Spark source stops the Spark session it started
            source.close()
    return BuildResult(path=path, manifest=manifest, checks=checks)


def build_profiles(values: list[str]) -> dict[str, dict[str, Any]]:
    """The tolerance profiles `--tolerance` sets, whole (the default for the precision, then the values):
    {precision: profile}. Scopes are precisions (float32, float16, int8, uint8, uint16): the manifest records
    profiles per precision. Raises UsageError for a bad value or an artifact-id scope."""
    try:
        overrides = load_overrides(values)
    except ValueError as exc:
        raise UsageError(f"bad --tolerance: {exc}", fix="write PRECISION:KEY=VALUE[,KEY=VALUE], e.g. int8:max_probability_error=0.05") from None
    unknown = sorted(set(overrides) - set(PROFILES))
    if unknown:
        raise UsageError(f"--tolerance scope(s) {', '.join(unknown)} are not precisions",
                         fix=f"the build judges variants by precision: use one of {', '.join(PROFILES)} "
                             "(edgepack parity also takes artifact ids)")
    return {p: {**profile_for(p), **spec} for p, spec in overrides.items()}


def _reference_profile(opts: BuildOptions, source: Any, schema: IOSchema, table: Any, frame: Any,
                       ref: dict[str, np.ndarray]) -> bytes:
    """profile.json from the sample or from --reference-data (read and predicted like the sample)."""
    where = opts.sample
    if opts.reference_data is not None:
        where = opts.reference_data
        table = read_table(where)
        frame = feature_frame(source, table, opts.label_column, str(where))
        try:
            ref = source.predict(frame)
        except Exception as exc:  # the user's model raising on the user's data
            raise EdgepackError(f"the model cannot predict on the reference data: {type(exc).__name__}: {exc}",
                                where=str(where), fix="pass reference data with the sample's columns and types") from exc
    labels = table[opts.label_column] if opts.label_column and opts.label_column in table else None
    features = [f.to_manifest() for f in schema.features]
    return build_profile(features, frame, ref, list(schema.classes), labels, where.name)


def _keep_entries(entries: list[dict[str, Any]], dropped: set[str], latency: dict[str, dict[str, Any]]
                  ) -> list[dict[str, Any]]:
    kept = []
    for entry in entries:
        if entry["id"] in dropped:
            continue
        kept.append({**entry, "latency": latency[entry["id"]]} if entry["id"] in latency else entry)
    return kept


def _set_default(entries: list[dict[str, Any]], ident: str, quantization: dict[str, Any] | None) -> None:
    """Make artifact `ident` its format's default. Raises EdgepackError when it is not in the package."""
    chosen = next((e for e in entries if e["id"] == ident), None)
    if chosen is None:
        outcome = next((o for o in (quantization or {}).get("variants", []) if o["id"] == ident), None)
        why = f"{outcome['status']}: {outcome['reason']}" if outcome else "no artifact has that id"
        raise EdgepackError(f"--default-variant {ident}: that artifact is not in the package ({why})",
                            fix=f"choose one of: {', '.join(e['id'] for e in entries)}")
    for entry in entries:
        if entry["format"] == chosen["format"]:
            entry["default"] = entry is chosen


def _outputs_manifest(schema: IOSchema, scale: float) -> dict[str, Any]:
    if schema.task == "classification":
        return {"names": ["label", "probabilities"], "classes": list(schema.classes),
                "shapes": {"label": [None], "probabilities": [None, len(schema.classes)]}}
    return {"names": ["value"], "shapes": {"value": [None]}, "value_scale": scale}
