"""The final estimator of a scikit-learn model as a Core ML model: one table, one builder per family.

Linear models become GLMClassifier/GLMRegressor (double precision, like scikit-learn), except
multinomial logistic regression: GLMClassifier has no softmax, so it becomes a NeuralNetworkClassifier
(inner product + softmax), as do MLPs. Trees live in sklearn_4_trees.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ....runtime.errors import ModelError
from . import sklearn_5_families as more
from . import sklearn_6_step_trees as step_trees
from . import sklearn_7_ensembles as ensembles
from . import sklearn_9_svc_scores as svc_scores
from .proto import classifier_outputs, feature, model, set_class_labels
from .sklearn_4_trees import tree_model


def _classes(source: Any) -> list[Any]:
    return list(source.classes)


def logistic_regression(est: Any, x: Any, source: Any) -> tuple[Any, list[Any]]:
    coef = np.asarray(est.coef_, dtype=np.float64)
    intercept = np.asarray(est.intercept_, dtype=np.float64).reshape(-1)
    if coef.shape[0] > 1:
        return neural_network([coef.T], [intercept], "identity", "softmax", x, source)
    outputs = classifier_outputs(_classes(source))
    m = model([feature(x.name, "array", x.dim)], outputs)
    glm = m.glmClassifier
    glm.weights.add().value.extend(coef[0].tolist())
    glm.offset.append(float(intercept[0]))
    glm.postEvaluationTransform = glm.Logit
    # One weight row for two classes: p(second class) = logistic(w.x + b), p(first) = 1 - that. OneVsRest
    # is the encoding coremltools' own (version-gated) converter uses for binary logistic regression.
    glm.classEncoding = glm.OneVsRest
    set_class_labels(glm, _classes(source))
    return m, outputs


def linear_regression(est: Any, x: Any, source: Any) -> tuple[Any, list[Any]]:
    coef = np.asarray(est.coef_, dtype=np.float64).reshape(-1)
    intercept = float(np.asarray(est.intercept_, dtype=np.float64).reshape(-1)[0])
    outputs = [feature("value", "double")]
    m = model([feature(x.name, "array", x.dim)], outputs)
    m.glmRegressor.weights.add().value.extend(coef.tolist())
    m.glmRegressor.offset.append(intercept)
    return m, outputs


_ACTIVATIONS = {"relu": "ReLU", "tanh": "tanh", "logistic": "sigmoid", "identity": None}


def neural_network(weights: list[np.ndarray], biases: list[np.ndarray], hidden: str, out: str, x: Any,
                   source: Any) -> tuple[Any, list[Any]]:
    """Dense layers (weights[i] is [inputs, outputs], scikit-learn's layout) with `hidden` activations and
    an `out` activation (softmax, logistic, identity), as a NeuralNetworkClassifier/Regressor (float32)."""
    weights, biases = list(weights), list(biases)
    if out == "logistic" and weights[-1].shape[1] == 1:
        # Binary: softmax([0, z]) = [1 - logistic(z), logistic(z)], so the output stays a 2-class softmax.
        weights[-1] = np.concatenate([np.zeros_like(weights[-1]), weights[-1]], axis=1)
        biases[-1] = np.concatenate([np.zeros(1), biases[-1]])
        out = "softmax"
    classify = source.task == "classification"
    outputs = classifier_outputs(_classes(source)) if classify else [feature("value", "array", 1)]
    m = model([feature(x.name, "array", x.dim)], outputs)
    nn = m.neuralNetworkClassifier if classify else m.neuralNetworkRegressor
    current = x.name
    for i, (w, b) in enumerate(zip(weights, biases)):
        last = i == len(weights) - 1
        act = out if last else hidden
        if act not in _ACTIVATIONS and act != "softmax":
            raise ModelError(f"the Core ML target has no {act!r} activation", fix="use relu, tanh, logistic or identity")
        final_name = "value" if last and not classify else None
        layer = nn.layers.add()
        layer.name = f"dense_{i}"
        layer.input.append(current)
        current = final_name if final_name and act == "identity" else f"dense_{i}"
        layer.output.append(current)
        ip = layer.innerProduct
        ip.inputChannels, ip.outputChannels = int(w.shape[0]), int(w.shape[1])
        ip.hasBias = True
        ip.weights.floatValue.extend(np.asarray(w.T, dtype=np.float32).reshape(-1).tolist())  # [out, in] row-major
        ip.bias.floatValue.extend(np.asarray(b, dtype=np.float32).tolist())
        if act == "identity":
            continue
        nxt = nn.layers.add()
        nxt.input.append(current)
        if act == "softmax":
            nxt.name, current = "softmax", "class_scores"
            nxt.softmax.SetInParent()
        else:
            nxt.name, current = f"{act}_{i}", final_name or f"{act}_{i}"
            getattr(nxt.activation, _ACTIVATIONS[act]).SetInParent()
        nxt.output.append(current)
    if classify:
        nn.labelProbabilityLayerName = current
        set_class_labels(nn, _classes(source))
    return m, outputs


def mlp(est: Any, x: Any, source: Any) -> tuple[Any, list[Any]]:
    return neural_network([np.asarray(w, dtype=np.float64) for w in est.coefs_],
                          [np.asarray(b, dtype=np.float64) for b in est.intercepts_],
                          est.activation, est.out_activation_, x, source)


def _trees(est: Any, x: Any, source: Any) -> tuple[Any, list[Any]]:
    return tree_model(est, x, source)


# scikit-learn class name -> builder(estimator, input vector, source) -> (Model, output descriptions)
FINAL_MODELS: dict[str, Callable[[Any, Any, Any], tuple[Any, list[Any]]]] = {
    "LogisticRegression": logistic_regression,
    "LinearRegression": linear_regression,
    "Ridge": linear_regression,
    "Lasso": linear_regression,
    "MLPClassifier": mlp,
    "MLPRegressor": mlp,
    **{name: _trees for name in (
        "DecisionTreeClassifier", "DecisionTreeRegressor", "RandomForestClassifier", "RandomForestRegressor",
        "ExtraTreesClassifier", "ExtraTreesRegressor", "GradientBoostingClassifier", "GradientBoostingRegressor",
        "HistGradientBoostingClassifier", "HistGradientBoostingRegressor")},
    # issue 18 (sklearn_5_families.py): each family with its Core ML model type there
    "LinearSVR": more.glm_regressor,
    "SGDRegressor": more.glm_regressor,
    "ElasticNet": more.glm_regressor,
    "HuberRegressor": more.glm_regressor,
    "SGDClassifier": more.sgd_classifier,
    "LinearSVC": more.score_classifier,
    "Perceptron": more.score_classifier,
    "RidgeClassifier": more.score_classifier,
    "SVC": svc_scores.svc_any,
    "SVR": more.svr,
    "MultinomialNB": more.multinomial_nb,
    "GaussianNB": more.gaussian_nb,
    "CalibratedClassifierCV": more.calibrated,
    "BernoulliNB": step_trees.bernoulli_nb,
    **{name: lambda est, x, source: ensembles.voting(est, x, source, FINAL_MODELS)
       for name in ("VotingClassifier", "VotingRegressor")},
    **{name: lambda est, x, source: ensembles.stacking(est, x, source, FINAL_MODELS)
       for name in ("StackingClassifier", "StackingRegressor")},
}
# Builders whose NeuralNetwork gets the float16/int8/palette variants: probabilities from hidden layers or a
# softmax. The other NeuralNetwork builders (decision scores, naive Bayes, calibration) stay float32 only:
# their outputs are scores or sums of large terms that reduced weights move far past any profile.
VARIANT_BUILDERS = ("mlp", "logistic_regression")
# Families Core ML cannot express -> the reason (the build's message and docs/support.md's)
REFUSED = more.REFUSED


def final_model(est: Any, x: Any, source: Any) -> tuple[Any, list[Any]]:
    name = type(est).__name__
    builder = FINAL_MODELS.get(name)
    if builder is None and name in REFUSED:
        raise ModelError(f"the Core ML target cannot express {name}: {REFUSED[name]}",
                         fix="build without --targets coreml for this model")
    if builder is None:
        raise ModelError(f"the Core ML target has no builder for {name}", fix=f"supported: {', '.join(sorted(FINAL_MODELS))}")
    return builder(est, x, source)
