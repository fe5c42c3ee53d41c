"""The Core ML spec evaluator's SupportVectorRegressor/Classifier, NeuralNetwork unary, multiply and clip
layers and the string Imputer on specs built by hand: expected values worked out by hand, or (libsvm's
probability coupling) scikit-learn's own libsvm."""

from __future__ import annotations

import math

import numpy as np
import pytest
from edgepack.converters.coreml_protobuf import module
from edgepack.parity.coreml_spec import CoreMLModel, SpecError


def _model(input_dim: int, outputs: list[tuple[str, str]]):
    m = module("Model_pb2").Model()
    m.specificationVersion = 1
    f = m.description.input.add()
    f.name = "x"
    f.type.multiArrayType.dataType = module("FeatureTypes_pb2").ArrayFeatureType.DOUBLE
    f.type.multiArrayType.shape.append(input_dim)
    for name, kind in outputs:
        o = m.description.output.add()
        o.name = name
        if kind == "double":
            o.type.doubleType.SetInParent()
        elif kind == "int64":
            o.type.int64Type.SetInParent()
        else:
            o.type.dictionaryType.int64KeyType.SetInParent()
    return m


def _run(m, x):
    return CoreMLModel.from_bytes(m.SerializeToString()).predict({"x": np.asarray(x, dtype=np.float64)})


@pytest.mark.parametrize("kernel,expected", [
    # support vectors 0 and 2, alphas 1 and -2, rho 0.25, input 1: K(1, 0) and K(1, 2)
    ("linear", 1 * 0.0 - 2 * 2.0 - 0.25),
    ("rbf", math.exp(-0.5 * 1) - 2 * math.exp(-0.5 * 1) - 0.25),
    ("poly", (0.5 * 0 + 1) ** 3 - 2 * (0.5 * 2 + 1) ** 3 - 0.25),
    ("sigmoid", math.tanh(0.5 * 0 + 1) - 2 * math.tanh(0.5 * 2 + 1) - 0.25),
])
def test_svm_regressor_kernels(kernel, expected):
    m = _model(1, [("value", "double")])
    svr = m.supportVectorRegressor
    k = svr.kernel
    if kernel == "linear":
        k.linearKernel.SetInParent()
    elif kernel == "rbf":
        k.rbfKernel.gamma = 0.5
    elif kernel == "poly":
        k.polyKernel.gamma, k.polyKernel.c, k.polyKernel.degree = 0.5, 1.0, 3
    else:
        k.sigmoidKernel.gamma, k.sigmoidKernel.c = 0.5, 1.0
    for v in (0.0, 2.0):
        svr.denseSupportVectors.vectors.add().values.append(v)
    svr.coefficients.alpha.extend([1.0, -2.0])
    svr.rho = 0.25
    assert _run(m, [[1.0]])["value"][0] == pytest.approx(expected, rel=1e-15)


def _libsvm_spec(svc) -> object:
    """libsvm's model fields as scikit-learn holds them, written into the spec by the test itself."""
    m = _model(svc.support_vectors_.shape[1], [("label", "int64"), ("probabilities", "dict")])
    spec = m.supportVectorClassifier
    spec.kernel.rbfKernel.gamma = float(svc._gamma)
    for row in svc.support_vectors_:
        spec.denseSupportVectors.vectors.add().values.extend(row.tolist())
    spec.numberOfSupportVectorsPerClass.extend(int(n) for n in svc.n_support_)
    for row in svc._dual_coef_:
        spec.coefficients.add().alpha.extend(row.tolist())
    spec.rho.extend((-svc._intercept_).tolist())
    spec.probA.extend(svc._probA.tolist())  # probA_/probB_: deprecated public copies (scikit-learn 1.9)
    spec.probB.extend(svc._probB.tolist())
    spec.int64ClassLabels.vector.extend(int(c) for c in svc.classes_)
    return m


def test_svm_classifier_couples_pairwise_probabilities_as_libsvm():
    import warnings

    from sklearn.datasets import load_wine
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        svc = SVC(probability=True, random_state=0).fit(X[::2], y[::2])
        want = svc.predict_proba(X[1::2])
    got = _run(_libsvm_spec(svc), X[1::2])["probabilities"]
    assert np.abs(got.values - want).max() < 1e-12
    # a changed rho is seen
    spec = _libsvm_spec(svc)
    spec.supportVectorClassifier.rho[0] += 0.5
    assert np.abs(_run(spec, X[1::2])["probabilities"].values - want).max() > 1e-3


def test_svm_classifier_outside_the_subset_is_refused():
    m = _model(1, [("label", "int64"), ("probabilities", "dict")])
    spec = m.supportVectorClassifier
    spec.kernel.linearKernel.SetInParent()
    for v in (0.0, 1.0):
        spec.denseSupportVectors.vectors.add().values.append(v)
    spec.numberOfSupportVectorsPerClass.extend([1, 1])
    spec.coefficients.add().alpha.extend([1.0, -1.0])
    spec.rho.append(0.0)
    spec.int64ClassLabels.vector.extend([0, 1])
    with pytest.raises(SpecError, match="probA"):
        _run(m, [[0.5]])
    spec.probA.append(-1.0)
    spec.probB.append(0.0)
    with pytest.raises(SpecError, match="two-class"):
        _run(m, [[0.5]])


def test_unary_power_layer_in_float32():
    # y = (scale x + shift)^2 with scale 3, shift 2^-30: in float32 the shift vanishes beside 3
    m = _model(1, [("y", "double")])
    m.description.output[0].type.multiArrayType.dataType = module("FeatureTypes_pb2").ArrayFeatureType.DOUBLE
    m.description.output[0].type.multiArrayType.shape.append(1)
    layer = m.neuralNetwork.layers.add()
    layer.name, layer.input[:], layer.output[:] = "square", ["x"], ["y"]
    layer.unary.type = layer.unary.POWER
    layer.unary.alpha, layer.unary.scale, layer.unary.shift = 2.0, 3.0, 2.0 ** -30
    assert _run(m, [[1.0]])["y"][0, 0] == 9.0


def test_multiply_and_clip_layers_in_float32():
    # x = [1.5, 3, -2]: p = x * x * 2 (two inner products picking x, times a bias-only factor of 2), then
    # clip to [0, 5]: [2.25 * 2 = 4.5, 9 * 2 = 18 -> 5, 4 * 2 = 8 -> 5]
    m = _model(3, [("y", "double")])
    m.description.output[0].type.multiArrayType.dataType = module("FeatureTypes_pb2").ArrayFeatureType.DOUBLE
    m.description.output[0].type.multiArrayType.shape.append(3)
    nn = m.neuralNetwork
    for name, w, b in (("a", np.eye(3), np.zeros(3)), ("b", np.eye(3), np.zeros(3)), ("c", np.zeros((3, 3)), np.full(3, 2.0))):
        layer = nn.layers.add()
        layer.name, layer.input[:], layer.output[:] = name, ["x"], [name]
        ip = layer.innerProduct
        ip.inputChannels = ip.outputChannels = 3
        ip.hasBias = True
        ip.weights.floatValue.extend(w.reshape(-1).tolist())
        ip.bias.floatValue.extend(b.tolist())
    product = nn.layers.add()
    product.name, product.input[:], product.output[:] = "p", ["a", "b", "c"], ["p"]
    product.multiply.alpha = 1.0
    clip = nn.layers.add()
    clip.name, clip.input[:], clip.output[:] = "y", ["p"], ["y"]
    clip.clip.minVal, clip.clip.maxVal = 0.0, 5.0
    assert _run(m, [[1.5, 3.0, -2.0]])["y"].tolist() == [[4.5, 5.0, 5.0]]


def test_string_imputer_replaces_the_empty_string():
    # "" (a missing category, contract 2) -> "female"; every other string passes through
    m = module("Model_pb2").Model()
    m.specificationVersion = 1
    for desc, name in ((m.description.input, "sex"), (m.description.output, "filled")):
        f = desc.add()
        f.name = name
        f.type.stringType.SetInParent()
    m.imputer.imputedStringValue = "female"
    m.imputer.replaceStringValue = ""
    got = CoreMLModel.from_bytes(m.SerializeToString()).predict({"sex": np.array(["male", "", "other"], dtype=object)})
    assert list(got["filled"]) == ["male", "female", "other"]
