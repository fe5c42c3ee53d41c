"""Core ML's quantized variants, as `--quantize` names them.

The Core ML target builds them itself (targets/coreml/: coremltools for ML Programs, the NeuralNetwork
spec's own weight forms for scikit-learn networks), so this module has MODES and no emit_variant: the
build hands the wanted modes to the target's `variants` option. Every Core ML mode is weight-only: weights
are stored in fewer bits and expanded when the model loads; compute stays in the model's precision.
"""

from __future__ import annotations

TARGET_OPTION = "variants"
MODES: dict[str, str] = {
    "float16": "float16 weights",
    "int8": "int8 weights, linear (per-channel scale), dequantized at load",
    "palette": "weights replaced by indices into a 4-bit k-means palette (lookup table)",
}


def target_option(modes: list[str]) -> str:
    """The target's `variants` value for these modes ("none": the float32 artifact only)."""
    return ",".join(modes) or "none"
