"""NeuralNetwork / NeuralNetworkClassifier / NeuralNetworkRegressor: the layers edgepack emits.

Layers run in order on float32 blobs [N, C] (Core ML computes neural networks in float32 on the CPU):
innerProduct   y = W x + b with W stored [outputChannels, inputChannels] row-major
activation     ReLU, tanh, sigmoid, linear (alpha x + beta), leakyReLU
softmax        over the channel axis
unary          y = f(scale x + shift) for POWER (x^alpha), SQRT, EXP, ABS, LOG (float32)
clip           min(maxVal, max(minVal, x))
multiply       one input: alpha x; several: their elementwise product
add            one input: x + alpha; several: their elementwise sum
Weights: floatValue; float16Value (little-endian IEEE half); rawValue with quantization
(numberOfBits bits per weight, packed most significant bit first; linearQuantization w = scale q + bias,
per output channel or one value; lookupTableQuantization w = table[q]).
A classifier reads its probabilities from labelProbabilityLayerName in classLabels order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .values import SpecError, as_columns, class_labels, classifier_result, feature_kind


def _unpack_msb_first(raw: bytes, nbits: int, count: int) -> np.ndarray:
    bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8))  # MSB first within each byte
    bits = bits[: count * nbits].reshape(count, nbits)
    return (bits.astype(np.int64) << np.arange(nbits - 1, -1, -1)).sum(axis=1)


def weights(params: Any, count: int, rows: int) -> np.ndarray:
    """A WeightParams as float32 [count], `rows` output channels for per-channel quantization."""
    if len(params.floatValue):
        w = np.asarray(params.floatValue, dtype=np.float32)
    elif len(params.float16Value):
        w = np.frombuffer(params.float16Value, dtype="<f2").astype(np.float32)
    elif len(params.rawValue):
        q = params.quantization
        nbits = q.numberOfBits
        if not 1 <= nbits <= 8:
            raise SpecError(f"quantized weights with {nbits} bits are outside the supported subset")
        idx = _unpack_msb_first(params.rawValue, nbits, count)
        which = q.WhichOneof("QuantizationType")
        if which == "linearQuantization":
            scale = np.asarray(q.linearQuantization.scale, dtype=np.float32)
            bias = np.asarray(q.linearQuantization.bias, dtype=np.float32)
            per_row = idx.reshape(rows, -1).astype(np.float32)
            w = (per_row * scale.reshape(-1, 1) + bias.reshape(-1, 1)).reshape(-1)
        elif which == "lookupTableQuantization":
            w = np.asarray(q.lookupTableQuantization.floatValue, dtype=np.float32)[idx]
        else:
            raise SpecError(f"quantization {which} is outside the supported subset")
    else:
        raise SpecError("a layer has no weights")
    if w.size != count:
        raise SpecError(f"a layer has {w.size} weights where {count} are needed")
    return w.astype(np.float32)


def _inner_product(layer: Any, x: np.ndarray) -> np.ndarray:
    ip = layer.innerProduct
    if x.shape[1] != ip.inputChannels:
        raise SpecError(f"layer {layer.name}: input has {x.shape[1]} channels, inputChannels is {ip.inputChannels}")
    w = weights(ip.weights, ip.inputChannels * ip.outputChannels, ip.outputChannels).reshape(ip.outputChannels, ip.inputChannels)
    y = x @ w.T
    if ip.hasBias:
        y = y + weights(ip.bias, ip.outputChannels, ip.outputChannels)
    return y.astype(np.float32)


def _activation(layer: Any, x: np.ndarray) -> np.ndarray:
    act = layer.activation
    which = act.WhichOneof("NonlinearityType")
    if which == "ReLU":
        return np.maximum(x, np.float32(0))
    if which == "tanh":
        return np.tanh(x)
    if which == "sigmoid":
        return (1.0 / (1.0 + np.exp(-x))).astype(np.float32)
    if which == "linear":
        return (np.float32(act.linear.alpha) * x + np.float32(act.linear.beta)).astype(np.float32)
    if which == "leakyReLU":
        return np.where(x >= 0, x, np.float32(act.leakyReLU.alpha) * x).astype(np.float32)
    raise SpecError(f"activation {which} is outside the supported subset")


def _softmax(layer: Any, x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def _unary(layer: Any, x: np.ndarray) -> np.ndarray:
    u = layer.unary
    kind = u.Operation.Name(u.type)
    v = (np.float32(u.scale) * x + np.float32(u.shift)).astype(np.float32)  # scale as written (coremltools writes 1)
    ops: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "POWER": lambda a: np.power(a, np.float32(u.alpha)), "SQRT": np.sqrt, "EXP": np.exp, "ABS": np.abs,
        "LOG": np.log}
    if kind not in ops:
        raise SpecError(f"unary {kind} is outside the supported subset")
    return ops[kind](v).astype(np.float32)


def _clip(layer: Any, x: np.ndarray) -> np.ndarray:
    return np.clip(x, np.float32(layer.clip.minVal), np.float32(layer.clip.maxVal)).astype(np.float32)


def _multiply(layer: Any, xs: list[np.ndarray]) -> np.ndarray:
    """One input: alpha x; several: their elementwise product (alpha unused), in float32."""
    if len(xs) == 1:
        return (np.float32(layer.multiply.alpha) * xs[0]).astype(np.float32)
    y = xs[0]
    for x in xs[1:]:
        if x.shape != y.shape:
            raise SpecError(f"layer {layer.name}: multiply inputs of shapes {y.shape} and {x.shape}")
        y = (y * x).astype(np.float32)
    return y


LAYERS = {"innerProduct": _inner_product, "activation": _activation, "softmax": _softmax, "unary": _unary,
          "clip": _clip}
def _add(layer: Any, xs: list[np.ndarray]) -> np.ndarray:
    """One input: x + alpha; several: their elementwise sum (alpha unused), in float32."""
    if len(xs) == 1:
        return (xs[0] + np.float32(layer.add.alpha)).astype(np.float32)
    y = xs[0]
    for x in xs[1:]:
        if x.shape != y.shape:
            raise SpecError(f"layer {layer.name}: add inputs of shapes {y.shape} and {x.shape}")
        y = (y + x).astype(np.float32)
    return y


MULTI_INPUT = {"multiply": _multiply, "add": _add}


def run_layers(layers: Any, blobs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    for layer in layers:
        kind = layer.WhichOneof("layer")
        if kind in MULTI_INPUT and len(layer.output) == 1:
            missing = [name for name in layer.input if name not in blobs]
            if missing:
                raise SpecError(f"layer {layer.name}: inputs {', '.join(missing)} are produced by no earlier layer")
            blobs[layer.output[0]] = MULTI_INPUT[kind](layer, [blobs[name] for name in layer.input])
            continue
        fn = LAYERS.get(kind)
        if fn is None:
            raise SpecError(f"neural network layer {kind} ({layer.name}) is outside the supported subset")
        if len(layer.input) != 1 or len(layer.output) != 1:
            raise SpecError(f"layer {layer.name}: one input and one output expected")
        blobs[layer.output[0]] = fn(layer, blobs[layer.input[0]])
    return blobs


def _inputs(model: Any, feeds: dict[str, Any]) -> dict[str, np.ndarray]:
    return {i.name: as_columns(feeds[i.name]).astype(np.float32) for i in model.description.input}


def neural_network_classifier(model: Any, feeds: dict[str, Any]) -> dict[str, Any]:
    nn = model.neuralNetworkClassifier
    blobs = run_layers(nn.layers, _inputs(model, feeds))
    probs = blobs.get(nn.labelProbabilityLayerName)
    if probs is None:
        raise SpecError(f"labelProbabilityLayerName {nn.labelProbabilityLayerName!r} is no layer output")
    return classifier_result(model.description, class_labels(nn), probs.astype(np.float64))


def neural_network_regressor(model: Any, feeds: dict[str, Any]) -> dict[str, Any]:
    nn = model.neuralNetworkRegressor if model.WhichOneof("Type") == "neuralNetworkRegressor" else model.neuralNetwork
    blobs = run_layers(nn.layers, _inputs(model, feeds))
    out = {}
    for o in model.description.output:
        value = blobs[o.name].astype(np.float64)
        out[o.name] = value[:, 0] if feature_kind(o.type) == "double" else value
    return out
