"""TF.js's quantized variants, as `--quantize` names them.

The TF.js target builds them itself (targets/tfjs.py: tensorflowjs' weight quantization), so this module
has MODES and no emit_variant: the build hands the wanted modes to the target's `variants` option. Every
TF.js mode is weight-only already: weights are stored in fewer bits and dequantized when the model loads;
compute stays float32. uint8 is the near-25 % variant.
"""

from __future__ import annotations

from .base import with_float32

TARGET_OPTION = "variants"  # the target option that takes the wanted modes
target_option = with_float32  # the target always builds float32, its default
MODES: dict[str, str] = {
    "float16": "float16 weight storage, dequantized at load; float32 compute",
    "uint16": "16-bit affine weight storage per tensor, dequantized at load; float32 compute",
    "uint8": "8-bit affine weight storage per tensor, dequantized at load; float32 compute",
}

