"""Models as TensorFlow graphs: the common ground of the TFLite and TF.js targets (and ONNX for Keras).

One row per framework. Each lowering returns a `TFGraph`: a `tf.function` taking one float32 tensor
`features` [N, F] (every feature in schema order; categories as their index in the manifest's
`categories`, -1 unknown; NaN for a missing number or category), or [N, F, 3] for trees that decide in float64 (each
value as three float32 parts, dtype `float64-parts`: runtime/records.py float64_parts), and returning the package's outputs by name:
{"probabilities": [N, C]} or {"value": [N]}. Only operations that TFLite builtins and the TF.js cpu and
wasm backends run are used.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from ...runtime.errors import ModelError
from ...runtime.records import FLOAT64_PARTS

INPUT_NAME = "features"

# framework -> "module:function(source, schema, options) -> TFGraph"
LOWERINGS: dict[str, str] = {
    "keras": "keras:lower",
    "scikit-learn": "sklearn:lower",
    "xgboost": "boosters:lower",
    "lightgbm": "boosters:lower",
    "catboost": "boosters:lower",
    "spark": "spark:lower",
}


@dataclass
class TFGraph:
    """A model as a TensorFlow function of one float32 [N, F] tensor, plus what the targets record."""

    function: Any  # tf.function with input_signature [TensorSpec([None, F], float32, name="features")]
    features: list[str]
    outputs: list[str]  # package output names the function returns, in order
    notes: list[str] = field(default_factory=list)
    keep: Any = None  # an object holding the function's variables (a Keras model), for SavedModel export
    dtype: str = "float32"  # the input's dtype in the manifest: float32 [N, F], or float64-parts [N, F, 3]

    @property
    def unquantizable(self) -> str | None:
        """Why no quantized variant of this graph is built, or None. Float64 parts carry each tree threshold
        to the last double step; a float16 or 8-bit copy of them moves splits (a LightGBM float16 variant
        passed the build's rows and then missed held-out ones by 0.026)."""
        return "exact tree thresholds (float64 parts) are not quantized" if self.dtype == FLOAT64_PARTS else None

    def concrete(self) -> Any:
        return self.function.get_concrete_function()

    def frozen(self) -> Any:
        """The concrete function with variables folded into constants (TFLite must not see variables)."""
        from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

        return convert_variables_to_constants_v2(self.concrete())


def lower(source: Any, schema: Any, options: dict[str, Any] | None = None) -> TFGraph:
    """The source's model as a TFGraph, built once per source and options (the TFLite, TF.js and ONNX
    targets share it; the cache lives on the source, so it dies with it). Raises ModelError when the
    framework has no lowering."""
    key = repr(sorted((options or {}).items()))
    cache = source.__dict__.setdefault("_edgepack_tf_graphs", {})
    if key not in cache:
        target = LOWERINGS.get(source.framework)
        if target is None:
            raise ModelError(f"no TensorFlow lowering for {source.framework} models",
                             fix=f"frameworks with TFLite/TF.js targets: {', '.join(LOWERINGS)}")
        module, func = target.split(":")
        cache[key] = getattr(importlib.import_module(f"{__name__}.{module}"), func)(source, schema, options or {})
    return cache[key]


def input_spec(n_features: int, dtype: str = "float32") -> Any:
    import tensorflow as tf

    shape = [None, n_features, 3] if dtype == FLOAT64_PARTS else [None, n_features]
    return tf.TensorSpec(shape, tf.float32, name=INPUT_NAME)
