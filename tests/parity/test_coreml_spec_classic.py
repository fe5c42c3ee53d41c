"""The Core ML spec evaluator on tiny specs built by hand, with expected outputs worked out by hand from
the specification's documented semantics (never from edgepack's converter)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from edgepack.converters.coreml_protobuf import module
from edgepack.parity.coreml_spec import CoreMLModel, SpecError


def _feature(desc, name: str, kind: str, dim: int | None = None) -> None:
    f = desc.add()
    f.name = name
    if kind == "double":
        f.type.doubleType.SetInParent()
    elif kind == "string":
        f.type.stringType.SetInParent()
    elif kind == "int64":
        f.type.int64Type.SetInParent()
    elif kind == "array":
        f.type.multiArrayType.dataType = module("FeatureTypes_pb2").ArrayFeatureType.DOUBLE
        f.type.multiArrayType.shape.append(dim)
    else:
        f.type.dictionaryType.int64KeyType.SetInParent()


def _model(inputs, outputs):
    m = module("Model_pb2").Model()
    m.specificationVersion = 1
    for name, kind, dim in inputs:
        _feature(m.description.input, name, kind, dim)
    for name, kind, dim in outputs:
        _feature(m.description.output, name, kind, dim)
    return m


def _run(m, feeds):
    return CoreMLModel.from_bytes(m.SerializeToString()).predict(feeds)


def test_pipeline_imputer_scaler_onehot_vectorizer_glm_classifier():
    # x (double, may be NaN) -> Imputer(NaN -> 4) -> Scaler((x + -2) * 0.5); c (string) -> OneHot[a, b]
    # -> FeatureVectorizer [x', a, b] -> GLMClassifier(w = [1, 2, -1], b = 0.5, Logit, ReferenceClass)
    top = _model([("x", "double", None), ("c", "string", None)], [("label", "int64", None), ("probs", "dict", None)])
    pipe = top.pipelineClassifier.pipeline
    imp = _model([("x", "double", None)], [("xi", "double", None)])
    imp.imputer.imputedDoubleValue = 4.0
    imp.imputer.replaceDoubleValue = math.nan
    sc = _model([("xi", "double", None)], [("xs", "double", None)])
    sc.scaler.shiftValue.append(-2.0)
    sc.scaler.scaleValue.append(0.5)
    oh = _model([("c", "string", None)], [("co", "array", 2)])
    oh.oneHotEncoder.stringCategories.vector.extend(["a", "b"])
    oh.oneHotEncoder.handleUnknown = oh.oneHotEncoder.IgnoreUnknown
    fv = _model([("xs", "double", None), ("co", "array", 2)], [("v", "array", 3)])
    for name, d in (("xs", 1), ("co", 2)):
        col = fv.featureVectorizer.inputList.add()
        col.inputColumn, col.inputDimensions = name, d
    glm = _model([("v", "array", 3)], [("label", "int64", None), ("probs", "dict", None)])
    glm.glmClassifier.weights.add().value.extend([1.0, 2.0, -1.0])
    glm.glmClassifier.offset.append(0.5)
    glm.glmClassifier.int64ClassLabels.vector.extend([10, 20])
    glm.glmClassifier.classEncoding = glm.glmClassifier.OneVsRest
    pipe.models.extend([imp, sc, oh, fv, glm])
    out = _run(top, {"x": np.array([6.0, math.nan, 0.0]), "c": np.array(["a", "b", "zzz"], dtype=object)})
    # row 0: x'=(6-2)*.5=2, [2,1,0] -> z = 2 + 2 + .5 = 4.5; row 1: x'=(4-2)*.5=1, [1,0,1] -> 1 - 1 + .5 = .5
    # row 2: x'=(0-2)*.5=-1, unknown -> [-1,0,0] -> -1 + .5 = -.5
    p = 1 / (1 + np.exp(-np.array([4.5, 0.5, -0.5])))
    assert np.allclose(out["probs"].values, np.stack([1 - p, p], axis=1), atol=1e-15)
    assert list(out["probs"].keys) == [10, 20]
    assert list(out["label"]) == [20, 20, 10]


def test_onehot_error_on_unknown_and_categorical_mapping_default():
    oh = _model([("c", "string", None)], [("co", "array", 2)])
    oh.oneHotEncoder.stringCategories.vector.extend(["a", "b"])
    with pytest.raises(SpecError, match="unknown category"):
        _run(oh, {"c": np.array(["q"], dtype=object)})
    cm = _model([("c", "string", None)], [("i", "int64", None)])
    cm.categoricalMapping.stringToInt64Map.map["a"] = 0
    cm.categoricalMapping.stringToInt64Map.map["b"] = 1
    cm.categoricalMapping.int64Value = -1
    assert list(_run(cm, {"c": np.array(["b", "a", "q"], dtype=object)})["i"]) == [1, 0, -1]


def _tree(params, tree_id, nodes):
    enum = module("TreeEnsemble_pb2").TreeEnsembleParameters.TreeNode
    for node_id, spec in nodes.items():
        n = params.nodes.add()
        n.treeId, n.nodeId = tree_id, node_id
        if spec[0] == "leaf":
            n.nodeBehavior = enum.LeafNode
            for idx, val in spec[1]:
                info = n.evaluationInfo.add()
                info.evaluationIndex, info.evaluationValue = idx, val
        else:
            behaviour, feat, value, t, f, missing_true = spec
            n.nodeBehavior = getattr(enum, behaviour)
            n.branchFeatureIndex, n.branchFeatureValue = feat, value
            n.trueChildNodeId, n.falseChildNodeId = t, f
            n.missingValueTracksTrueChild = missing_true


def test_tree_regressor_branch_modes_and_missing_values():
    m = _model([("v", "array", 2)], [("y", "double", None)])
    params = m.treeEnsembleRegressor.treeEnsemble
    params.numPredictionDimensions = 1
    params.basePredictionValue.append(100.0)
    # tree 0: x0 <= 1.5 ? (x1 < 0 ? 1 : 2) : 3 ; missing x0 -> true child. Root listed last on purpose.
    _tree(params, 0, {
        1: ("BranchOnValueLessThan", 1, 0.0, 3, 4, False), 3: ("leaf", [(0, 1.0)]), 4: ("leaf", [(0, 2.0)]),
        2: ("leaf", [(0, 3.0)]), 0: ("BranchOnValueLessThanEqual", 0, 1.5, 1, 2, True),
    })
    # tree 1: x1 >= 5 ? 10 : 20 ; missing -> false child
    _tree(params, 1, {0: ("BranchOnValueGreaterThanEqual", 1, 5.0, 1, 2, False), 1: ("leaf", [(0, 10.0)]),
                      2: ("leaf", [(0, 20.0)])})
    x = np.array([[1.5, -1.0], [1.5, 0.0], [1.6, 5.0], [math.nan, math.nan]])
    y = _run(m, {"v": x})["y"]
    # row0: 1.5<=1.5 -> -1<0 -> 1; -1>=5 no -> 20; row1: 0<0 no -> 2; 20; row2: 3; 10; row3: NaN -> true -> NaN<0 false -> 2; NaN -> false -> 20
    assert list(y) == [121.0, 122.0, 113.0, 122.0]


def test_tree_classifier_post_evaluation_transforms():
    def classifier(transform: str, dims: int, leaf_values):
        m = _model([("v", "array", 1)], [("label", "int64", None), ("probs", "dict", None)])
        spec = m.treeEnsembleClassifier
        spec.treeEnsemble.numPredictionDimensions = dims
        spec.treeEnsemble.basePredictionValue.extend([0.5] * dims)
        _tree(spec.treeEnsemble, 0, {0: ("BranchOnValueLessThanEqual", 0, 0.0, 1, 2, False),
                                     1: ("leaf", leaf_values[0]), 2: ("leaf", leaf_values[1])})
        spec.postEvaluationTransform = getattr(module("TreeEnsemble_pb2"), transform)
        spec.int64ClassLabels.vector.extend(range(max(dims, 2)))
        return _run(m, {"v": np.array([[-1.0], [1.0]])})

    out = classifier("Regression_Logistic", 1, [[(0, -0.5)], [(0, 1.5)]])
    p = 1 / (1 + np.exp(-np.array([0.0, 2.0])))  # base 0.5 + leaf
    assert np.allclose(out["probs"].values, np.stack([1 - p, p], axis=1), atol=1e-15)
    assert list(out["label"]) == [0, 1]  # a tie (0.5, 0.5) goes to the first class
    out = classifier("Classification_SoftMax", 3, [[(0, 1.0), (2, 2.0)], [(1, 3.0)]])
    s = np.array([[1.5, 0.5, 2.5], [0.5, 3.5, 0.5]])
    assert np.allclose(out["probs"].values, np.exp(s) / np.exp(s).sum(axis=1, keepdims=True), atol=1e-15)
    assert list(out["label"]) == [2, 1]


def test_glm_classifier_one_vs_rest_normalises():
    m = _model([("v", "array", 1)], [("label", "int64", None), ("probs", "dict", None)])
    glm = m.glmClassifier
    for w in (1.0, -1.0, 0.0):
        glm.weights.add().value.append(w)
        glm.offset.append(0.0)
    glm.classEncoding = glm.OneVsRest
    glm.int64ClassLabels.vector.extend([0, 1, 2])
    out = _run(m, {"v": np.array([[2.0]])})
    s = 1 / (1 + np.exp(-np.array([2.0, -2.0, 0.0])))  # logistic per class, then divided by their sum
    assert np.allclose(out["probs"].values[0], s / s.sum(), atol=1e-15)
    assert list(out["label"]) == [0]


def test_glm_regressor_and_neural_network_with_quantized_weights():
    m = _model([("v", "array", 2)], [("y", "double", None)])
    m.glmRegressor.weights.add().value.extend([2.0, -3.0])
    m.glmRegressor.offset.append(1.0)
    assert list(_run(m, {"v": np.array([[1.0, 1.0], [0.5, 0.0]])})["y"]) == [0.0, 2.0]

    nn = _model([("v", "array", 2)], [("label", "int64", None), ("probs", "dict", None)])
    spec = nn.neuralNetworkClassifier
    ip = spec.layers.add()
    ip.name, ip.input[:], ip.output[:] = "dense", ["v"], ["z"]
    ip.innerProduct.inputChannels, ip.innerProduct.outputChannels, ip.innerProduct.hasBias = 2, 2, True
    # W = [[1, 0], [0, 3]] as 2-bit linear quantization: w = 1.0 * q + 0.0, q = [1, 0, 0, 3] packed MSB first
    w = ip.innerProduct.weights
    w.quantization.numberOfBits = 2
    w.quantization.linearQuantization.scale.append(1.0)
    w.quantization.linearQuantization.bias.append(0.0)
    w.rawValue = bytes([0b01000011])
    ip.innerProduct.bias.float16Value = np.array([0.5, -0.5], dtype="<f2").tobytes()
    sm = spec.layers.add()
    sm.name, sm.input[:], sm.output[:] = "softmax", ["z"], ["p"]
    sm.softmax.SetInParent()
    spec.labelProbabilityLayerName = "p"
    spec.int64ClassLabels.vector.extend([0, 1])
    out = _run(nn, {"v": np.array([[1.0, 1.0]])})
    z = np.array([1.5, 2.5])  # [1*1 + 0*1 + .5, 0*1 + 3*1 - .5]
    assert np.allclose(out["probs"].values[0], np.exp(z) / np.exp(z).sum(), atol=1e-6)


def test_refuses_what_it_does_not_know():
    with pytest.raises(SpecError, match="not a Core ML model"):
        CoreMLModel.from_bytes(b"\x00garbage")
    m = _model([("v", "array", 2)], [("y", "double", None)])
    m.normalizer.SetInParent()
    with pytest.raises(SpecError, match="outside the supported subset"):
        _run(m, {"v": np.zeros((1, 2))})


def test_evaluator_stands_apart_from_the_converter():
    import subprocess
    import sys

    code = ("import sys, edgepack.parity.coreml_spec as e; e.CoreMLModel; from edgepack.converters.coreml_protobuf import module;"
            "module('Model_pb2'); shared = ('edgepack.converters', 'edgepack.converters.coreml_protobuf');"
            "bad = [m for m in sys.modules if m.startswith(('edgepack.converters', 'tensorflow', 'coremltools.models')) and m not in shared];"
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_each_model_type_computes_in_the_precision_core_ml_uses():
    """Issue 16 item 6 (docs/ios.md "Which precision the check computes in"): a classic GLM computes in
    double, a NeuralNetwork layer in float32. Input 1 + 2**-30 is exact in double and rounds to 1 in float32,
    so y = x - 1 shows which precision ran: 2**-30 (double) or 0 (float32)."""
    x = np.array([[1.0 + 2.0**-30]])
    glm = _model([("v", "array", 1)], [("y", "double", None)])
    glm.glmRegressor.weights.add().value.append(1.0)
    glm.glmRegressor.offset.append(-1.0)
    assert _run(glm, {"v": x})["y"][0] == 2.0**-30

    nn = _model([("v", "array", 1)], [("y", "array", 1)])
    ip = nn.neuralNetworkRegressor.layers.add()
    ip.name, ip.input[:], ip.output[:] = "dense", ["v"], ["y"]
    ip.innerProduct.inputChannels, ip.innerProduct.outputChannels, ip.innerProduct.hasBias = 1, 1, True
    ip.innerProduct.weights.floatValue.append(1.0)
    ip.innerProduct.bias.floatValue.append(-1.0)
    assert float(np.asarray(_run(nn, {"v": x})["y"]).reshape(-1)[0]) == 0.0
