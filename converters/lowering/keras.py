"""A Keras model as a TFGraph: the network itself, with a sigmoid unit widened to [1 - p, p]."""

from __future__ import annotations

from typing import Any

from . import TFGraph, input_spec


def lower(source: Any, schema: Any, options: dict[str, Any]) -> TFGraph:
    import tensorflow as tf

    model = source.model
    sigmoid = source.task == "classification" and source.activation == "sigmoid"

    def call(x: Any) -> dict[str, Any]:
        out = model(x, training=False)
        if source.task == "regression":
            return {"value": tf.reshape(out, [-1])}
        return {"probabilities": tf.concat([1.0 - out, out], axis=1) if sigmoid else out}

    function = tf.function(call, input_signature=[input_spec(source.n_features)], autograph=False)
    return TFGraph(function=function, features=list(schema.names),
                   outputs=["value"] if source.task == "regression" else ["probabilities"], keep=model)
