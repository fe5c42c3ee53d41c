"""The variant emitters table: one row per format that offers quantized variants.

Adding a format's variants is one module following `base.py` (MODES + emit_variant, or MODES +
TARGET_OPTION when the format's target builds them) plus one row here; `edgepack build --quantize` then
builds, checks and keeps them like every other format's. Mode names are per format; an artifact id is
f"{format}-{mode}" (onnx-int8-weights, tflite-int8-weights, tfjs-uint8, coreml-palette).
"""

from __future__ import annotations

import importlib
from types import ModuleType

# artifact format -> module (absolute import path) with MODES and emit_variant
VARIANT_EMITTERS: dict[str, str] = {
    "onnx": "edgepack.converters.quantize.onnx",
    "tflite": "edgepack.converters.quantize.tflite",
    "tfjs": "edgepack.converters.quantize.tfjs",
    "coreml": "edgepack.converters.quantize.coreml",
}


def variant_emitter(fmt: str) -> ModuleType | None:
    """The module offering variants of `fmt` artifacts, or None when the format offers none."""
    target = VARIANT_EMITTERS.get(fmt)
    return importlib.import_module(target) if target else None


def modes_of(fmt: str) -> dict[str, str]:
    """Mode name -> description for a format (empty when it offers no variants)."""
    module = variant_emitter(fmt)
    return dict(module.MODES) if module else {}


def target_option(fmt: str, modes: list[str]) -> tuple[str, str] | None:
    """(option name, value) that makes `fmt`'s target build `modes` itself, or None when the format's
    variants are built from its float32 artifact (emit_variant) or it offers none."""
    module = variant_emitter(fmt)
    if module is None or not hasattr(module, "TARGET_OPTION"):
        return None
    return module.TARGET_OPTION, module.target_option(modes)
