"""Tolerance profiles, declared as data in one place and recorded in every report.

A profile says how close an artifact's outputs must be to the reference model's. The keys:
    min_label_agreement     classification: share of rows whose label equals the reference label
    max_probability_error   classification: largest absolute probability difference allowed
    max_value_error         regression: largest absolute error, relative to the target's scale
                            (the manifest's outputs.value_scale)
The parity harness may add keys (statistic, atol/rtol per output, AUC change). The verdict on a profile:
runtime/judge.py. Reasons for each number: docs/parity.md.
"""

from __future__ import annotations

from typing import Any

from ..runtime.judge import DEFAULT_AUC_CHANGE, DEFAULT_AUC_CHANGE_QUANTIZED, PROFILES, recorded_profile

# The defaults live in runtime/judge.py (the device judges its self-test with them); this is their
# recorded form, {precision: {key: limit}}.
DEFAULT_PROFILES: dict[str, dict[str, Any]] = {name: p.to_dict() for name, p in PROFILES.items()}


def profile_for(precision: str, manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    """The profile for an artifact precision: the manifest's own if it declares one, else the default."""
    return recorded_profile(precision, manifest)


def package_profiles(manifest: dict[str, Any], asked: bool, notes: list[str] | None = None
                     ) -> dict[str, Any] | None:
    """What `edgepack parity` may take from the package it judges: its tolerance_profiles only when the
    user asked (--manifest-tolerances), else nothing (a package never grades itself: a manifest that loosens
    its own profiles must not pass a swapped model). Adds a note to `notes` when profiles were left out
    that differ from the defaults."""
    if asked:
        return manifest
    own = manifest.get("tolerance_profiles") or {}
    differing = sorted(p for p, v in own.items() if {**DEFAULT_PROFILES.get(p, {}), **v} != DEFAULT_PROFILES.get(p))
    if notes is not None and differing:
        notes.append(f"the package's own tolerance_profiles ({', '.join(differing)}) were not applied: a package "
                     "never grades itself (--manifest-tolerances applies them, --tolerance sets yours)")
    return None


# -- the harness's additions (runtime/judge.py and parity/compare.py read them) -----------------------
# Extra keys a profile may carry:
#     max_auc_change          binary classification with labels: largest allowed |AUC(reference) - AUC(artifact)|
#     max_abs_error           regression: largest absolute error (unscaled); absent = not checked
#     max_rel_error           regression: largest error relative to |reference|; absent = not checked
#     outputs                 {output name: {"atol": a, "rtol": r, "statistic": "elementwise"|"max"|"mean"|"quantile",
#                              "q": 0.99}} (Polygraphy's grammar: elementwise passes when every element's
#                              absolute error <= atol or its relative error <= rtol; the other statistics
#                              compare that statistic of the absolute errors with atol, or of the relative
#                              errors with rtol)
STATISTICS = ("elementwise", "max", "mean", "quantile")
NUMBER_KEYS = ("min_label_agreement", "max_probability_error", "max_value_error", "max_auc_change",
               "max_abs_error", "max_rel_error",
               # tensor packages (runtime/judge.py: TensorProfile)
               "min_top1_agreement", "min_top5_agreement", "min_cosine")
OUTPUT_KEYS = ("atol", "rtol", "statistic", "q")


def harness_profile(precision: str, manifest: dict[str, Any] | None = None,
                    overrides: dict[str, dict[str, Any]] | None = None, artifact_id: str | None = None
                    ) -> dict[str, Any]:
    """The full profile the parity harness applies: profile_for(precision) plus the AUC default, then the
    overrides for the precision, then those for the artifact id (most specific wins)."""
    profile = profile_for(precision, manifest)
    profile.setdefault("max_auc_change", DEFAULT_AUC_CHANGE.get(precision, DEFAULT_AUC_CHANGE_QUANTIZED))
    for key in (precision, artifact_id):
        if overrides and key in overrides:
            _merge(profile, overrides[key])
    return profile


def _merge(profile: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if key == "outputs":
            outputs = profile.setdefault("outputs", {})
            for name, spec in value.items():
                outputs[name] = {**outputs.get(name, {}), **spec}
        else:
            profile[key] = value


def parse_override(text: str) -> dict[str, dict[str, Any]]:
    """One `--tolerance` value: `PRECISION_OR_ARTIFACT:KEY=VALUE[,KEY=VALUE...]`, where KEY is a profile
    key or `OUTPUT.atol|rtol|statistic|q`. Returns {precision or artifact id: partial profile}.
    Raises ValueError with a readable message."""
    scope, sep, body = text.partition(":")
    if not sep or not scope or not body:
        raise ValueError(f"expected PRECISION:KEY=VALUE (e.g. float32:max_probability_error=1e-4), got {text!r}")
    partial: dict[str, Any] = {}
    for item in body.split(","):
        key, eq, raw = item.partition("=")
        key, raw = key.strip(), raw.strip()
        if not eq:
            raise ValueError(f"expected KEY=VALUE in {text!r}, got {item!r}")
        if "." in key:
            output, _, field_name = key.partition(".")
            partial.setdefault("outputs", {}).setdefault(output, {})[field_name] = _output_value(field_name, raw, text)
        elif key in NUMBER_KEYS:
            partial[key] = _number(raw, key, text)
        else:
            raise ValueError(f"unknown tolerance key {key!r} in {text!r}; known: {', '.join(NUMBER_KEYS)}, "
                             f"or OUTPUT.{{{','.join(OUTPUT_KEYS)}}}")
    return {scope: partial}


def load_overrides(values: list[str]) -> dict[str, dict[str, Any]]:
    """All `--tolerance` values: each a PRECISION:KEY=VALUE string or a JSON file
    {"float32": {"max_probability_error": 1e-4}, "onnx-int8-dynamic": {...}}. Later values win."""
    import json
    from pathlib import Path

    merged: dict[str, dict[str, Any]] = {}
    for value in values:
        if value.endswith(".json") and ":" not in value:
            path = Path(value)
            try:
                data = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise ValueError(f"cannot read tolerance file {value}: {exc}") from exc
            if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
                raise ValueError(f"{value}: expected {{PRECISION_OR_ARTIFACT: {{KEY: VALUE}}}}")
            for scope, spec in data.items():
                text = ",".join(_flatten(spec))
                parsed = parse_override(f"{scope}:{text}") if text else {scope: {}}
                _merge(merged.setdefault(scope, {}), parsed[scope])
        else:
            for scope, spec in parse_override(value).items():
                _merge(merged.setdefault(scope, {}), spec)
    return merged


def _flatten(spec: dict[str, Any]) -> list[str]:
    items = []
    for key, value in spec.items():
        if key == "outputs" and isinstance(value, dict):
            items += [f"{out}.{k}={v}" for out, fields in value.items() for k, v in fields.items()]
        else:
            items.append(f"{key}={value}")
    return items


def _number(raw: str, key: str, text: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{key} needs a number, got {raw!r} in {text!r}") from None
    if value < 0 or value != value:
        raise ValueError(f"{key} must be a number >= 0, got {raw!r} in {text!r}")
    return value


def _output_value(field_name: str, raw: str, text: str) -> Any:
    if field_name == "statistic":
        if raw not in STATISTICS:
            raise ValueError(f"statistic must be one of {', '.join(STATISTICS)}, got {raw!r} in {text!r}")
        return raw
    if field_name not in OUTPUT_KEYS:
        raise ValueError(f"unknown output tolerance field {field_name!r} in {text!r}; known: {', '.join(OUTPUT_KEYS)}")
    return _number(raw, field_name, text)
