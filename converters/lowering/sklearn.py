"""scikit-learn pipelines lowered to TensorFlow: preprocessing (columns.py) + one lowering per
estimator family (the FAMILIES table), each a small physical operator in the manner of Hummingbird.

Tree families (read by sources/trees.py) compare the raw inputs with folded thresholds (trees.py, tree_ops.py); linear models and
MLPs run the preprocessing in float32 (their outputs move smoothly with rounding, well inside 1e-5).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ...runtime.errors import ModelError
from ...runtime.records import FLOAT64_PARTS
from ..sources.sklearn import BOOSTERS, TREE_FAMILIES
from ..sources.trees import read
from . import TFGraph, input_spec, naive_bayes, neighbors, svm, two_float
from .columns import Block, Column, input_columns, transformed_tensor
from .steps import interp
from .trees import ensemble_tensor, needs_parts


def _linear(tf: Any, x: Any, cols: list[Column], final: Any, options: dict[str, Any], notes: list[str]) -> Any:
    z = transformed_tensor(tf, x, cols)
    coef = np.atleast_2d(final.coef_).astype(np.float32)  # [K, F]
    out = tf.matmul(z, coef.T) + np.atleast_1d(final.intercept_).astype(np.float32)
    if not hasattr(final, "classes_"):
        return out
    if coef.shape[0] == 1:
        p = tf.math.sigmoid(out)
        return tf.concat([1.0 - p, p], axis=1)
    if getattr(final, "solver", "") == "liblinear":  # one-vs-rest: normalised sigmoids
        p = tf.math.sigmoid(out)
        return p / tf.reduce_sum(p, axis=1, keepdims=True)
    return tf.nn.softmax(out, axis=1)


ACTIVATIONS: dict[str, Callable[[Any, Any], Any]] = {
    "relu": lambda tf, v: tf.nn.relu(v),
    "tanh": lambda tf, v: tf.math.tanh(v),
    "logistic": lambda tf, v: tf.math.sigmoid(v),
    "identity": lambda tf, v: v,
}


def _mlp(tf: Any, x: Any, cols: list[Column], final: Any, options: dict[str, Any], notes: list[str]) -> Any:
    v = transformed_tensor(tf, x, cols)
    layers = list(zip(final.coefs_, final.intercepts_))
    for i, (w, b) in enumerate(layers):
        v = tf.matmul(v, w.astype(np.float32)) + b.astype(np.float32)
        if i < len(layers) - 1:
            v = ACTIVATIONS[final.activation](tf, v)
    out = final.out_activation_
    if out == "logistic":
        p = tf.math.sigmoid(v)
        return tf.concat([1.0 - p, p], axis=1) if hasattr(final, "classes_") else p
    if out == "softmax":
        return tf.nn.softmax(v, axis=1)
    return v


def _trees(tf: Any, x: Any, cols: list[Column], final: Any, options: dict[str, Any], notes: list[str]) -> Any:
    return ensemble_tensor(tf, x, cols, read(final), options, notes)


def input_dtype(final: Any, cols: list[Column]) -> str:
    """The input tensor's dtype in the manifest (contract 2): float64 parts for a tree model whose
    decisions a float32 input cannot carry (trees.needs_parts says which), float32 otherwise."""
    if FAMILIES.get(type(final).__name__) is _trees and needs_parts(read(final), cols):
        return FLOAT64_PARTS
    return "float32"


def _decision(tf: Any, z: Any, model: Any) -> Any:
    """A linear classifier's decision_function: [N] for binary (positive for classes_[1]), else [N, K]."""
    out = tf.matmul(z, np.atleast_2d(model.coef_).T.astype(np.float32)) + np.atleast_1d(model.intercept_).astype(np.float32)
    return out[:, 0] if out.shape[1] == 1 else out


def _linear_scores(tf: Any, x: Any, cols: list[Column], final: Any, options: dict[str, Any], notes: list[str]) -> Any:
    """Linear classifiers beyond LogisticRegression (LinearSVC, SGDClassifier, Perceptron, RidgeClassifier):
    predict_proba where scikit-learn has it (SGD's log_loss and modified_huber), else the decision scores
    as the package's probabilities ([-d, d] for binary: argmax is predict), as the ONNX target does; those
    scores are summed in float32 pairs (two_float.py) where the preprocessing allows it."""
    if not hasattr(final, "predict_proba") and two_float.eligible(cols):
        d = two_float.linear(tf, x, cols, final.coef_, final.intercept_)
        return tf.concat([-d, d], axis=1) if d.shape[1] == 1 else d
    d = _decision(tf, transformed_tensor(tf, x, cols), final)
    binary = len(d.shape) == 1
    loss = getattr(final, "loss", None)
    if not hasattr(final, "predict_proba"):
        return tf.stack([-d, d], axis=1) if binary else d
    if loss == "log_loss":
        p = tf.math.sigmoid(d)
        return tf.stack([1.0 - p, p], axis=1) if binary else p / tf.reduce_sum(p, axis=1, keepdims=True)
    # modified_huber: (clip(d, -1, 1) + 1) / 2, normalised; a row of zeros is uniform
    p = (tf.clip_by_value(d, -1.0, 1.0) + 1.0) / 2.0
    if binary:
        return tf.stack([1.0 - p, p], axis=1)
    total = tf.reduce_sum(p, axis=1, keepdims=True)
    uniform = tf.ones_like(p) / float(p.shape[1])
    return tf.where(tf.equal(total, 0.0), uniform, p / tf.where(tf.equal(total, 0.0), tf.ones_like(total), total))


def _response(tf: Any, x: Any, cols: list[Column], est: Any, methods: tuple[str, ...], options: dict[str, Any],
              notes: list[str]) -> tuple[str, Any]:
    """(method, output) of an ensemble member, by the first of `methods` it has, as scikit-learn picks it:
    decision_function ([N] binary or [N, K]), predict_proba ([N, K]) or a regressor's predict ([N])."""
    name = type(est).__name__
    family = FAMILIES.get(name)
    if family is None:
        raise ModelError(f"no TensorFlow lowering for {name} (inside an ensemble)",
                         fix=f"TFLite/TF.js cover: {', '.join(sorted(FAMILIES))}")
    for method in methods:
        if not hasattr(est, method):
            continue
        if method == "predict_proba" or (method == "predict" and not hasattr(est, "classes_")):
            out = family(tf, x, cols, est, options, notes)
            return method, tf.reshape(out, [-1]) if method == "predict" else out
        if method == "decision_function" and hasattr(est, "coef_"):
            return method, _decision(tf, transformed_tensor(tf, x, cols), est)
        if method == "decision_function" and name in ("SVC", "NuSVC"):
            return method, svm.decision_function(tf, transformed_tensor(tf, x, cols), est)
        raise ModelError(f"{name}.{method} inside an ensemble is not supported in TFLite/TF.js")
    raise ModelError(f"{name} has none of {', '.join(methods)}")


def _calibrated(tf: Any, x: Any, cols: list[Column], final: Any, options: dict[str, Any], notes: list[str]) -> Any:
    """CalibratedClassifierCV: the mean over its calibrated classifiers of each one's calibrated
    probabilities (sigmoid: expit(-(a f + b)); isotonic: interpolation, clipped), normalised as
    scikit-learn does (binary: 1 - p; else divided by the sum, uniform where that is 0)."""
    k = len(final.classes_)
    total: Any = None
    for cc in final.calibrated_classifiers_:
        if cc.method not in ("sigmoid", "isotonic"):
            raise ModelError(f"CalibratedClassifierCV(method={cc.method!r}) is not supported in TFLite/TF.js",
                             fix="use method='sigmoid' or 'isotonic'")
        _, pred = _response(tf, x, cols, cc.estimator, ("decision_function", "predict_proba"), options, notes)
        pred = tf.reshape(pred, [-1, 1]) if len(pred.shape) == 1 else pred
        positions = np.searchsorted(np.asarray(cc.classes), np.asarray(cc.estimator.classes_))
        columns = [None] * k
        for c, (idx, calibrator) in enumerate(zip(positions, cc.calibrators)):
            f = pred[:, c]
            if cc.method == "sigmoid":
                columns[idx + (1 if k == 2 else 0)] = tf.math.sigmoid(-(np.float32(calibrator.a_) * f + np.float32(calibrator.b_)))
            else:
                xp, fp = np.asarray(calibrator.X_thresholds_)[None], np.asarray(calibrator.y_thresholds_)[None]
                columns[idx + (1 if k == 2 else 0)] = interp(tf, tf.reshape(f, [-1, 1]), xp, fp)[:, 0]
        zero = tf.zeros_like(pred[:, 0])
        proba = tf.stack([c if c is not None else zero for c in columns], axis=1)
        if k == 2:
            proba = tf.stack([1.0 - proba[:, 1], proba[:, 1]], axis=1)
        else:
            s = tf.reduce_sum(proba, axis=1, keepdims=True)
            proba = tf.where(tf.equal(s, 0.0), tf.ones_like(proba) / float(k),
                             proba / tf.where(tf.equal(s, 0.0), tf.ones_like(s), s))
        total = proba if total is None else total + proba
    return total / float(len(final.calibrated_classifiers_))


def _members(final: Any) -> list[Any]:
    return [e for e in final.estimators_ if not (isinstance(e, str) and e == "drop")]


def _voting(tf: Any, x: Any, cols: list[Column], final: Any, options: dict[str, Any], notes: list[str]) -> Any:
    """VotingClassifier(voting='soft'): weighted mean of the members' predict_proba; VotingRegressor:
    weighted mean of their predictions (np.average)."""
    classifier = hasattr(final, "classes_")
    if classifier and final.voting != "soft":
        raise ModelError("VotingClassifier(voting='hard') has no predict_proba to package", fix="use voting='soft'")
    method = ("predict_proba",) if classifier else ("predict",)
    outs = [_response(tf, x, cols, est, method, options, notes)[1] for est in _members(final)]
    weights = final._weights_not_none
    w = np.ones(len(outs)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = (w / w.sum()).astype(np.float32)
    total = outs[0] * w[0]
    for out, weight in zip(outs[1:], w[1:]):
        total = total + out * weight
    return total


def _stacking(tf: Any, x: Any, cols: list[Column], final: Any, options: dict[str, Any], notes: list[str]) -> Any:
    """Stacking*: the members' outputs by their stack_method_ (a binary predict_proba keeps its second
    column), plus the input columns when passthrough, feed the final estimator as one block."""
    classifier = hasattr(final, "classes_")
    members = [(est, m) for est, m in zip(final.estimators_, final.stack_method_) if not (isinstance(est, str) and est == "drop")]

    def meta(tf: Any, x: Any) -> Any:
        parts = []
        for est, method in members:
            _, out = _response(tf, x, cols, est, (method,), options, notes)
            if len(out.shape) == 1:
                out = tf.reshape(out, [-1, 1])
            elif method == "predict_proba" and classifier and len(final.classes_) == 2:
                out = out[:, 1:]
            parts.append(out)
        if final.passthrough:
            parts.append(transformed_tensor(tf, x, cols))
        return tf.concat(parts, axis=1)

    inner = final.final_estimator_
    block = Block(type(final).__name__, int(inner.n_features_in_), meta)
    _, out = _response(tf, x, block.columns(), inner, ("predict_proba",) if classifier else ("predict",), options, notes)
    return out


# final estimator class name -> lowering(tf, x, columns, estimator, options, notes) -> [N, outputs]
FAMILIES: dict[str, Callable[..., Any]] = {
    "LogisticRegression": _linear,
    "LinearRegression": _linear,
    "Ridge": _linear,
    "Lasso": _linear,
    "MLPClassifier": _mlp,
    "MLPRegressor": _mlp,
    **{name: _trees for name in sorted(TREE_FAMILIES)},
    # issue 18: the rest of scikit-learn
    "LinearSVC": _linear_scores,
    "SGDClassifier": _linear_scores,
    "Perceptron": _linear_scores,
    "RidgeClassifier": _linear_scores,
    "LinearSVR": _linear,
    "SGDRegressor": _linear,
    "ElasticNet": _linear,
    "HuberRegressor": _linear,
    "SVC": svm.lower,
    "SVR": svm.lower,
    "KNeighborsClassifier": neighbors.lower,
    "KNeighborsRegressor": neighbors.lower,
    "GaussianNB": naive_bayes.lower,
    "MultinomialNB": naive_bayes.lower,
    "BernoulliNB": naive_bayes.lower,
    "CalibratedClassifierCV": _calibrated,
    "VotingClassifier": _voting,
    "VotingRegressor": _voting,
    "StackingClassifier": _stacking,
    "StackingRegressor": _stacking,
    **{name: _trees for name in sorted(BOOSTERS)},  # XGBoost, LightGBM, CatBoost: read by sources/trees.py
}


def lower(source: Any, schema: Any, options: dict[str, Any]) -> TFGraph:
    """The scikit-learn model as a TFGraph. Raises ModelError naming what is not covered."""
    import tensorflow as tf

    final = source.final
    family = FAMILIES.get(type(final).__name__)
    if family is None:
        raise ModelError(f"no TensorFlow lowering for {type(final).__name__}",
                         fix=f"TFLite/TF.js cover: {', '.join(sorted(FAMILIES))}")
    cols = input_columns(source, schema)
    # a booster's own count (CatBoost's n_features_in_ reads 0 after fitting on an array)
    takes = source.ensemble.n_features if source.ensemble is not None else int(getattr(final, "n_features_in_", len(cols)))
    if len(cols) != takes:
        raise ModelError(f"the preprocessing gives {len(cols)} columns but {type(final).__name__} takes {takes}")
    notes: list[str] = []
    regression = source.task == "regression"

    def call(x: Any) -> dict[str, Any]:
        out = family(tf, x, cols, final, options, notes)
        return {"value": tf.reshape(out, [-1])} if regression else {"probabilities": out}

    dtype = input_dtype(final, cols)
    function = tf.function(call, input_signature=[input_spec(len(schema.features), dtype)], autograph=False)
    function.get_concrete_function()  # trace now: lowering errors surface here, notes get filled
    return TFGraph(function=function, features=list(schema.names), outputs=["value" if regression else "probabilities"],
                   notes=notes, dtype=dtype)
