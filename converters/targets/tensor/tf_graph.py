"""One TensorFlow function per tensor source, which the TFLite, TF.js and Core ML targets (and, for
Keras, the ONNX target) convert: the same graph for every format.

Keras: the model called in a `tf.function` with the package's input signature (channels-last, batch
dynamic), returning {package output name: tensor}.
ONNX: onnx2tf turns the graph into a TensorFlow SavedModel. It moves channels-first images to
channels-last (NCHW -> NHWC, rank-3 NCW -> NWC), the layout TFLite, TF.js and Core ML run natively; the
artifact entries record that layout and runtimes transpose the package's input to it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ....runtime.errors import ModelError

# Pinned where the stack needs it (docs/DEPENDENCIES.md): onnx2tf 1.29 is built for TensorFlow 2.19.
ONNX2TF_FLAGS: dict[str, Any] = {"non_verbose": True, "output_signaturedefs": True, "copy_onnx_input_output_names_to_tflite": True}


@dataclass
class TFFunction:
    """A concrete function, its input names in call order, their layouts, and output names in the
    function's output order (package output names)."""

    function: Any
    inputs: list[str]
    layouts: dict[str, str | None]
    outputs: list[str]
    converter: dict[str, str]
    dtypes: dict[str, str] | None = None  # package input name -> dtype (float32 unless the model says otherwise)
    keep: Any = None  # what holds the function's variables (the Keras model, the loaded SavedModel)
    _tmp: Any = None


@contextlib.contextmanager
def recursion_limit_kept() -> Iterator[None]:
    """onnx2tf and tf2onnx set Python's recursion limit to 2**31 - 1 when imported. Left so, a deeply
    nested input later in the same process (a hostile manifest's JSON) overflows the C stack and kills the
    process instead of raising RecursionError (measured: a segfault in json.loads in the test run)."""
    limit = sys.getrecursionlimit()
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


def input_dtype(fn: TFFunction, name: str) -> str:
    return (fn.dtypes or {}).get(name, "float32")


def channels_last(layout: str | None) -> str | None:
    return {"NCHW": "NHWC", "NCW": "NWC"}.get(layout or "", layout)


def tf_function(source: Any, batch: int | None = None) -> TFFunction:
    """The source's model as one TensorFlow function (`batch`: a fixed batch size, for converters that need
    static shapes; Keras only; recurrent layers unrolled, see `unrolled`). Raises ModelError when it cannot
    be made."""
    fn = _onnx_function(source) if source.framework == "onnx" else _keras_function(source, batch)
    fn.dtypes = {s.name: s.dtype for s in source.inputs}
    return fn


RECURRENT = ("LSTM", "GRU", "SimpleRNN")


def recurrent_layers(model: Any) -> list[Any]:
    """The model's recurrent layers (a Bidirectional wrapper counts as one)."""
    found = []
    for layer in model.layers:
        inner = getattr(layer, "forward_layer", layer)  # Bidirectional: the wrapped GRU/LSTM
        if type(inner).__name__ in RECURRENT:
            found.append(layer)
    return found


def unrolled(model: Any) -> Any:
    """The model with every recurrent layer unrolled over its (static) sequence length, same weights.

    Why: a Keras GRU/LSTM traces to a while loop over a TensorList, which no converter here takes whole
    (tf2onnx writes an ONNX file onnxruntime refuses, tensorflowjs and coremltools refuse the graph, TFLite
    only with a fixed batch of 1: docs/DEPENDENCIES.md). Unrolled, each time step is plain MatMul, add,
    sigmoid and tanh ops that every format runs, with a dynamic batch. The cost is a graph T times
    longer, so the sequence length must be fixed (the Keras source already refuses inputs of variable
    length; a layer fed one is refused here by name all the same)."""
    layers = recurrent_layers(model)
    if not layers:
        return model
    for layer in layers:
        fed = layer.input[0] if isinstance(layer.input, (list, tuple)) else layer.input  # [sequence, mask] when masked
        if tuple(fed.shape)[1] is None:
            raise ModelError(f"recurrent layer {layer.name!r} ({type(layer).__name__}) reads sequences of variable length",
                             fix="give the model's Input a fixed sequence length, e.g. keras.Input((12,)): the "
                                 "formats need the recurrence unrolled over a known number of steps")
    try:
        config = model.get_config()
        _set_unroll(config)
        clone = type(model).from_config(config)
        clone.set_weights(model.get_weights())
    except Exception as exc:  # a subclassed model without a usable config, custom layers...
        raise ModelError(f"cannot unroll the recurrent layer {layers[0].name!r}: the model could not be rebuilt from "
                         f"its config ({type(exc).__name__}: {exc})",
                         fix="save a functional or Sequential model (keras.Model(inputs, outputs)); or build the "
                             "recurrent layers with unroll=True yourself") from exc
    return clone


def _set_unroll(config: Any) -> None:
    if isinstance(config, dict):
        if "unroll" in config:
            config["unroll"] = True
        for value in config.values():
            _set_unroll(value)
    elif isinstance(config, list):
        for value in config:
            _set_unroll(value)


def _keras_function(source: Any, batch: int | None = None) -> TFFunction:
    import keras
    import tensorflow as tf

    specs = [tf.TensorSpec([batch, *s.shape[1:]], tf.as_dtype(s.dtype), name=s.name) for s in source.inputs]
    names = [o.name for o in source.outputs]
    model = unrolled(source.model)

    @tf.function(input_signature=specs)
    def serve(*args: Any) -> dict[str, Any]:
        out = model(list(args) if len(args) > 1 else args[0], training=False)
        out = out if isinstance(out, (list, tuple)) else [out]
        return {n: tf.identity(o, name=n) for n, o in zip(names, out)}

    return TFFunction(serve.get_concrete_function(), [s.name for s in source.inputs],
                      {s.name: s.layout for s in source.inputs}, names, {"name": "keras", "version": keras.__version__},
                      keep=model)


def _onnx_function(source: Any) -> TFFunction:
    with recursion_limit_kept():
        return _onnx2tf_function(source)


def _onnx2tf_function(source: Any) -> TFFunction:
    import onnx2tf
    import tensorflow as tf

    tmp = tempfile.TemporaryDirectory(prefix="edgepack-onnx2tf-")
    onnx_path = os.path.join(tmp.name, "model.onnx")
    with open(onnx_path, "wb") as handle:
        handle.write(source.data)
    out_dir = os.path.join(tmp.name, "saved_model")
    try:
        onnx2tf.convert(input_onnx_file_path=onnx_path, output_folder_path=out_dir, **ONNX2TF_FLAGS)
        loaded = tf.saved_model.load(out_dir)
        function = loaded.signatures["serving_default"]
    except Exception as exc:  # onnx2tf raises many types (and sometimes SystemExit) for graphs it cannot map
        tmp.cleanup()
        raise ModelError(f"onnx2tf could not convert the ONNX graph: {type(exc).__name__}: {exc}",
                         fix="check the graph with onnx2tf -i model.onnx; only the ONNX artifact can be built") from exc
    except SystemExit as exc:
        tmp.cleanup()
        raise ModelError(f"onnx2tf stopped converting the ONNX graph (exit {exc.code})") from None
    sig_inputs = list(function.structured_input_signature[1].keys())
    wanted = [s.name for s in source.inputs]
    mapping = {w: _match(w, sig_inputs) for w in wanted}
    outputs = list(function.structured_outputs.keys())
    out_map = _output_names([o.name for o in source.outputs], outputs)

    def call(*args: Any) -> dict[str, Any]:
        got = function(**{mapping[w]: a for w, a in zip(wanted, args)})
        return {name: got[key] for name, key in out_map.items()}

    specs = [tf.TensorSpec(_nhwc_shape(s), tf.as_dtype(s.dtype), name=s.name) for s in source.inputs]
    concrete = tf.function(call, input_signature=specs).get_concrete_function()
    return TFFunction(concrete, wanted, {s.name: channels_last(s.layout) for s in source.inputs},
                      [o.name for o in source.outputs], {"name": "onnx2tf", "version": onnx2tf.__version__},
                      keep=loaded, _tmp=tmp)


def _nhwc_shape(spec: Any) -> list[int | None]:
    shape = [None, *spec.shape[1:]]
    if spec.layout == "NCHW":
        return [None, shape[2], shape[3], shape[1]]
    if spec.layout == "NCW":
        return [None, shape[2], shape[1]]
    return shape


def _output_names(names: list[str], candidates: list[str]) -> dict[str, str]:
    """Our output name -> onnx2tf's. onnx2tf keeps one output's name but calls several `output_0`,
    `output_1`, ... in the ONNX graph's output order (measured with onnx2tf 1.29)."""
    positional = [f"output_{i}" for i in range(len(names))]
    if len(names) > 1 and sorted(candidates) == sorted(positional) and not set(names) & set(candidates):
        return dict(zip(names, positional))
    return {name: _match(name, candidates) for name in names}


def _match(name: str, candidates: list[str]) -> str:
    """onnx2tf sanitises tensor names (e.g. '.' and ':' to '_'); find ours among its names."""
    if name in candidates:
        return name
    clean = "".join(c if c.isalnum() else "_" for c in name).lower()
    for cand in candidates:
        if "".join(c if c.isalnum() else "_" for c in cand).lower() in (clean, clean.strip("_")):
            return cand
    if len(candidates) == 1:
        return candidates[0]
    raise ModelError(f"cannot find tensor {name!r} among onnx2tf's names {candidates}")


def save_model(fn: TFFunction, directory: str) -> str:
    """The function as a SavedModel with one `serving_default` signature (inputs and outputs by package
    name), the form the TFLite and TF.js converters keep names from."""
    import tensorflow as tf

    # Frozen first: a Keras model's variables would otherwise reach TFLite as READ_VARIABLE ops reading
    # variables the interpreter never initialises (measured: every output 0).
    const = frozen(fn)
    order = sorted(fn.outputs)  # a frozen function returns a list, in the dict's flattened (sorted) order
    specs = [tf.TensorSpec(t.shape, t.dtype, name=n) for n, t in zip(fn.inputs, fn.function.inputs)]

    def serve(*args: Any) -> dict[str, Any]:
        out = const(*args)
        out = out if isinstance(out, (list, tuple)) else [out]
        return {n: tf.identity(t, name=n) for n, t in zip(order, out)}

    signature = tf.function(serve, input_signature=specs).get_concrete_function()
    tf.saved_model.save(tf.Module(), directory, signatures={"serving_default": signature})
    return directory


def frozen(fn: TFFunction) -> Any:
    """The function with its variables folded into constants (for TFLite and tf2onnx)."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    return convert_variables_to_constants_v2(fn.function)
