"""The targets table: one row per artifact format.

Adding a format is one module with `emit(source, schema, options) -> list[Artifact]` (base.Emit: the
float32 default first, then any variants the format builds itself) and its declared OPTIONS, plus one
row here.
"""

from __future__ import annotations

from typing import Any

from ...runtime.errors import ModelError, UsageError, did_you_mean
from ..sources.sample import missing_differs_from_unknown
from . import coreml, onnx, tfjs, tflite
from .base import Emit
from .codegen import target as codegen_target

# format name -> emitter
TARGETS: dict[str, Emit] = {
    "onnx": onnx.emit,
    "tflite": tflite.emit,
    "tfjs": tfjs.emit,
    "coreml": coreml.emit,
    "c": codegen_target.emit_c,
    "js": codegen_target.emit_js,
}


# Formats whose artifacts take a missing category (a nullable category feature, issue 18). The others'
# lowerings encode a missing category as an unknown one, which is not what an imputer or a learnt missing
# category does (measured: Ridge on diabetes off by 5.8 in TFLite), so they refuse a model that treats the
# two differently, by name (a OneHotEncoder ignoring both is fine).
MISSING_CATEGORIES = {"onnx", "c", "js"}  # c and js compile the ONNX graph: "" stands for missing, as there
# Formats that take a missing category from some source frameworks only: Core ML from scikit-learn (a String
# input, "" for missing: a string Imputer or a "" one-hot category; its converter refuses the rest by name);
# TFLite and TF.js from scikit-learn (NaN for missing in the numeric tensor, contract 2: the lowering reads
# what the fitted imputer and encoders make of it, lowering/columns.py `Column.missing`).
MISSING_CATEGORIES_FROM = {"coreml": {"scikit-learn"}, "tflite": {"scikit-learn"}, "tfjs": {"scikit-learn"}}


# Formats whose artifacts take text (a string that a text vectorizer splits into words, issue 18), and why
# the others do not.
TEXT_INPUT = {"onnx", "js"}  # js compiles the ONNX graph's tokenizer to a JavaScript Unicode regex
TEXT_REFUSED = {
    "tflite": "TFLite's builtin operators have no string tensors",
    "tfjs": "TF.js has no string tensors in its models",
    "coreml": "Core ML's model types have no tokenizer to split text into words",
    "c": "the generated C has no Unicode tokenizer",
}


def refuse_text(name: str, schema: Any) -> None:
    text = [f.name for f in schema.features if f.type == "text"] if schema is not None else []
    if text and name not in TEXT_INPUT:
        raise ModelError(f"the {name} target cannot take text input (text feature {', '.join(text)}): "
                         f"{TEXT_REFUSED.get(name, 'the format has no tokenizer')}",
                         fix=f"build {', '.join(sorted(TEXT_INPUT))} for this model")


def refuse_missing_categories(name: str, source: Any, schema: Any) -> None:
    """Raise ModelError when format `name` cannot take a missing category that the model treats otherwise
    than an unknown one (probed on the build's sample)."""
    frame = getattr(source, "sample", None)
    if name in MISSING_CATEGORIES or schema is None or frame is None:
        return
    if getattr(source, "framework", None) in MISSING_CATEGORIES_FROM.get(name, ()):
        return
    nullable = [f.name for f in schema.features if f.type == "category" and f.nullable
                and missing_differs_from_unknown(source, frame, f.name)]
    if nullable:
        raise ModelError(f"the {name} target cannot take a missing category yet (nullable category feature(s): "
                         f"{', '.join(nullable)})",
                         fix=f"build {', '.join(sorted(MISSING_CATEGORIES))} for this model, or fill missing categories "
                             "before training")


def get_target(name: str) -> Emit:
    try:
        emit = TARGETS[name]
    except KeyError:
        raise UsageError(f"unknown target format {name!r}{did_you_mean(name, TARGETS)}",
                         fix=f"choose from: {', '.join(TARGETS)}") from None
    if name in MISSING_CATEGORIES and name in TEXT_INPUT:  # nothing to refuse here
        return emit

    def checked(source: Any, schema: Any, options: dict[str, Any]) -> Any:
        refuse_text(name, schema)
        refuse_missing_categories(name, source, schema)
        return emit(source, schema, options)

    return checked
