"""Preprocessing that Core ML's classic (double) model types cannot compute, as a small NeuralNetwork stage
in the pipeline, which computes in float32: its output is the float32 rounding of scikit-learn's value
(relative error 6e-8), and the models after it run in double again.

    PolynomialFeatures      one inner product per factor of the highest degree (0/1 weights pick x_i, or
                            the bias gives 1: exact in float32), then one multiply layer over the factors
    MinMaxScaler(clip=True) the two exact Scalers as before, then a clip layer (feature_range)
    FunctionTransformer     one unary layer: f(scale x + shift), log1p as LOG with shift 1

The measured errors on held-out rows are in docs/ios.md; what misses 1e-5 is caught by the build's own check.
Never in front of a tree model: a float32 value moves a decision on a threshold (sklearn_2 refuses it there).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .proto import proto

# The clip layer is a NeuralNetwork layer of specification 4 (iOS 13); inner product and multiply are 1.
CLIP_SPEC_VERSION = 4


def _dense(nn: Any, name: str, source: str, out: str, weights: np.ndarray, bias: np.ndarray) -> None:
    layer = nn.layers.add()
    layer.name = name
    layer.input.append(source)
    layer.output.append(out)
    ip = layer.innerProduct
    ip.outputChannels, ip.inputChannels = int(weights.shape[0]), int(weights.shape[1])
    ip.hasBias = True
    ip.weights.floatValue.extend(np.asarray(weights, dtype=np.float32).reshape(-1).tolist())
    ip.bias.floatValue.extend(np.asarray(bias, dtype=np.float32).tolist())


def polynomial(step: Any, m: Any, source: str, out: str) -> None:
    """Fill m.neuralNetwork with PolynomialFeatures' transform of `source` into `out`."""
    powers = np.asarray(step.powers_, dtype=np.int64)  # [outputs, features]
    n_out, n_in = powers.shape
    degree = max(int(powers.sum(axis=1).max()), 1)
    factors = []
    for row in powers:
        picks = [j for j in range(n_in) for _ in range(int(row[j]))]
        factors.append(picks + [-1] * (degree - len(picks)))  # -1: the constant 1
    nn = m.neuralNetwork
    names = []
    for t in range(degree):
        w = np.zeros((n_out, n_in))
        b = np.zeros(n_out)
        for o in range(n_out):
            if factors[o][t] >= 0:
                w[o, factors[o][t]] = 1.0
            else:
                b[o] = 1.0
        name = out if degree == 1 else f"{out}_factor_{t}"
        _dense(nn, f"factor_{t}", source, name, w, b)
        names.append(name)
    if degree > 1:
        layer = nn.layers.add()
        layer.name = "product"
        layer.input.extend(names)
        layer.output.append(out)
        layer.multiply.alpha = 1.0


def clip(low: float, high: float, m: Any, source: str, out: str) -> None:
    layer = m.neuralNetwork.layers.add()
    layer.name = "clip"
    layer.input.append(source)
    layer.output.append(out)
    layer.clip.minVal, layer.clip.maxVal = float(low), float(high)
    m.specificationVersion = max(m.specificationVersion, CLIP_SPEC_VERSION)
    # layers of specification 4 need the exact array mapping (the legacy rank-5 mapping is invalid with them)
    m.neuralNetwork.arrayInputShapeMapping = proto().NeuralNetwork_pb2.EXACT_ARRAY_MAPPING


# numpy ufunc of a FunctionTransformer -> (unary layer operation, shift): f(x + shift)
UNARY = {"log1p": ("LOG", 1.0), "log": ("LOG", 0.0), "sqrt": ("SQRT", 0.0), "exp": ("EXP", 0.0), "absolute": ("ABS", 0.0)}


def unary(func: str, m: Any, source: str, out: str) -> None:
    layer = m.neuralNetwork.layers.add()
    layer.name = func
    layer.input.append(source)
    layer.output.append(out)
    operation, shift = UNARY[func]
    layer.unary.type = layer.unary.Operation.Value(operation)
    layer.unary.scale, layer.unary.shift = 1.0, shift
