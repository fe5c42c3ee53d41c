"""A Keras model as a TFGraph: the network itself, with a sigmoid unit widened to [1 - p, p]."""

from __future__ import annotations

from typing import Any

from . import TFGraph, input_spec


def widened(tf: Any, source: Any, out: Any) -> Any:
    """The network's classifier output as the package's probabilities [N, C]: a one-unit sigmoid
    classifier gains the [1 - p, p] columns; every other output is returned as is."""
    if source.task == "classification" and source.activation == "sigmoid":
        return tf.concat([1.0 - out, out], axis=1)
    return out


def lower(source: Any, schema: Any, options: dict[str, Any]) -> TFGraph:
    import tensorflow as tf

    model = source.model

    def call(x: Any) -> dict[str, Any]:
        out = model(x, training=False)
        if source.task == "regression":
            return {"value": tf.reshape(out, [-1])}
        return {"probabilities": widened(tf, source, out)}

    function = tf.function(call, input_signature=[input_spec(source.n_features)], autograph=False)
    return TFGraph(function=function, features=list(schema.names),
                   outputs=["value"] if source.task == "regression" else ["probabilities"], keep=model)
