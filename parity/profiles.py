"""Tolerance profiles, declared as data in one place and recorded in every report.

A profile says how close an artifact's outputs must be to the reference model's. The keys:
    min_label_agreement     classification: share of rows whose label equals the reference label
    max_probability_error   classification: largest absolute probability difference allowed
    max_value_error         regression: largest absolute error, relative to the target's scale
                            (the manifest's outputs.value_scale)
The parity harness may add keys (statistic, atol/rtol per output, AUC change); passes() ignores keys it
does not know. Reasons for each number: docs/parity.md.
"""

from __future__ import annotations

from typing import Any

DEFAULT_PROFILES: dict[str, dict[str, Any]] = {
    # Same model, same numbers up to float32 rounding: every label, and probabilities within 1e-5.
    "float32": {"min_label_agreement": 1.0, "max_probability_error": 1e-5, "max_value_error": 1e-5},
    # Half precision keeps ~3 decimal digits: labels may flip only for near-ties.
    "float16": {"min_label_agreement": 0.995, "max_probability_error": 0.01, "max_value_error": 0.01},
    # 8-bit weights/activations: a few near-tie labels and ~2 % probability error are the price.
    "int8": {"min_label_agreement": 0.995, "max_probability_error": 0.02, "max_value_error": 0.02},
    "uint8": {"min_label_agreement": 0.995, "max_probability_error": 0.02, "max_value_error": 0.02},
    "uint16": {"min_label_agreement": 0.999, "max_probability_error": 0.005, "max_value_error": 0.005},
}


def profile_for(precision: str, manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    """The profile for an artifact precision: the manifest's own if it declares one, else the default."""
    if manifest and precision in manifest.get("tolerance_profiles", {}):
        return dict(manifest["tolerance_profiles"][precision])
    return dict(DEFAULT_PROFILES.get(precision, DEFAULT_PROFILES["int8"]))
