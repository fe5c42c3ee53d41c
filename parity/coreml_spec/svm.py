"""SupportVectorClassifier / SupportVectorRegressor, as libsvm evaluates them (Core ML's SVM spec is
libsvm's model: its field names, layout and probability model), in double.

Kernels: linear x.y; rbf exp(-gamma |x - y|^2); poly (gamma x.y + c)^degree; sigmoid tanh(gamma x.y + c).
Regressor: sum_i alpha_i K(sv_i, x) - rho.
Classifier (one-vs-one): support vectors grouped by class (numberOfSupportVectorsPerClass); for the pair
(i < j) the decision value is sum over class i's vectors of coefficients[j-1] K + sum over class j's vectors
of coefficients[i] K - rho[pair]. With probA/probB: Platt's pairwise probability
r_ij = clip(1 / (1 + exp(probA dec + probB)), 1e-7, 1 - 1e-7), then libsvm's multiclass_probability (the
iterative coupling, stopping at 0.005 / k), as svm_predict_probability does for more than two classes.
Without probA the classifier gives the one-vs-one vote winner only, which this subset does not evaluate.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .values import SpecError, as_columns, class_labels, classifier_result, feature_kind

MIN_PROB = 1e-7


def _kernel(spec: Any, x: np.ndarray, sv: np.ndarray) -> np.ndarray:
    """K(x_n, sv_m) as [N, M]."""
    which = spec.kernel.WhichOneof("kernel")
    dot = x @ sv.T
    if which == "linearKernel":
        return dot
    if which == "rbfKernel":
        sq = (x * x).sum(axis=1)[:, None] + (sv * sv).sum(axis=1)[None, :] - 2.0 * dot
        return np.exp(-spec.kernel.rbfKernel.gamma * sq)
    if which == "polyKernel":
        k = spec.kernel.polyKernel
        return (k.gamma * dot + k.c) ** int(k.degree)
    if which == "sigmoidKernel":
        k = spec.kernel.sigmoidKernel
        return np.tanh(k.gamma * dot + k.c)
    raise SpecError(f"SVM kernel {which} is outside the supported subset")


def _support_vectors(spec: Any, dim: int) -> np.ndarray:
    if spec.WhichOneof("supportVectors") != "denseSupportVectors":
        raise SpecError("sparse support vectors are outside the supported subset")
    sv = np.asarray([list(v.values) for v in spec.denseSupportVectors.vectors], dtype=np.float64)
    if sv.ndim != 2 or sv.shape[1] != dim:
        raise SpecError(f"support vectors have {sv.shape[-1]} values, the input has {dim}")
    return sv


def svm_regressor(model: Any, feeds: dict[str, Any]) -> dict[str, Any]:
    spec = model.supportVectorRegressor
    x = as_columns(feeds[model.description.input[0].name])
    sv = _support_vectors(spec, x.shape[1])
    alpha = np.asarray(spec.coefficients.alpha, dtype=np.float64)
    if len(alpha) != len(sv):
        raise SpecError(f"SupportVectorRegressor: {len(alpha)} coefficients for {len(sv)} support vectors")
    y = _kernel(spec, x, sv) @ alpha - spec.rho
    out = model.description.output[0]
    return {out.name: y if feature_kind(out.type) == "double" else y[:, None]}


def _multiclass_probability(r: np.ndarray) -> np.ndarray:
    """libsvm's multiclass_probability for one row: pairwise r [k, k] -> class probabilities [k]."""
    k = len(r)
    p = np.full(k, 1.0 / k)
    q = np.zeros((k, k))
    for t in range(k):
        for j in range(t):
            q[t, t] += r[j, t] * r[j, t]
            q[t, j] = q[j, t]
        for j in range(t + 1, k):
            q[t, t] += r[j, t] * r[j, t]
            q[t, j] = -r[j, t] * r[t, j]
    eps = 0.005 / k
    for _ in range(max(100, k)):
        qp = np.zeros(k)
        pqp = 0.0
        for t in range(k):
            for j in range(k):
                qp[t] += q[t, j] * p[j]
            pqp += p[t] * qp[t]
        if max(abs(qp[t] - pqp) for t in range(k)) < eps:
            break
        for t in range(k):
            diff = (-qp[t] + pqp) / q[t, t]
            p[t] += diff
            pqp = (pqp + diff * (diff * q[t, t] + 2 * qp[t])) / (1 + diff) / (1 + diff)
            for j in range(k):
                qp[j] = (qp[j] + diff * q[t, j]) / (1 + diff)
                p[j] /= 1 + diff
    return p


def svm_classifier(model: Any, feeds: dict[str, Any]) -> dict[str, Any]:
    spec = model.supportVectorClassifier
    labels = class_labels(spec)
    k = len(labels)
    x = as_columns(feeds[model.description.input[0].name])
    sv = _support_vectors(spec, x.shape[1])
    counts = list(spec.numberOfSupportVectorsPerClass)
    coef = np.asarray([list(c.alpha) for c in spec.coefficients], dtype=np.float64)  # [k-1, M]
    pairs = k * (k - 1) // 2
    if len(counts) != k or sum(counts) != len(sv) or coef.shape != (k - 1, len(sv)) or len(spec.rho) != pairs:
        raise SpecError("SupportVectorClassifier: support vectors, coefficients and rho do not fit the classes")
    if len(spec.probA) != pairs or len(spec.probB) != pairs:
        raise SpecError("SupportVectorClassifier without probA/probB (vote only) is outside the supported subset")
    if k == 2:
        raise SpecError("a two-class SupportVectorClassifier is outside the supported subset (libsvm's binary "
                        "probability shortcut differs by version)")
    kern = _kernel(spec, x, sv)
    start = np.concatenate([[0], np.cumsum(counts)]).astype(int)
    probs = np.zeros((len(x), k))
    pair = 0
    r = np.zeros((len(x), k, k))
    for i in range(k):
        for j in range(i + 1, k):
            si, sj = slice(start[i], start[i + 1]), slice(start[j], start[j + 1])
            dec = kern[:, si] @ coef[j - 1, si] + kern[:, sj] @ coef[i, sj] - spec.rho[pair]
            f = dec * spec.probA[pair] + spec.probB[pair]
            e = np.exp(-np.abs(f))  # libsvm's sigmoid_predict, written to avoid overflow on either side
            sig = np.where(f >= 0, e / (1.0 + e), 1.0 / (1.0 + e))
            sig = np.clip(sig, MIN_PROB, 1 - MIN_PROB)
            r[:, i, j], r[:, j, i] = sig, 1.0 - sig
            pair += 1
    for n in range(len(x)):
        probs[n] = _multiclass_probability(r[n])
    return classifier_result(model.description, labels, probs)
