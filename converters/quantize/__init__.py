"""The variant emitters table: one row per format that offers quantized variants.

Adding a format's variants is one module following `base.py` (MODES + emit_variant) plus one row here;
`edgepack build --quantize` then builds, checks and keeps them like the ONNX ones.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# artifact format -> module (absolute import path) with MODES and emit_variant
VARIANT_EMITTERS: dict[str, str] = {
    "onnx": "edgepack.converters.quantize.onnx",
}


def variant_emitter(fmt: str) -> ModuleType | None:
    """The module offering variants of `fmt` artifacts, or None when the format offers none."""
    target = VARIANT_EMITTERS.get(fmt)
    return importlib.import_module(target) if target else None


def modes_of(fmt: str) -> dict[str, str]:
    """Mode name -> description for a format (empty when it offers no variants)."""
    module = variant_emitter(fmt)
    return dict(module.MODES) if module else {}
