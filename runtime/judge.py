"""The one judge of tolerances: whether an artifact's metrics meet a tolerance profile, and why not.

The build's check, variant selection, the parity harness, the Spark engine and the device self-test all
ask `judge(metrics, profile)`; the profile defaults live here and nowhere else. Pure stdlib, so the
device (which installs `runtime/` only) carries the same verdict as the toolchain.

Profiles and metrics are recorded as JSON objects (manifest `tolerance_profiles`, report `metrics` and
`failures`); `from_dict`/`to_dict` convert at that edge and keep those objects byte for byte.
Reasons for each default number: docs/parity.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Self


class _Recorded:
    """A dataclass recorded as a JSON object: from_dict keeps its judged keys, to_dict the ones set."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """The judged keys of a recorded object; other keys (per-output `outputs`, counts, quantiles) are
        the comparator's and reports'."""
        return cls(**_known(cls, data))

    def to_dict(self) -> dict[str, float]:
        """As the manifest and reports record it: every limit or metric that is set."""
        return {f.name: getattr(self, f.name) for f in fields(self)  # type: ignore[arg-type]
                if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class ToleranceProfile(_Recorded):
    """How close an artifact's outputs must be to the reference model's.

    min_label_agreement     classification: share of rows whose label equals the reference label
    max_probability_error   classification: largest absolute probability difference allowed
    max_value_error         regression: largest absolute error, relative to the target's scale
    max_auc_change          binary classification with labels: largest |AUC(reference) - AUC(artifact)|;
                            None = AUC_CHANGE_FALLBACK
    max_abs_error           regression: largest absolute error (unscaled); None = not checked
    max_rel_error           regression: largest error relative to |reference|; None = not checked
    A key missing from a recorded profile takes the float32 default (the strictest).
    """

    min_label_agreement: float = 1.0
    max_probability_error: float = 1e-5
    max_value_error: float = 1e-5
    max_auc_change: float | None = None
    max_abs_error: float | None = None
    max_rel_error: float | None = None


@dataclass(frozen=True)
class Metrics(_Recorded):
    """The judged metrics of one artifact against its reference; classification iff label_agreement is set."""

    label_agreement: float | None = None
    max_probability_error: float | None = None
    max_scaled_error: float | None = None
    auc_change: float | None = None
    max_abs_error: float | None = None
    max_rel_error: float | None = None


def _known(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of a recorded object that are fields of `cls` (values kept as recorded: 1 stays 1)."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names and v is not None}


@dataclass(frozen=True)
class Failure:
    """One broken limit: `metric` `value` is not `check` (">=" or "<=") `limit`."""

    metric: str
    value: float
    limit: float
    check: str
    profile_key: str | None = None  # the profile key behind `limit` when its name differs from `metric`

    def to_dict(self) -> dict[str, Any]:
        """As parity reports record it (`profile_key` only when set)."""
        return {"metric": self.metric, "value": self.value, "limit": self.limit, "check": self.check,
                **({"profile_key": self.profile_key} if self.profile_key else {})}

    def words(self) -> str:
        """`probability error 0.461 > 0.02`: as the build and variant selection say why."""
        op = {">=": "<", "<=": ">"}[self.check]
        shown = f"{self.value:.6f}" if self.metric == "min_cosine" else \
            f"{self.value:.4f}" if self.metric.endswith("agreement") else f"{self.value:.3g}"
        return f"{_WORDS.get(self.metric, self.metric)} {shown} {op} {self.limit}"


_WORDS = {"label_agreement": "label agreement", "max_probability_error": "probability error",
          "max_scaled_error": "scaled value error", "auc_change": "AUC change",
          "max_abs_error": "absolute error", "max_rel_error": "relative error",
          "top1_agreement": "top-1 agreement", "top5_agreement": "top-5 agreement", "min_cosine": "cosine similarity"}


@dataclass(frozen=True)
class Verdict:
    """The judge's answer: passed when no limit is broken."""

    failures: tuple[Failure, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.failures

    def reasons(self) -> str:
        """The broken limits in words, `; `-separated; empty when it passed."""
        return "; ".join(f.words() for f in self.failures)


def judge(metrics: Metrics, profile: ToleranceProfile) -> Verdict:
    """Whether `metrics` meet `profile`. A NaN metric breaks its limit. Classification checks label
    agreement, probability error and (when measured) AUC change; regression the scaled error and the
    unscaled absolute/relative errors the profile sets."""
    failures: list[Failure] = []

    def at_least(metric: str, value: float | None, limit: float) -> None:
        if not _value(value) >= limit:
            failures.append(Failure(metric, _value(value), limit, ">="))

    def at_most(metric: str, value: float | None, limit: float, key: str | None = None) -> None:
        if not _value(value) <= limit:  # NaN fails
            failures.append(Failure(metric, _value(value), limit, "<=", key))

    if metrics.label_agreement is not None:
        at_least("label_agreement", metrics.label_agreement, profile.min_label_agreement)
        at_most("max_probability_error", metrics.max_probability_error, profile.max_probability_error)
        if metrics.auc_change is not None:
            limit = AUC_CHANGE_FALLBACK if profile.max_auc_change is None else profile.max_auc_change
            at_most("auc_change", metrics.auc_change, limit, "max_auc_change")
    else:
        at_most("max_scaled_error", metrics.max_scaled_error, profile.max_value_error, "max_value_error")
        for name in ("max_abs_error", "max_rel_error"):
            limit = getattr(profile, name)
            if limit is not None:
                at_most(name, getattr(metrics, name), limit)
    return Verdict(tuple(failures))


def _value(value: float | None) -> float:
    return math.nan if value is None else value  # an unmeasured judged metric fails rather than passes


# -- the defaults: one table ------------------------------------------------------------------------------
PROFILES: dict[str, ToleranceProfile] = {
    # Same model, same numbers up to float32 rounding: every label, and probabilities within 1e-5.
    "float32": ToleranceProfile(1.0, 1e-5, 1e-5),
    # Generated C and JS computing in double (precision "float64"): held to the float32 promise, not judged
    # as 8-bit by the fallback (a JS artifact 0.017 off passed that way).
    "float64": ToleranceProfile(1.0, 1e-5, 1e-5),
    # Half precision keeps ~3 decimal digits: labels may flip only for near-ties.
    "float16": ToleranceProfile(0.995, 0.01, 0.01),
    # 8-bit weights/activations: a few near-tie labels and ~2 % probability error are the price.
    "int8": ToleranceProfile(0.995, 0.02, 0.02),
    "uint8": ToleranceProfile(0.995, 0.02, 0.02),
    "uint16": ToleranceProfile(0.999, 0.005, 0.005),
}
# A precision no profile knows is held to the strictest: a package cannot loosen its own judgement by naming one.
FALLBACK_PRECISION = "float32"
# AUC drifts far less than single probabilities: a ranking changes only where two rows swap order.
DEFAULT_AUC_CHANGE: dict[str, float] = {"float32": 1e-4, "float64": 1e-4, "float16": 0.002, "uint16": 0.002}
DEFAULT_AUC_CHANGE_QUANTIZED = 0.005
AUC_CHANGE_FALLBACK = DEFAULT_AUC_CHANGE["float32"]  # a profile that sets no AUC limit: the strictest


def recorded_profile(precision: str, manifest: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The profile for an artifact precision as recorded: the manifest's own if it declares one, else the
    default for the precision."""
    if manifest and precision in manifest.get("tolerance_profiles", {}):
        return dict(manifest["tolerance_profiles"][precision])
    return PROFILES.get(precision, PROFILES[FALLBACK_PRECISION]).to_dict()


def profile_of(precision: str, manifest: Mapping[str, Any] | None = None) -> ToleranceProfile:
    """recorded_profile, typed: what judge() takes."""
    return ToleranceProfile.from_dict(recorded_profile(precision, manifest))


# -- tensor packages (format version 2): images, sequences, embeddings ------------------------------------
@dataclass(frozen=True)
class TensorProfile(_Recorded):
    """How close a tensor artifact's outputs must be to the source model's.

    min_top1_agreement  classifiers: share of rows whose reference top-1 class is the artifact's top-1
    min_top5_agreement  classifiers: share of rows whose reference top-1 class is among the artifact's top 5
    max_abs_error       every output: largest absolute difference of any element
    min_cosine          every output: lowest cosine similarity between a row's reference and artifact vectors
    """

    min_top1_agreement: float = 1.0
    min_top5_agreement: float = 1.0
    max_abs_error: float = 1e-4
    min_cosine: float = 0.9999


@dataclass(frozen=True)
class TensorMetrics(_Recorded):
    """The judged metrics of a tensor artifact; the agreements are set for classifiers only."""

    max_abs_error: float | None = None
    min_cosine: float | None = None
    top1_agreement: float | None = None
    top5_agreement: float | None = None


def judge_tensors(metrics: TensorMetrics, profile: TensorProfile) -> Verdict:
    """Whether a tensor artifact's metrics meet `profile`: top-1/top-5 agreement when measured (classifiers),
    always the largest absolute error and the lowest cosine similarity. A NaN or unmeasured error fails."""
    failures: list[Failure] = []
    for metric, limit, key in (("top1_agreement", profile.min_top1_agreement, "min_top1_agreement"),
                               ("top5_agreement", profile.min_top5_agreement, "min_top5_agreement")):
        value = getattr(metrics, metric)
        if value is not None and not value >= limit:
            failures.append(Failure(metric, value, limit, ">=", key))
    if not _value(metrics.max_abs_error) <= profile.max_abs_error:
        failures.append(Failure("max_abs_error", _value(metrics.max_abs_error), profile.max_abs_error, "<="))
    if not _value(metrics.min_cosine) >= profile.min_cosine:
        failures.append(Failure("min_cosine", _value(metrics.min_cosine), profile.min_cosine, ">="))
    return Verdict(tuple(failures))


# precision -> limits. float32: the same network up to float32 rounding (top-1 equal, error <= 1e-4);
# float16 and 8-bit keep the label of nearly every input and the direction of every output vector.
TENSOR_PROFILES: dict[str, TensorProfile] = {
    "float32": TensorProfile(1.0, 1.0, 1e-4, 0.9999),
    "float16": TensorProfile(0.99, 0.99, 1e-2, 0.999),
    "int8": TensorProfile(0.97, 0.97, 0.2, 0.98),
    "uint8": TensorProfile(0.99, 0.99, 0.05, 0.995),
}


def recorded_tensor_profile(precision: str, manifest: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The tensor profile for a precision as recorded: the manifest's own if it declares one (missing keys
    take the float32 default, the strictest), else the default for the precision."""
    if manifest and precision in manifest.get("tolerance_profiles", {}):
        return {**TensorProfile().to_dict(), **manifest["tolerance_profiles"][precision]}
    return TENSOR_PROFILES.get(precision, TENSOR_PROFILES[FALLBACK_PRECISION]).to_dict()
