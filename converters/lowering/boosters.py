"""Booster model files (XGBoost .json/.ubj, LightGBM .txt, CatBoost .cbm) lowered to TensorFlow: the
source's arrays (sources/boosted_trees.py) read as the one tree reader's Ensemble (sources/trees.py:
from_boosted) on the raw numeric features, through the same fold and traversal as scikit-learn's trees.
A booster inside a scikit-learn Pipeline goes through lowering/sklearn.py's FAMILIES instead.
"""

from __future__ import annotations

from typing import Any

from ...runtime.records import FLOAT64_PARTS
from ..sources.trees import from_boosted
from . import TFGraph, input_spec
from .columns import Column
from .trees import ensemble_tensor, needs_parts


def lower(source: Any, schema: Any, options: dict[str, Any]) -> TFGraph:
    """The booster's trees as a TFGraph of the schema's features (all numbers, in the model's order)."""
    import tensorflow as tf

    ens = from_boosted(source.ensemble)
    cols = [Column(i, "number") for i in range(len(schema.features))]
    notes: list[str] = []
    output = "value" if source.task == "regression" else "probabilities"

    def call(x: Any) -> dict[str, Any]:
        out = ensemble_tensor(tf, x, cols, ens, options, notes)
        return {output: tf.reshape(out, [-1]) if output == "value" else out}

    # LightGBM decides in float64: its inputs go as float64 parts (trees.needs_parts says when)
    dtype = FLOAT64_PARTS if needs_parts(ens, cols) else "float32"
    function = tf.function(call, input_signature=[input_spec(len(schema.features), dtype)], autograph=False)
    function.get_concrete_function()  # trace now: lowering errors surface here, notes get filled
    return TFGraph(function=function, features=list(schema.names), outputs=[output], notes=notes,
                   dtype=dtype)
