"""VotingClassifier/Regressor and StackingClassifier/Regressor as a nested Core ML pipeline: each member
built by its own FINAL_MODELS builder, then rewritten to give an array instead of a class dictionary
(GLMClassifier -> GLMRegressor with the same Logit, NeuralNetworkClassifier -> NeuralNetwork,
TreeEnsembleClassifier -> TreeEnsembleRegressor), and a combiner:

    voting (soft)   FeatureVectorizer of the members' probabilities -> GLMRegressor (the weighted average,
                    double) -> NeuralNetworkClassifier with one linear(1, 0) activation (float32): Core ML's
                    only way to turn an array into the class dictionary
    voting (reg.)   FeatureVectorizer of the members' values -> GLMRegressor (weighted average, double)
    stacking        FeatureVectorizer of the members' predict_proba (first column dropped for two classes,
                    as scikit-learn) or predictions (+ the input with passthrough) -> the final estimator's
                    own builder

A member whose Core ML model has no array form (SupportVectorClassifier: libsvm's probabilities come only
as a dictionary; one-vs-rest GLMClassifier normalisation) is refused by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ....runtime.errors import ModelError
from .proto import classifier_outputs, feature, model, set_class_labels
from .sklearn_5_families import REFUSED


@dataclass
class Part:
    """What a member's builder reads from the source: its task and classes (no sample: the build's
    sample is the ensemble's input, not a member's)."""

    task: str
    classes: list[Any]


@dataclass
class Vec:
    name: str
    dim: int
    deferred: tuple = ()

    def column_ops(self) -> list[Any]:
        return [()] * self.dim


def _refuse(what: str) -> ModelError:
    return ModelError(f"the Core ML target cannot express {what}", fix="build without --targets coreml for this model")


def _member_array(m: Any, name: str, classes: int | None) -> tuple[list[Any], int]:
    """The member's model rewritten to give the array `name` (probabilities [classes], or the value [1]);
    returns the models (one, or two where a binary probability is widened to [1 - p, p]) and the dim."""
    kind = m.WhichOneof("Type")
    x = m.description.input[0]
    raw = name if classes is None else f"{name}_raw"
    out = model([x], [])
    dims = 1
    if kind in ("glmClassifier", "glmRegressor"):
        src = getattr(m, kind)
        if kind == "glmClassifier" and len(src.weights) != 1:
            raise _refuse("a one-vs-rest GLMClassifier as an ensemble member (its normalisation has no array form)")
        for w in src.weights:
            out.glmRegressor.weights.add().value.extend(w.value)
        out.glmRegressor.offset.extend(src.offset)
        # the two GLM messages number their transforms differently: copy by name
        transform = type(src).PostEvaluationTransform.Name(src.postEvaluationTransform)
        out.glmRegressor.postEvaluationTransform = type(out.glmRegressor).PostEvaluationTransform.Value(transform)
        dims = len(src.weights)
    elif kind in ("neuralNetworkClassifier", "neuralNetworkRegressor", "neuralNetwork"):
        src = getattr(m, kind)
        out.neuralNetwork.layers.extend(src.layers)
        last = out.neuralNetwork.layers[-1]
        blob = src.labelProbabilityLayerName if kind == "neuralNetworkClassifier" else last.output[0]
        if last.output[0] != blob:
            raise _refuse("a neural network member whose probabilities are not its last layer")
        last.output[0] = raw
        dims = classes if kind == "neuralNetworkClassifier" and classes is not None else 1
    elif kind in ("treeEnsembleClassifier", "treeEnsembleRegressor"):
        src = getattr(m, kind)
        out.treeEnsembleRegressor.treeEnsemble.CopyFrom(src.treeEnsemble)
        out.treeEnsembleRegressor.postEvaluationTransform = src.postEvaluationTransform
        dims = src.treeEnsemble.numPredictionDimensions
    elif kind == "supportVectorRegressor":
        out.supportVectorRegressor.CopyFrom(m.supportVectorRegressor)
    else:
        raise _refuse(f"a {kind} as an ensemble member (Core ML gives its result only as a class dictionary)")
    out.description.output.append(feature(raw, "array", dims))
    if classes is None or dims == classes:
        if classes is not None:
            out.description.output[0].name = name
            if out.WhichOneof("Type") == "neuralNetwork":
                out.neuralNetwork.layers[-1].output[0] = name
        return [out], dims
    if dims != 1 or classes != 2:
        raise _refuse(f"an ensemble member giving {dims} values for {classes} classes")
    widen = model([feature(raw, "array", 1)], [feature(name, "array", 2)])
    widen.glmRegressor.weights.add().value.append(-1.0)
    widen.glmRegressor.weights.add().value.append(1.0)
    widen.glmRegressor.offset.extend([1.0, 0.0])
    return [out, widen], 2


def _members(est: Any, x: Any, source: Any, builders: dict[str, Any]) -> list[tuple[Any, str, int, list[Any]]]:
    """(fitted member, output name, dim, models) per member, in the ensemble's order."""
    classify = source.task == "classification"
    part = Part(source.task, list(range(len(source.classes))) if classify else [])
    found = []
    for i, member in enumerate(est.estimators_):
        name = type(member).__name__
        builder = builders.get(name)
        if builder is None:
            raise _refuse(f"{type(est).__name__} with a {name} member ({REFUSED.get(name, 'no Core ML builder for it')})")
        m, _ = builder(member, x, part)
        models, dim = _member_array(m, f"__member_{i}", len(source.classes) if classify else None)
        found.append((member, f"__member_{i}", dim, models))
    return found


def vectorizer(parts: list[tuple[str, int]], out: str) -> Any:
    m = model([feature(n, "array", d) for n, d in parts], [feature(out, "array", sum(d for _, d in parts))])
    for n, d in parts:
        col = m.featureVectorizer.inputList.add()
        col.inputColumn, col.inputDimensions = n, d
    return m


def _weights(est: Any, count: int) -> np.ndarray:
    w = np.asarray(est._weights_not_none if est.weights is not None else np.ones(count), dtype=np.float64)
    return w / w.sum()


def container(x: Any, source: Any, models: list[Any]) -> tuple[Any, list[Any]]:
    classify = source.task == "classification"
    outputs = classifier_outputs(list(source.classes)) if classify else [feature("value", "double")]
    top = model([feature(x.name, "array", x.dim)], outputs)
    inner = top.pipelineClassifier.pipeline if classify else top.pipelineRegressor.pipeline
    inner.models.extend(models)
    top.specificationVersion = max(m.specificationVersion for m in models)
    return top, outputs


def voting(est: Any, x: Any, source: Any, builders: dict[str, Any]) -> tuple[Any, list[Any]]:
    classify = source.task == "classification"
    if classify and est.voting != "soft":
        raise _refuse("VotingClassifier(voting='hard') (no predict_proba to give)")
    members = _members(est, x, source, builders)
    k = len(source.classes) if classify else 1
    models = [m for *_, ms in members for m in ms]
    models.append(vectorizer([(n, d) for _, n, d, _ in members], "__members"))
    w = _weights(est, len(members))
    avg = model([feature("__members", "array", k * len(members))],
                [feature("__average" if classify else "value", "array" if classify else "double", k if classify else None)])
    for c in range(k):
        row = np.zeros(k * len(members))
        row[c::k] = w
        avg.glmRegressor.weights.add().value.extend(row.tolist())
    avg.glmRegressor.offset.extend([0.0] * k)
    models.append(avg)
    if classify:
        outputs = classifier_outputs(list(source.classes))
        to_dict = model([feature("__average", "array", k)], outputs)
        nn = to_dict.neuralNetworkClassifier
        layer = nn.layers.add()
        layer.name, layer.input[:], layer.output[:] = "probabilities", ["__average"], ["__probabilities"]
        layer.activation.linear.alpha, layer.activation.linear.beta = 1.0, 0.0
        nn.labelProbabilityLayerName = "__probabilities"
        set_class_labels(nn, list(source.classes))
        models.append(to_dict)
    return container(x, source, models)


def stacking(est: Any, x: Any, source: Any, builders: dict[str, Any]) -> tuple[Any, list[Any]]:
    classify = source.task == "classification"
    methods = getattr(est, "stack_method_", ["predict"] * len(est.estimators_))
    bad = [m for m in methods if m not in ("predict_proba", "predict")]
    if bad:
        raise _refuse(f"{type(est).__name__} stacking {bad[0]} outputs (only predict_proba / predict)")
    members = _members(est, x, source, builders)
    models = [m for *_, ms in members for m in ms]
    parts = []
    for i, (_, name, dim, _) in enumerate(members):
        if classify and len(source.classes) == 2 and methods[i] == "predict_proba":
            keep = model([feature(name, "array", dim)], [feature(f"{name}_p1", "array", 1)])
            keep.glmRegressor.weights.add().value.extend([0.0, 1.0])  # p1 exactly: 0 * p0 + 1 * p1
            keep.glmRegressor.offset.append(0.0)
            models.append(keep)
            parts.append((f"{name}_p1", 1))
        else:
            parts.append((name, dim))
    if est.passthrough:
        parts.append((x.name, x.dim))
    models.append(vectorizer(parts, "__meta"))
    final = est.final_estimator_
    builder = builders.get(type(final).__name__)
    if builder is None:
        raise _refuse(f"{type(est).__name__} with a {type(final).__name__} final estimator")
    last, _ = builder(final, Vec("__meta", sum(d for _, d in parts)), Part(source.task, list(source.classes)))
    models.append(last)
    return container(x, source, models)
