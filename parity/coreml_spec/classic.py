"""Classic (non-neural) Core ML model types, each as the specification documents it.

FeatureVectorizer  concatenates its inputs in inputList order; a scalar contributes one value, an
                   array `inputDimensions` values.
Imputer            replaces values equal to replaceValue (NaN compares by isnan) with the imputed value
                   (per position for imputedDoubleArray; strings: replaceStringValue -> imputedStringValue).
Scaler             output = (input + shiftValue) * scaleValue, elementwise.
OneHotEncoder      an array with 1.0 at the category's position in the category list; an unknown
                   category gives all zeros (IgnoreUnknown) or an error (ErrorOnUnknown).
CategoricalMapping maps string -> int64 (or int64 -> string); an unknown key gives ValueOnUnknown, or is
                   an error when none is set.
GLMRegressor       y_k = weights_k . x + offset_k, then NoTransform, Logit (1 / (1 + e^-y)) or Probit (Phi).
GLMClassifier      z_k = weights_k . x + offset_k, then Logit or Probit. Two classes and one weight row
                   (either encoding): p(second class) = T(z), p(first) = 1 - p(second). OneVsRest with
                   one row per class: p_k = T(z_k), normalised to sum to 1.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .values import SpecError, as_columns, class_labels, classifier_result, feature_kind


def _only_output(model: Any) -> str:
    return model.description.output[0].name


def feature_vectorizer(model: Any, feeds: dict[str, Any]) -> dict[str, Any]:
    parts = []
    for col in model.featureVectorizer.inputList:
        value = as_columns(feeds[col.inputColumn])
        if value.shape[1] != col.inputDimensions:
            raise SpecError(f"FeatureVectorizer: {col.inputColumn} has {value.shape[1]} values, inputDimensions says {col.inputDimensions}")
        parts.append(value)
    return {_only_output(model): np.concatenate(parts, axis=1)}


def imputer(model: Any, feeds: dict[str, Any]) -> dict[str, Any]:
    spec = model.imputer
    x = feeds[model.description.input[0].name]
    which = spec.WhichOneof("ImputedValue")
    if which == "imputedStringValue":
        if spec.WhichOneof("ReplaceValue") != "replaceStringValue":
            raise SpecError("a string Imputer needs replaceStringValue")
        values = np.asarray(x, dtype=object)
        return {_only_output(model): np.where(values == spec.replaceStringValue, spec.imputedStringValue, values)}
    if which == "imputedDoubleArray":
        fill = np.asarray(spec.imputedDoubleArray.vector, dtype=np.float64)
    elif which == "imputedDoubleValue":
        fill = np.float64(spec.imputedDoubleValue)
    else:
        raise SpecError(f"Imputer with {which} is outside the supported subset")
    x = np.asarray(x, dtype=np.float64)
    replace = spec.replaceDoubleValue if spec.WhichOneof("ReplaceValue") == "replaceDoubleValue" else math.nan
    mask = np.isnan(x) if math.isnan(replace) else (x == replace)
    return {_only_output(model): np.where(mask, np.broadcast_to(fill, x.shape), x)}


def scaler(model: Any, feeds: dict[str, Any]) -> dict[str, Any]:
    x = np.asarray(feeds[model.description.input[0].name], dtype=np.float64)
    shift = np.asarray(model.scaler.shiftValue, dtype=np.float64) if len(model.scaler.shiftValue) else 0.0
    scale = np.asarray(model.scaler.scaleValue, dtype=np.float64) if len(model.scaler.scaleValue) else 1.0
    return {_only_output(model): (x + shift) * scale}


def one_hot_encoder(model: Any, feeds: dict[str, Any]) -> dict[str, Any]:
    spec = model.oneHotEncoder
    if spec.outputSparse:
        raise SpecError("OneHotEncoder with outputSparse is outside the supported subset")
    which = spec.WhichOneof("CategoryType")
    cats = list(getattr(spec, which).vector)
    index = {c: i for i, c in enumerate(cats)}
    values = feeds[model.description.input[0].name]
    out = np.zeros((len(values), len(cats)), dtype=np.float64)
    for row, v in enumerate(values):
        key = str(v) if which == "stringCategories" else int(v)
        pos = index.get(key)
        if pos is not None:
            out[row, pos] = 1.0
        elif spec.handleUnknown == spec.ErrorOnUnknown:
            raise SpecError(f"OneHotEncoder: unknown category {v!r} (ErrorOnUnknown)")
    return {_only_output(model): out}


def categorical_mapping(model: Any, feeds: dict[str, Any]) -> dict[str, Any]:
    spec = model.categoricalMapping
    which = spec.WhichOneof("MappingType")
    mapping = dict(getattr(spec, which).map)
    unknown_kind = spec.WhichOneof("ValueOnUnknown")
    default = getattr(spec, unknown_kind) if unknown_kind else None
    values = feeds[model.description.input[0].name]
    out = []
    for v in values:
        key = str(v) if which == "stringToInt64Map" else int(v)
        if key in mapping:
            out.append(mapping[key])
        elif default is not None:
            out.append(default)
        else:
            raise SpecError(f"CategoricalMapping: unknown key {v!r} and no ValueOnUnknown")
    dtype = np.int64 if which == "stringToInt64Map" else object
    return {_only_output(model): np.asarray(out, dtype=dtype)}


def _glm_scores(spec: Any, x: np.ndarray) -> np.ndarray:
    weights = np.asarray([list(w.value) for w in spec.weights], dtype=np.float64)  # [K, F]
    offset = np.asarray(spec.offset, dtype=np.float64) if len(spec.offset) else np.zeros(len(weights))
    if weights.shape[1] != x.shape[1]:
        raise SpecError(f"GLM weights have {weights.shape[1]} inputs, the feature has {x.shape[1]}")
    return x @ weights.T + offset


def _link(name: str, z: np.ndarray) -> np.ndarray:
    if name == "Logit":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "Probit":
        from math import erf

        return 0.5 * (1.0 + np.vectorize(erf)(z / math.sqrt(2.0)))
    return z


def glm_regressor(model: Any, feeds: dict[str, Any]) -> dict[str, Any]:
    spec = model.glmRegressor
    x = as_columns(feeds[model.description.input[0].name])
    y = _link(spec.PostEvaluationTransform.Name(spec.postEvaluationTransform), _glm_scores(spec, x))
    out = model.description.output[0]
    return {out.name: y[:, 0] if feature_kind(out.type) == "double" else y}


def glm_classifier(model: Any, feeds: dict[str, Any]) -> dict[str, Any]:
    spec = model.glmClassifier
    labels = class_labels(spec)
    x = as_columns(feeds[model.description.input[0].name])
    p = _link(spec.PostEvaluationTransform.Name(spec.postEvaluationTransform), _glm_scores(spec, x))
    if p.shape[1] == 1 and len(labels) == 2:  # binary, either encoding: the row scores the second class
        probs = np.concatenate([1.0 - p, p], axis=1)
    elif spec.classEncoding == spec.OneVsRest and p.shape[1] == len(labels):
        probs = p / p.sum(axis=1, keepdims=True)
    else:
        raise SpecError(f"GLMClassifier with {p.shape[1]} weight rows for {len(labels)} classes is outside the supported subset")
    return classifier_result(model.description, labels, probs)
