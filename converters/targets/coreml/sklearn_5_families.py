"""The scikit-learn families beyond the first nineteen as Core ML models (issue 18): one builder per family,
listed in sklearn_3_final_model.FINAL_MODELS; what Core ML cannot express is in REFUSED with the reason.

| family                                   | Core ML model type              | computes in |
|------------------------------------------|---------------------------------|-------------|
| LinearSVR, SGDRegressor, ElasticNet,     | GLMRegressor                    | double      |
| HuberRegressor                           |                                 |             |
| SGDClassifier(log_loss)                  | GLMClassifier (Logit; OneVsRest | double      |
|                                          | rows normalised, as scikit-learn)|            |
| LinearSVC, Perceptron, hinge-type SGD,   | NeuralNetworkClassifier: one    | float32     |
| RidgeClassifier (decision scores)        | inner product, the scores as    |             |
|                                          | `probabilities`                 |             |
| SVC(probability=True), SVR               | SupportVectorClassifier /       | double      |
|                                          | SupportVectorRegressor (libsvm) |             |
| SVC(probability=False)                   | sklearn_9_svc_scores.py         | double, then|
|                                          |                                 | float32     |
| MultinomialNB                            | NeuralNetworkClassifier         | float32     |
| GaussianNB                               | NeuralNetworkClassifier         | float32     |
| CalibratedClassifierCV(sigmoid) over a   | NeuralNetworkClassifier         | float32     |
| linear model                             |                                 |             |

BernoulliNB (a TreeEnsembleClassifier of stumps, double) is in sklearn_6_step_trees.py.

Classifiers without predict_proba put their decision scores in `probabilities` (one per class, `[-d, d]`
for two classes), as the ONNX artifact does, so argmax is scikit-learn's predict. Core ML has no classic
model that gives a class -> score dictionary without a link function (GLMClassifier applies Logit or
Probit), so these go through a NeuralNetworkClassifier, which computes in float32.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ....runtime.errors import ModelError
from .proto import classifier_outputs, feature, model, set_class_labels

# libsvm kernels Core ML's SupportVectorClassifier/Regressor take (all four of scikit-learn's built-in ones)
_KERNELS = ("linear", "rbf", "poly", "sigmoid")

# Decision scores at or beyond this size are refused: float32 spacing there is 2^6 * 2^-23 = 7.6e-6, so the
# score's own rounding (half of that) plus the inner product's leaves no room under 1e-5. Measured: LinearSVC
# scores up to 29 on breast cancer, 2.4e-6 off; hinge SGD scores up to 408, 2.2e-5 off.
FLOAT32_SCORE_LIMIT = 64.0

# Families (or settings) Core ML cannot express, with the reason the build gives.
REFUSED: dict[str, str] = {
    "KNeighborsRegressor": "Core ML has no nearest-neighbours regressor (KNearestNeighborsClassifier only)",
    "KNeighborsClassifier": "Core ML's KNearestNeighborsClassifier specification documents the majority label only "
    "(how its probability output is normalised and how ties are broken are not specified) and stores its samples "
    "in float32, so scikit-learn's predict_proba can be neither reproduced nor checked off a device",
}


def _classes(source: Any) -> list[Any]:
    return list(source.classes)


def _input(x: Any) -> list[Any]:
    return [feature(x.name, "array", x.dim)]


def glm_regressor(est: Any, x: Any, source: Any) -> tuple[Any, list[Any]]:
    """value = coef . x + intercept, in double (LinearSVR, SGDRegressor, ElasticNet, HuberRegressor)."""
    coef = np.asarray(est.coef_, dtype=np.float64).reshape(-1)
    intercept = float(np.asarray(est.intercept_, dtype=np.float64).reshape(-1)[0])
    outputs = [feature("value", "double")]
    m = model(_input(x), outputs)
    m.glmRegressor.weights.add().value.extend(coef.tolist())
    m.glmRegressor.offset.append(intercept)
    return m, outputs


def _linear_scores(est: Any) -> tuple[np.ndarray, np.ndarray]:
    """The decision function's weights [K, F] and offsets [K], one row per class ([-w, w] for two)."""
    coef = np.asarray(est.coef_, dtype=np.float64)
    intercept = np.asarray(est.intercept_, dtype=np.float64).reshape(-1)
    if coef.ndim == 1:
        coef = coef.reshape(1, -1)
    if coef.shape[0] == 1:
        coef, intercept = np.concatenate([-coef, coef]), np.concatenate([-intercept, intercept])
    return coef, intercept


def sgd_classifier(est: Any, x: Any, source: Any) -> tuple[Any, list[Any]]:
    """log_loss: scikit-learn's predict_proba is logistic(score) (binary) or one-vs-rest logistic scores
    normalised to sum to 1, which is GLMClassifier's Logit with OneVsRest rows, in double. Losses without
    predict_proba: the decision scores."""
    if est.loss == "log_loss":
        coef = np.asarray(est.coef_, dtype=np.float64)
        intercept = np.asarray(est.intercept_, dtype=np.float64).reshape(-1)
        outputs = classifier_outputs(_classes(source))
        m = model(_input(x), outputs)
        glm = m.glmClassifier
        for row in coef:
            glm.weights.add().value.extend(row.tolist())
        glm.offset.extend(intercept.tolist())
        glm.postEvaluationTransform = glm.Logit
        glm.classEncoding = glm.OneVsRest
        set_class_labels(glm, _classes(source))
        return m, outputs
    if hasattr(est, "predict_proba"):
        raise ModelError(f"the Core ML target cannot express SGDClassifier(loss={est.loss!r}): its predict_proba "
                         "clips the one-vs-rest scores, which no Core ML classifier does",
                         fix="use loss='log_loss' or a loss without predict_proba (hinge), or build without --targets coreml")
    return score_classifier(est, x, source)


def score_classifier(est: Any, x: Any, source: Any) -> tuple[Any, list[Any]]:
    """LinearSVC, Perceptron, RidgeClassifier, hinge-type SGD: the decision scores as `probabilities`,
    one inner product in a NeuralNetworkClassifier (float32)."""
    check_score_size(est, source)
    coef, intercept = _linear_scores(est)
    return dense_classifier([("scores", coef, intercept, None)], x, source)


def check_score_size(est: Any, source: Any) -> None:
    """Refuse decision scores float32 cannot hold to 1e-5 (measured on the build's sample, when there is one)."""
    frame = getattr(source, "sample", None)
    if frame is None:
        return
    peak = float(np.abs(np.asarray(source.predict(frame)["probabilities"], dtype=np.float64)).max())
    if peak >= FLOAT32_SCORE_LIMIT:
        raise ModelError(f"the Core ML target cannot hold {type(est).__name__}'s decision scores to 1e-5: they reach "
                         f"{peak:.4g} on the build's sample, and Core ML's NeuralNetwork computes in float32, whose "
                         f"steps there exceed 1e-5 / 2 (hinge SGDClassifier on breast cancer: 2.2e-5 off on held-out rows)",
                         fix="scale the inputs or regularise more (smaller scores), or build without --targets coreml")


def dense_classifier(layers: list[tuple[str, np.ndarray, np.ndarray, str | None]], x: Any,
                     source: Any, unary: list[tuple[int, str, float]] | None = None) -> tuple[Any, list[Any]]:
    """A NeuralNetworkClassifier of inner products ([out, in] weights, bias, then an activation: None,
    "sigmoid", "softmax", or "square" (unary power 2)); the last layer's output is the class dictionary."""
    outputs = classifier_outputs(_classes(source))
    m = model(_input(x), outputs)
    nn = m.neuralNetworkClassifier
    current = x.name
    for i, (name, w, b, act) in enumerate(layers):
        layer = nn.layers.add()
        layer.name = f"{name}_{i}"
        layer.input.append(current)
        current = layer.name
        layer.output.append(current)
        ip = layer.innerProduct
        ip.inputChannels, ip.outputChannels = int(w.shape[1]), int(w.shape[0])
        ip.hasBias = True
        ip.weights.floatValue.extend(np.asarray(w, dtype=np.float32).reshape(-1).tolist())
        ip.bias.floatValue.extend(np.asarray(b, dtype=np.float32).reshape(-1).tolist())
        if act is None:
            continue
        nxt = nn.layers.add()
        nxt.name = f"{act}_{i}"
        nxt.input.append(current)
        current = nxt.name
        nxt.output.append(current)
        if act == "softmax":
            nxt.softmax.SetInParent()
        elif act == "sigmoid":
            nxt.activation.sigmoid.SetInParent()
        elif act == "square":
            nxt.unary.type = nxt.unary.POWER
            nxt.unary.alpha = 2.0
            nxt.unary.scale = 1.0
        else:
            raise ValueError(act)
    nn.labelProbabilityLayerName = current
    set_class_labels(nn, _classes(source))
    return m, outputs


def multinomial_nb(est: Any, x: Any, source: Any) -> tuple[Any, list[Any]]:
    """joint log-likelihood = x . feature_log_prob_ + class_log_prior_, then softmax (float32)."""
    w = np.asarray(est.feature_log_prob_, dtype=np.float64)
    b = np.asarray(est.class_log_prior_, dtype=np.float64)
    return dense_classifier([("jll", w, b, "softmax")], x, source)


def gaussian_nb(est: Any, x: Any, source: Any) -> tuple[Any, list[Any]]:
    """jll_k = log prior_k - 1/2 sum_j log(2 pi var_kj) - 1/2 sum_j ((x_j - theta_kj) / sigma_kj)^2: one inner
    product standardises x per class (K*F outputs), a unary power squares, a second inner product sums
    with -1/2 and adds the constants, then softmax (float32)."""
    theta = np.asarray(est.theta_, dtype=np.float64)
    var = np.asarray(est.var_, dtype=np.float64)
    k, f = theta.shape
    inv = 1.0 / np.sqrt(var)
    w1 = np.zeros((k * f, f))
    for c in range(k):
        w1[c * f:(c + 1) * f] = np.diag(inv[c])
    b1 = (-theta * inv).reshape(-1)
    w2 = np.zeros((k, k * f))
    for c in range(k):
        w2[c, c * f:(c + 1) * f] = -0.5
    b2 = np.log(np.asarray(est.class_prior_, dtype=np.float64)) - 0.5 * np.log(2.0 * np.pi * var).sum(axis=1)
    return dense_classifier([("standardised", w1, b1, "square"), ("jll", w2, b2, "softmax")], x, source)


def calibrated(est: Any, x: Any, source: Any) -> tuple[Any, list[Any]]:
    """CalibratedClassifierCV(method='sigmoid') over linear models, two classes: p = mean over the folds of
    1 / (1 + exp(a_i s_i(x) + b_i)), s_i the fold's decision score. Inner product (one row per fold, the
    calibration folded in) -> sigmoid -> inner product averaging into [1 - p, p] (float32)."""
    if est.method != "sigmoid" or len(est.classes_) != 2:
        raise ModelError("the Core ML target can express CalibratedClassifierCV only with method='sigmoid' and two classes",
                         fix="use method='sigmoid' on a binary problem, or build without --targets coreml")
    rows, offsets = [], []
    for fold in est.calibrated_classifiers_:
        base = fold.estimator
        if not hasattr(base, "coef_") or type(base).__name__ not in LINEAR_SCORERS:
            raise ModelError(f"the Core ML target cannot express CalibratedClassifierCV over {type(base).__name__}",
                             fix=f"calibrate one of: {', '.join(sorted(LINEAR_SCORERS))}")
        (calibrator,) = fold.calibrators
        a, b = float(calibrator.a_), float(calibrator.b_)
        coef = np.asarray(base.coef_, dtype=np.float64).reshape(-1)
        intercept = float(np.asarray(base.intercept_, dtype=np.float64).reshape(-1)[0])
        rows.append(-a * coef)
        offsets.append(-(a * intercept + b))
    n = len(rows)
    mean = np.vstack([-np.ones(n) / n, np.ones(n) / n])
    return dense_classifier([("folds", np.vstack(rows), np.asarray(offsets), "sigmoid"),
                             ("mean", mean, np.array([1.0, 0.0]), None)], x, source)


LINEAR_SCORERS = ("LinearSVC", "LogisticRegression", "SGDClassifier", "RidgeClassifier", "Perceptron")


def _svm_common(est: Any, message: Any) -> None:
    fill_kernel(est, message, np.asarray(est.support_vectors_, dtype=np.float64))


def fill_kernel(est: Any, message: Any, rows: np.ndarray) -> None:
    """The kernel of a fitted scikit-learn SVM and the given support vectors, into an SVM message."""
    if est.kernel not in _KERNELS:
        raise ModelError(f"the Core ML target cannot express {type(est).__name__}(kernel={est.kernel!r})",
                         fix=f"use one of the kernels: {', '.join(_KERNELS)}")
    gamma = float(est._gamma)
    kernel = message.kernel
    if est.kernel == "linear":
        kernel.linearKernel.SetInParent()
    elif est.kernel == "rbf":
        kernel.rbfKernel.gamma = gamma
    elif est.kernel == "poly":
        kernel.polyKernel.gamma, kernel.polyKernel.c, kernel.polyKernel.degree = gamma, float(est.coef0), int(est.degree)
    else:
        kernel.sigmoidKernel.gamma, kernel.sigmoidKernel.c = gamma, float(est.coef0)
    for row in rows:
        message.denseSupportVectors.vectors.add().values.extend(np.asarray(row, dtype=np.float64).tolist())


def has_probabilities(est: Any) -> bool:
    return len(_platt(est)[0]) > 0


def svc(est: Any, x: Any, source: Any) -> tuple[Any, list[Any]]:
    """SVC(probability=True): libsvm's model as scikit-learn holds it (before its binary sign flip): rho = -_intercept_,
    coefficients = _dual_coef_, Platt's probA/probB; Core ML evaluates it with libsvm, in double."""
    prob_a, prob_b = _platt(est)
    if len(est.classes_) == 2:
        raise ModelError(f"the Core ML target cannot express a two-class {type(est).__name__}(probability=True): "
                         "libsvm in Core ML returns Platt's probability directly (coremltools' own converter warns of "
                         "it), scikit-learn's libsvm couples the pair like a multiclass problem (breast cancer, "
                         "held-out rows: 3.3e-3 apart)",
                         fix="build without --targets coreml for a binary SVC")
    outputs = classifier_outputs(_classes(source))
    m = model(_input(x), outputs)
    svm = m.supportVectorClassifier
    _svm_common(est, svm)
    svm.numberOfSupportVectorsPerClass.extend(int(n) for n in est.n_support_)
    for row in np.asarray(est._dual_coef_, dtype=np.float64):
        svm.coefficients.add().alpha.extend(row.tolist())
    svm.rho.extend((-np.asarray(est._intercept_, dtype=np.float64)).tolist())
    svm.probA.extend(prob_a.tolist())
    svm.probB.extend(prob_b.tolist())
    set_class_labels(svm, _classes(source))
    return m, outputs


def _platt(est: Any) -> tuple[np.ndarray, np.ndarray]:
    """libsvm's probA/probB (empty without probability=True). scikit-learn 1.9 deprecates the public
    probA_/probB_ with probability=True itself; the private arrays it keeps are read first, so the build
    prints no deprecation warning of its own making."""
    a = getattr(est, "_probA", None)
    b = getattr(est, "_probB", None)
    if a is None or b is None:
        a, b = getattr(est, "probA_", []), getattr(est, "probB_", [])
    return np.asarray(a, dtype=np.float64).reshape(-1), np.asarray(b, dtype=np.float64).reshape(-1)


def svr(est: Any, x: Any, source: Any) -> tuple[Any, list[Any]]:
    """value = sum_i alpha_i K(sv_i, x) - rho, in double (libsvm)."""
    outputs = [feature("value", "double")]
    m = model(_input(x), outputs)
    svm = m.supportVectorRegressor
    _svm_common(est, svm)
    svm.coefficients.alpha.extend(np.asarray(est._dual_coef_, dtype=np.float64).reshape(-1).tolist())
    svm.rho = float(-np.asarray(est._intercept_, dtype=np.float64).reshape(-1)[0])
    return m, outputs
