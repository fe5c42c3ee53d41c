"""`--quantize`: build the quantized variants of each format, check them, keep what passes.

    plan = parse_quantize("auto", ["onnx"])          # or "float16,int8-dynamic", "onnx-int8-static", "none"
    options = target_options(plan, formats, given)   # the modes targets build themselves (TFLite, TF.js, Core ML)
    candidates, outcomes = build_candidates(plan, artifacts, context)
    ... the build stages every artifact in one package ...
    selection = select(plan, staged, candidates, outcomes, data)

Each variant is checked in its format's first runner, under the tolerance profile of its precision
(parity/profiles.py), on three sets of rows: the whole sample; the holdout rows (a share of the sample
never shown to calibration); and rows interpolated between pairs of holdout rows, scored by the source
model itself. Why the third: a sample is often made of training rows, on which a model is confident, so
quantization noise rarely flips a label there. On a digits MLP, static int8 passed the sample and the
holdout rows but flipped 1.2 % of the labels of rows the model never saw (max probability error 0.79);
the interpolated rows, which sit nearer the decision boundaries, caught it (1.6 % flipped). `auto` keeps per format the smallest variant that passes both, beside the
float32 artifact; explicit modes keep every requested variant that passes. Every variant that is not
kept says why (not applicable, failed its profile, not smaller, a smaller one passes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ...converters.quantize import VARIANT_EMITTERS, modes_of, target_option, variant_emitter
from ...converters.quantize.base import NotApplicable, QuantizeContext
from ...converters.targets.base import Artifact
from ...parity.data import input_batch
from ...runtime.errors import EdgepackError, UsageError
from ...runtime.judge import Metrics, judge, profile_of
from ..check import check_artifact
from .latency import measure_latency

HOLDOUT_SHARE = 0.2
MIN_HOLDOUT_ROWS = 5
INTERPOLATED_ROWS = 400


@dataclass(frozen=True)
class QuantizePlan:
    """What `--quantize` asked for: `auto` (every mode of every format) or explicit (format, mode) pairs."""

    text: str
    auto: bool
    wanted: frozenset[tuple[str, str]] = frozenset()

    def modes_for(self, fmt: str) -> list[str]:
        modes = list(modes_of(fmt))
        return modes if self.auto else [m for m in modes if (fmt, m) in self.wanted]


def parse_quantize(text: str, formats: list[str]) -> QuantizePlan | None:
    """`none` -> None; `auto`; or MODE[,MODE...] where MODE is a mode name (for every format offering
    it) or an artifact id such as onnx-int8-static or tflite-int8-weights. Raises UsageError for a mode no
    target offers, naming the modes each target has."""
    text = (text or "none").strip()
    if text == "none":
        return None
    if text == "auto":
        return QuantizePlan(text, auto=True)
    offered = {(fmt, mode) for fmt in formats for mode in modes_of(fmt)}
    wanted: set[tuple[str, str]] = set()
    for item in (t.strip() for t in text.split(",") if t.strip()):
        pairs = {(f, m) for f, m in offered if item in (m, f"{f}-{m}")}
        if not pairs:
            raise _unknown_mode(item, formats)
        wanted |= pairs
    return QuantizePlan(text, auto=False, wanted=frozenset(wanted))


def _unknown_mode(item: str, formats: list[str]) -> UsageError:
    """The refusal of a mode: for an id of a target (tflite-xyz), that target's modes; else every target's."""
    fmt = next((f for f in VARIANT_EMITTERS if item.startswith(f"{f}-")), None)
    if fmt is not None and fmt not in formats:
        return UsageError(f"quantization mode {item!r} is for the {fmt} target, which is not among the targets "
                          f"({', '.join(formats)})", fix=f"add {fmt} to --targets, or leave {item} out")
    if fmt is not None:
        return UsageError(f"unknown {fmt} quantization mode {item[len(fmt) + 1:]!r} ({item})",
                          fix=f"the {fmt} target offers: {', '.join(modes_of(fmt))} "
                              f"(as ids: {', '.join(f'{fmt}-{m}' for m in modes_of(fmt))})")
    per_target = "; ".join(f"{f}: {', '.join(modes_of(f)) or 'none'}" for f in formats)
    return UsageError(f"unknown quantization mode {item!r} for targets {', '.join(formats)}",
                      fix=f"use none, auto, or modes or FORMAT-MODE ids from: {per_target}")


def target_options(plan: QuantizePlan | None, formats: list[str], given: dict[str, dict[str, Any]]
                   ) -> dict[str, dict[str, Any]]:
    """The targets' options with the variants `--quantize` asks of each target that builds its own
    (TFLite, TF.js, Core ML). Without --quantize the given options stand. Raises UsageError when an
    --option FORMAT.variants contradicts --quantize (one of the two must say which variants)."""
    if plan is None:
        return given
    options = {k: dict(v) for k, v in given.items()}
    for fmt in formats:
        option = target_option(fmt, plan.modes_for(fmt))
        if option is None:
            continue
        name, value = option
        if name in options.get(fmt, {}):
            raise UsageError(f"--option {fmt}.{name} and --quantize {plan.text} both say which {fmt} variants to build",
                             fix=f"use --quantize alone (e.g. --quantize {fmt}-{next(iter(modes_of(fmt)))}), "
                                 f"or drop --quantize")
        options.setdefault(fmt, {})[name] = value
    return options


def is_variant(art: Artifact) -> bool:
    """A quantized variant rather than a format's base artifact (float32, or the float64 of c and js,
    which say `default: true`)."""
    if art.entry.get("default") is True and not art.entry.get("variant_of"):
        return False
    return (bool(art.entry.get("variant_of")) or art.entry.get("precision", "float32") != "float32"
            or art.entry.get("default") is False)


def adopt(variants: list[Artifact], bases: list[Artifact]) -> list[Artifact]:
    """Name the float32 artifact each target-made variant comes from (`variant_of`), for size ratios:
    every target's emit returns its float32 artifact first, the one base of its format in `bases`."""
    for art in variants:
        base = next((b.id for b in bases if b.format == art.format), None)
        if base and not art.entry.get("variant_of"):
            art.entry["variant_of"] = base
        art.entry["default"] = False
    return variants


def build_candidates(plan: QuantizePlan, artifacts: list[Artifact], context: QuantizeContext
                     ) -> tuple[list[Artifact], list[dict[str, Any]]]:
    """Emit every planned variant of each float32 artifact. Returns (candidates, outcomes); an outcome
    records each variant that could not be built and why (status "not applicable" or "build failed")."""
    candidates: list[Artifact] = []
    outcomes: list[dict[str, Any]] = []
    offered = {a.format for a in artifacts if is_variant(a)}
    for base in artifacts:
        if is_variant(base):
            continue  # a target's own variants are checked like any artifact, not re-quantized
        module = variant_emitter(base.format)
        if module is None:
            if plan.auto and base.format not in offered:
                outcomes.append({"id": f"{base.format}-*", "format": base.format, "mode": "*", "status": "not offered",
                                 "reason": f"the {base.format} target offers no quantized variants "
                                           f"(formats with variants: {', '.join(VARIANT_EMITTERS)})"})
            continue
        if hasattr(module, "TARGET_OPTION"):  # the target built the planned modes itself (target_options)
            built = {a.id for a in artifacts if a.format == base.format}
            outcomes += [{"id": f"{base.format}-{mode}", "format": base.format, "mode": mode, "status": "not applicable",
                          "reason": f"the {base.format} target did not build it for this model (nothing to compress, "
                                    "or its converter failed: see the build's messages)"}
                         for mode in plan.modes_for(base.format) if f"{base.format}-{mode}" not in built]
            continue
        for mode in plan.modes_for(base.format):
            ident = f"{base.format}-{mode}"
            try:
                candidates.append(module.emit_variant(base, mode, context))
            except NotApplicable as why:
                outcomes.append({"id": ident, "format": base.format, "mode": mode, "status": "not applicable",
                                 "reason": str(why)})
            except Exception as exc:  # a converter failing on one mode must not sink the build
                outcomes.append({"id": ident, "format": base.format, "mode": mode, "status": "build failed",
                                 "reason": f"{type(exc).__name__}: {exc}"})
    return candidates, outcomes


@dataclass
class CheckData:
    """The rows variants are checked on: the whole sample and its holdout share, with the reference."""

    frame: Any
    schema: Any
    ref: dict[str, np.ndarray]
    scale: float
    holdout: np.ndarray
    interpolated: tuple[Any, dict[str, np.ndarray]] | None = None  # (frame, the source model's outputs)
    batch: Any = None  # `frame` as the runners' InputBatch when the caller has it already (the build does)

    @cached_property
    def parts(self) -> list[tuple[str, Any, dict[str, np.ndarray], Any]]:
        """(name, rows, reference, rows as the runners' InputBatch) per part, the batches built once for
        every candidate rather than once per candidate and part."""
        parts = [("sample", self.frame, self.ref)]
        if len(self.holdout):
            parts.append(("holdout", self.frame.iloc[self.holdout], {k: v[self.holdout] for k, v in self.ref.items()}))
        if self.interpolated is not None and len(self.interpolated[0]):
            parts.append(("interpolated", *self.interpolated))
        return [(name, frame, ref, self.batch if name == "sample" and self.batch is not None else input_batch(frame, self.schema))
                for name, frame, ref in parts]


@dataclass
class Selection:
    kept: list[str]
    checks: list[dict[str, Any]]
    outcomes: list[dict[str, Any]]
    latency: dict[str, dict[str, Any]] = field(default_factory=dict)


def split_sample(n: int, share: float = HOLDOUT_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """(calibration rows, holdout rows) of a sample of n rows; a fixed seed keeps builds reproducible."""
    order = np.random.default_rng(20261122).permutation(n)
    k = int(round(share * n))
    if k < MIN_HOLDOUT_ROWS or n - k < MIN_HOLDOUT_ROWS:
        return np.arange(n), np.arange(0)
    return np.sort(order[k:]), np.sort(order[:k])


def interpolated_rows(frame: Any, schema: Any, rows: np.ndarray, n: int = INTERPOLATED_ROWS) -> Any:
    """n rows between random pairs (a, b) of `rows`: numbers at a + t (b - a), t uniform in [0, 0.5]
    (rounded for int features); categories, texts, booleans and missing values are a's. Returns a DataFrame
    with the sample's columns and dtypes, ready for the source model's predict."""
    rng = np.random.default_rng(7)
    if len(rows) < 2:
        return frame.iloc[:0]
    a, b = rng.choice(rows, n), rng.choice(rows, n)
    t = rng.uniform(0.0, 0.5, n)
    out = frame.iloc[a].reset_index(drop=True).copy()
    for feat in schema.features:
        if feat.type in ("category", "bool", "text"):
            continue
        va = frame[feat.name].to_numpy(dtype=np.float64, na_value=np.nan)[a]
        vb = frame[feat.name].to_numpy(dtype=np.float64, na_value=np.nan)[b]
        mixed = np.where(np.isnan(va) | np.isnan(vb), va, va + t * (vb - va))
        if feat.type == "int":
            mixed = np.round(mixed)
        out[feat.name] = mixed.astype(out[feat.name].dtype) if feat.type == "int" and not np.isnan(mixed).any() else mixed
    return out


def interpolated_check(source: Any, frame: Any, schema: Any, holdout: np.ndarray
                       ) -> tuple[Any, dict[str, np.ndarray]] | None:
    """Interpolated rows with the source model's outputs, or None when there are too few holdout rows or
    the model refuses such rows (then the variants are checked on the sample and holdout rows only)."""
    between = interpolated_rows(frame, schema, holdout)
    if not len(between):
        return None
    try:
        return between, source.predict(between)
    except Exception:  # the user's model rejecting synthetic rows is no reason to fail the build
        return None


def unseen_rows(source: Any, frame: Any, schema: Any, ref: dict[str, np.ndarray], holdout: np.ndarray
                ) -> tuple[Any, dict[str, np.ndarray]] | None:
    """The holdout rows and the rows interpolated between them, as one set with the reference outputs: what
    a target's own variants are checked on besides the sample when no --quantize selection runs (one more
    run per variant rather than two). None when the sample is too small to hold rows out."""
    import pandas as pd

    if not len(holdout):
        return None
    parts = [(frame.iloc[holdout], {k: np.asarray(v)[holdout] for k, v in ref.items()})]
    between = interpolated_check(source, frame, schema, holdout)
    if between is not None and len(between[0]):
        parts.append(between)
    rows = pd.concat([p[0] for p in parts], ignore_index=True)
    return rows, {k: np.concatenate([np.asarray(p[1][k]) for p in parts]) for k in ref}


def select(plan: QuantizePlan, staged: Path, candidates: list[Artifact], outcomes: list[dict[str, Any]],
           sizes: dict[str, int], data: CheckData, manifest: dict[str, Any], progress: Any) -> Selection:
    """Check every candidate on the sample and the holdout rows, keep what passes (smallest per format
    under auto), measure latency of the kept ones and their float32 baselines."""

    checks: dict[str, list[dict[str, Any]]] = {}
    passing: list[Artifact] = []
    outcomes = list(outcomes)
    extra = f", {len(data.interpolated[0])} interpolated" if data.interpolated is not None else ""
    with progress.step(f"checking {len(candidates)} variants on the sample, {len(data.holdout)} held-out{extra} rows"):
        statuses = {}
        for n, art in enumerate(candidates, 1):
            progress.detail(f"{art.id} ({n}/{len(candidates)})")
            statuses[art.id] = _check(staged, {**art.entry, "size": sizes[art.id]}, data, manifest)
    for art in candidates:
        status = statuses[art.id]
        checks[art.id] = status["checks"]
        record = {"id": art.id, "format": art.format, "mode": art.id[len(art.format) + 1:], "size": sizes[art.id],
                  "precision": art.entry["precision"], "base": art.entry.get("variant_of") or art.format,
                  "metrics": {c["data"]: c["metrics"] for c in status["checks"]}}
        base_size = sizes.get(record["base"])
        if base_size:
            record["size_ratio"] = round(sizes[art.id] / base_size, 4)
        if status["reason"]:
            outcomes.append({**record, "status": "dropped", "reason": status["reason"]})
        elif base_size and sizes[art.id] >= base_size:
            outcomes.append({**record, "status": "dropped",
                             "reason": f"not smaller than the float32 artifact ({sizes[art.id]} >= {base_size} bytes)"})
        else:
            outcomes.append({**record, "status": "passed", "reason": ""})
            passing.append(art)

    kept = _keep(plan, passing, sizes, outcomes)
    kept_checks = [c for ident in kept for c in checks[ident]]
    selection = Selection(kept=kept, checks=kept_checks, outcomes=outcomes)
    formats = {a.format for a in candidates} | {o["format"] for o in outcomes}
    bases = [o["base"] for o in outcomes if o["id"] in kept] + sorted(
        a["id"] for a in manifest["artifacts"] if a["format"] in formats and not a.get("variant_of"))
    with progress.step(f"measuring latency of {', '.join(dict.fromkeys(kept + bases))}"):
        for ident in dict.fromkeys(kept + bases):
            lat = measure_latency(staged, ident, data.frame, data.schema)
            if lat:
                selection.latency[ident] = lat
    return selection


def _check(staged: Path, entry: dict[str, Any], data: CheckData, manifest: dict[str, Any]) -> dict[str, Any]:
    results = []
    for name, frame, ref, batch in data.parts:
        try:
            check = check_artifact(staged, entry, frame, data.schema, ref, data.scale, name, manifest, batch=batch)
        except EdgepackError as err:  # e.g. the runtime refuses to load the variant
            return {"checks": results, "reason": f"its runtime cannot run it: {err.what}"}
        results.append(check)
        if check.get("unavailable"):
            return {"checks": results, "reason": f"cannot be checked here: {check['unavailable']}"}
        if not check["passed"]:
            verdict = judge(Metrics.from_dict(check["metrics"]), profile_of(entry["precision"], manifest))
            return {"checks": results, "reason": f"fails the {entry['precision']} profile on the {name} rows: "
                                                 + verdict.reasons()}
    return {"checks": results, "reason": ""}


def _keep(plan: QuantizePlan, passing: list[Artifact], sizes: dict[str, int], outcomes: list[dict[str, Any]]) -> list[str]:
    """Explicit modes keep every passing variant; auto keeps the smallest passing one per format."""
    kept: list[str] = []
    by_format: dict[str, list[Artifact]] = {}
    for art in passing:
        by_format.setdefault(art.format, []).append(art)
    for arts in by_format.values():
        arts.sort(key=lambda a: sizes[a.id])
        chosen = arts if not plan.auto else arts[:1]
        kept.extend(a.id for a in chosen)
        for art in arts[len(chosen):]:
            _mark(outcomes, art.id, "dropped",
                  f"{chosen[0].id} also passes and is smaller ({sizes[chosen[0].id]} < {sizes[art.id]} bytes)")
    for ident in kept:
        _mark(outcomes, ident, "kept", "smallest variant that passes" if plan.auto else "requested and passes")
    return kept


def _mark(outcomes: list[dict[str, Any]], ident: str, status: str, reason: str) -> None:
    for o in outcomes:
        if o["id"] == ident:
            o["status"], o["reason"] = status, reason
