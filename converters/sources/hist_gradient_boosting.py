"""scikit-learn's HistGradientBoosting with native categorical features, read into plain tree arrays.

skl2onnx writes HistGradientBoosting's categorical splits as numeric thresholds (its graph then fails the
build's own check: 0.03 off on diabetes), so a model with `categorical_features` goes through edgepack's
TreeEnsemble writer instead (targets/onnx_boosting.py), whose opset-5 BRANCH_MEMBER nodes hold each split's
categories. scikit-learn predicts from float64 values: `x <= num_threshold` goes left; at a categorical split
the value's code (from the model's own ordinal encoding) goes left when in the node's bitset; NaN and
values unknown at fit time follow `missing_go_to_left`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...runtime.errors import ModelError
from .boosted_trees import BoostedEnsemble, TreeArrays

# scikit-learn loss class -> link of predict_proba / predict
LOSSES: dict[str, str] = {
    "HalfBinomialLoss": "sigmoid",
    "HalfMultinomialLoss": "softmax",
    "HalfSquaredError": "identity",
    "AbsoluteError": "identity",
    "PinballLoss": "identity",
    "HalfPoissonLoss": "exp",
    "HalfGammaLoss": "exp",
}


def has_native_categories(model: Any) -> bool:
    mask = getattr(model, "is_categorical_", None)
    return type(model).__name__.startswith("HistGradientBoosting") and mask is not None and bool(np.any(mask))


def _bitset_members(bitset: np.ndarray) -> np.ndarray:
    """The category codes a 256-bit bitset (8 x uint32) holds."""
    words = [int(w) for w in np.asarray(bitset)]
    return np.array([c for c in range(32 * len(words)) if (words[c // 32] >> (c % 32)) & 1], dtype=np.int64)


def _column_plan(model: Any) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """scikit-learn (>= 1.4) runs the input through `_preprocessor` first: categorical columns ordinal-encoded
    (an unknown value becomes NaN, i.e. missing) and moved in front. Returns, per preprocessed column, the
    original column index, and per categorical preprocessed column the raw value of each code."""
    pre = getattr(model, "_preprocessor", None)
    n = int(model.n_features_in_)
    if pre is None:
        return np.arange(n), {}
    original = np.empty(n, dtype=np.int64)
    values: dict[int, np.ndarray] = {}
    for name, transformer, mask in pre.transformers_:
        if name == "remainder" or transformer == "drop":
            continue
        where = pre.output_indices_[name]
        columns = np.flatnonzero(mask) if np.asarray(mask).dtype == bool else np.asarray(mask)
        original[where] = columns
        for j, cats in zip(range(where.start, where.stop), getattr(transformer, "categories_", [])):
            if np.asarray(cats).dtype.kind not in "iuf":
                raise ModelError(f"{type(model).__name__} fitted on pandas category columns of text "
                                 "(categorical_features='from_dtype') is not supported yet",
                                 fix="put an OrdinalEncoder before it in a Pipeline and pass categorical_features "
                                     "as the encoded columns' indices")
            values[j] = np.asarray(cats, dtype=np.float64)
    return original, values


def _tree(predictor: Any, target: int, original: np.ndarray, values: dict[int, np.ndarray]) -> TreeArrays:
    nodes = predictor.nodes
    leaf = nodes["is_leaf"].astype(bool)
    # node fields are unsigned: signed copies first, or -1 wraps around (numpy 2 keeps the array's type)
    feature = np.where(leaf, 0, original[nodes["feature_idx"].astype(np.int64)]).astype(np.int64)
    left = np.where(leaf, -1, nodes["left"].astype(np.int64))
    right = np.where(leaf, -1, nodes["right"].astype(np.int64))
    missing_left = nodes["missing_go_to_left"].astype(bool)
    cats: dict[int, np.ndarray] = {}
    for i in np.flatnonzero(nodes["is_categorical"].astype(bool) & ~leaf):
        raw = values[int(nodes["feature_idx"][i])]
        codes = _bitset_members(predictor.raw_left_cat_bitsets[nodes["bitset_idx"][i]])
        left_values = raw[codes[codes < len(raw)]]
        if missing_left[i]:
            # An unknown value is missing to scikit-learn and follows missing_go_to_left; a member set
            # cannot say "not known", so the node tests the right child's values instead, children swapped.
            cats[int(i)] = np.setdiff1d(raw, left_values)
            left[i], right[i] = right[i], left[i]
            missing_left[i] = False
        else:
            cats[int(i)] = left_values
    return TreeArrays(feature, np.where(leaf, np.nan, nodes["num_threshold"]).astype(np.float64), left, right,
                      np.where(leaf, nodes["value"], 0.0).astype(np.float64), missing_left, target, cats or None)


def read(model: Any) -> BoostedEnsemble:
    """The trees of a fitted HistGradientBoostingClassifier/Regressor. Raises ModelError for an unknown loss."""
    loss = type(model._loss).__name__
    link = LOSSES.get(loss)
    if link is None:
        raise ModelError(f"{type(model).__name__} with loss {loss} is not supported", fix=f"losses: {', '.join(LOSSES)}")
    original, values = _column_plan(model)
    per_round = int(model.n_trees_per_iteration_)
    trees = [_tree(p, k, original, values) for stage in model._predictors for k, p in enumerate(stage)]
    base = np.asarray(model._baseline_prediction, dtype=np.float64).reshape(-1)
    n_targets = per_round if link == "softmax" else 1
    return BoostedEnsemble(trees, int(model.n_features_in_), n_targets, base[:n_targets], "<=", link, "float64",
                           "scikit-learn", loss)
