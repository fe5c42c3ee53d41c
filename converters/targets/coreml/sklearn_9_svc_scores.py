"""SVC without probability=True: scikit-learn's decision scores as `probabilities` (as the ONNX artifact
gives them; argmax is predict), as a nested pipeline:

    two classes   SupportVectorRegressor d = sum (-alpha_i) K(sv_i, x) - _intercept_ (scikit-learn's sign,
                  double) -> GLMRegressor [-d, d] -> NeuralNetworkClassifier, one linear(1, 0) activation
                  (float32: the class dictionary)
    k classes     one SupportVectorRegressor per pair (i < j) over the two classes' support vectors: libsvm's
                  one-vs-one value dec_ij (double) -> FeatureVectorizer ->
                  votes: TreeEnsembleRegressor, one stump per pair (dec_ij < 0 -> a vote for j, else for i;
                  exact) and confidences: GLMRegressor, c_i = sum of dec_ij over pairs (i, j) - sum of
                  dec_ji over pairs (j, i) (double) -> FeatureVectorizer ->
                  NeuralNetworkClassifier (float32): votes + c / (3 (|c| + 1)), scikit-learn's
                  _ovr_decision_function (abs and a power -1 unary layer, a multiply, an add)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ....runtime.errors import ModelError
from .proto import classifier_outputs, feature, model, set_class_labels
from .sklearn_5_families import check_score_size, fill_kernel, has_probabilities, svc
from .sklearn_7_ensembles import container, vectorizer


def _svr(est: Any, rows: np.ndarray, alpha: np.ndarray, rho: float, out: str, x: Any) -> Any:
    m = model([feature(x.name, "array", x.dim)], [feature(out, "double")])
    svr = m.supportVectorRegressor
    fill_kernel(est, svr, rows)
    svr.coefficients.alpha.extend(np.asarray(alpha, dtype=np.float64).tolist())
    svr.rho = float(rho)
    return m


def _dense(nn: Any, name: str, source: str, w: np.ndarray, b: np.ndarray) -> str:
    layer = nn.layers.add()
    layer.name, layer.input[:], layer.output[:] = name, [source], [name]
    ip = layer.innerProduct
    ip.outputChannels, ip.inputChannels = int(w.shape[0]), int(w.shape[1])
    ip.hasBias = True
    ip.weights.floatValue.extend(np.asarray(w, dtype=np.float32).reshape(-1).tolist())
    ip.bias.floatValue.extend(np.asarray(b, dtype=np.float32).tolist())
    return name


def _to_dictionary(source_name: str, dim: int, source: Any, layers: Any) -> Any:
    """A NeuralNetworkClassifier from the array `source_name`: `layers(nn)` adds the layers and returns the
    name of the scores blob."""
    classes = list(source.classes)
    m = model([feature(source_name, "array", dim)], classifier_outputs(classes))
    nn = m.neuralNetworkClassifier
    nn.labelProbabilityLayerName = layers(nn)
    set_class_labels(nn, classes)
    return m


def svc_any(est: Any, x: Any, source: Any) -> tuple[Any, list[Any]]:
    """SVC: libsvm's probabilities where it has them (sklearn_5_families.svc), else the decision scores."""
    return svc(est, x, source) if has_probabilities(est) else svc_scores(est, x, source)


def svc_scores(est: Any, x: Any, source: Any) -> tuple[Any, list[Any]]:
    k = len(est.classes_)
    sv = np.asarray(est.support_vectors_, dtype=np.float64)
    coef = np.asarray(est._dual_coef_, dtype=np.float64)
    intercept = np.asarray(est._intercept_, dtype=np.float64)
    models = []
    if k == 2:
        check_score_size(est, source)
        # scikit-learn flips libsvm's sign for two classes: d = -(sum alpha K + _intercept_)
        models.append(_svr(est, sv, -coef[0], float(intercept[0]), "__svc_d", x))
        widen = model([feature("__svc_d", "double")], [feature("__svc_scores", "array", 2)])
        widen.glmRegressor.weights.add().value.append(-1.0)
        widen.glmRegressor.weights.add().value.append(1.0)
        widen.glmRegressor.offset.extend([0.0, 0.0])
        models.append(widen)

        def identity(nn: Any) -> str:
            layer = nn.layers.add()
            layer.name, layer.input[:], layer.output[:] = "scores", ["__svc_scores"], ["scores"]
            layer.activation.linear.alpha, layer.activation.linear.beta = 1.0, 0.0
            return "scores"

        models.append(_to_dictionary("__svc_scores", 2, source, identity))
        return container(x, source, models)
    if est.decision_function_shape != "ovr":
        raise ModelError(f"the Core ML target cannot express SVC(decision_function_shape={est.decision_function_shape!r}) "
                         "with more than two classes: one score per pair, not per class",
                         fix="use decision_function_shape='ovr' (the default)")
    start = np.concatenate([[0], np.cumsum(est.n_support_)]).astype(int)
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    names = []
    for p, (i, j) in enumerate(pairs):
        si, sj = slice(start[i], start[i + 1]), slice(start[j], start[j + 1])
        rows = np.concatenate([sv[si], sv[sj]])
        alpha = np.concatenate([coef[j - 1, si], coef[i, sj]])
        name = f"__ovo_{p}"
        models.append(_svr(est, rows, alpha, float(-intercept[p]), name, x))
        names.append(name)
    n = len(pairs)
    ovo = vectorizer([(name, 1) for name in names], "__ovo")
    # vectorizer declares array parts; the pair values are doubles
    for i, name in enumerate(names):
        ovo.description.input[i].CopyFrom(feature(name, "double"))
    models.append(ovo)
    votes = model([feature("__ovo", "array", n)], [feature("__votes", "array", k)])
    ens = votes.treeEnsembleRegressor.treeEnsemble
    ens.numPredictionDimensions = k
    for p, (i, j) in enumerate(pairs):
        for node_id, behaviour, adds in ((0, "BranchOnValueLessThan", None), (1, "LeafNode", j), (2, "LeafNode", i)):
            node = ens.nodes.add()
            node.treeId, node.nodeId = p, node_id
            node.nodeBehavior = getattr(node, behaviour)
            if adds is None:
                node.branchFeatureIndex, node.branchFeatureValue = p, 0.0
                node.trueChildNodeId, node.falseChildNodeId = 1, 2
            else:
                info = node.evaluationInfo.add()
                info.evaluationIndex, info.evaluationValue = adds, 1.0
    models.append(votes)
    conf = model([feature("__ovo", "array", n)], [feature("__confidence", "array", k)])
    w = np.zeros((k, n))
    for p, (i, j) in enumerate(pairs):
        w[i, p], w[j, p] = 1.0, -1.0
    for row in w:
        conf.glmRegressor.weights.add().value.extend(row.tolist())
    conf.glmRegressor.offset.extend([0.0] * k)
    models.append(conf)
    models.append(vectorizer([("__votes", k), ("__confidence", k)], "__ovr_parts"))
    eye, zero = np.eye(k), np.zeros((k, k))

    def ovr(nn: Any) -> str:
        v = _dense(nn, "votes", "__ovr_parts", np.hstack([eye, zero]), np.zeros(k))
        c = _dense(nn, "confidence", "__ovr_parts", np.hstack([zero, eye]), np.zeros(k))
        a = nn.layers.add()
        a.name, a.input[:], a.output[:] = "abs", [c], ["abs"]
        a.unary.type, a.unary.scale = a.unary.ABS, 1.0
        inv = nn.layers.add()  # 1 / (3 |c| + 3)
        inv.name, inv.input[:], inv.output[:] = "inverse", ["abs"], ["inverse"]
        inv.unary.type, inv.unary.alpha, inv.unary.scale, inv.unary.shift = inv.unary.POWER, -1.0, 3.0, 3.0
        t = nn.layers.add()
        t.name, t.input[:], t.output[:] = "transformed", [c, "inverse"], ["transformed"]
        t.multiply.alpha = 1.0
        s = nn.layers.add()
        s.name, s.input[:], s.output[:] = "scores", [v, "transformed"], ["scores"]
        s.add.alpha = 0.0
        return "scores"

    models.append(_to_dictionary("__ovr_parts", 2 * k, source, ovr))
    return container(x, source, models)
