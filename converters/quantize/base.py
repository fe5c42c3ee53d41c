"""The variant-emitter interface: how a format offers quantized variants of its float32 artifact.

A variant emitter is a module with
    MODES: dict[str, str]          mode name -> one line saying what it does (artifact id = f"{format}-{mode}")
    emit_variant(base: Artifact, mode: str, context: QuantizeContext) -> Artifact
                                   raises NotApplicable(reason) when the mode cannot apply to this model
and one row in `converters/quantize/__init__.py: VARIANT_EMITTERS`. A format whose target builds its
variants itself (TFLite, TF.js, Core ML: from the lowered function, not from the float32 file) has
    TARGET_OPTION: str             the target option that takes the wanted modes
    target_option(modes) -> str    that option's value for `modes`
instead of emit_variant; the build passes the modes `--quantize` names to the target. The selection (select.py) builds,
checks and keeps variants the same way for every format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..targets.base import Artifact


class NotApplicable(Exception):
    """A quantization mode that cannot apply to this model; the message says why, for people."""


@dataclass(frozen=True)
class QuantizeContext:
    """What an emitter may use besides the float32 artifact.

    `calibration` holds the calibration rows only (the holdout rows are never shown to an emitter):
    `columns` are the runtime's feature columns (float64 with NaN, or str objects), `records` the same
    rows as JSON records, `frame` the same rows as the source's DataFrame.
    """

    source: Any
    schema: Any
    columns: dict[str, np.ndarray]
    records: list[dict[str, Any]]
    frame: Any


def variant_artifact(base: Artifact, mode: str, data: bytes, file: str, precision: str, quantization: str,
                     converter: dict[str, str]) -> Artifact:
    """A variant's Artifact: the base entry's inputs/outputs, its own id, file, precision and converter.

    Single-file formats only; a multi-file format builds its Artifact itself with the same fields.
    """
    ident = f"{base.format}-{mode}"
    entry = {k: v for k, v in base.entry.items() if k not in ("sha256", "size", "files")}
    entry.update({"id": ident, "file": file, "precision": precision, "quantization": quantization,
                  "default": False, "converter": converter, "variant_of": base.id})
    return Artifact(id=ident, format=base.format, files={file: data}, entry=entry)
