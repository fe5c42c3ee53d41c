"""XGBoost: XGBClassifier/XGBRegressor (alone or last in a scikit-learn Pipeline, through the scikit-learn
source) and Booster files saved with `save_model` (.json, .ubj).

XGBoost rounds every feature to float32 and sends a row left when `x < split_condition` (a float32),
NaN to the node's `default_left` side. At a categorical split (`enable_categorical`, a feature of type 'c')
the node's listed codes go right and every other value left (negative codes and codes beyond the node's
bitset included). The trees are read from the model's own JSON (`save_raw("json")`),
whose float32 values print exactly; the base margin is measured from the booster (its stored
`base_score` is in output space and its transform changed across releases).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ...runtime.errors import ModelError
from .boosted_trees import BoostedEnsemble, TreeArrays, raw_scores, tree_from_lists
from .booster_source import BoosterSource

# objective -> link applied to the margin (what XGBoost's own predict returns)
OBJECTIVES: dict[str, str] = {
    "binary:logistic": "sigmoid",
    "multi:softprob": "softmax",
    "reg:squarederror": "identity",
    "reg:absoluteerror": "identity",
    "reg:pseudohubererror": "identity",
    "count:poisson": "exp",
    "reg:tweedie": "exp",
    "reg:gamma": "exp",
}


def _tree(t: dict[str, Any], target: int) -> TreeArrays:
    if int(t["tree_param"].get("size_leaf_vector", "1")) > 1:
        raise ModelError("XGBoost multi-output trees (multi_strategy='multi_output_tree') are not supported",
                         fix="train with the default multi_strategy='one_output_per_tree'")
    left, right = t["left_children"], t["right_children"]
    leaf = [lc < 0 for lc in left]
    # JSON prints each float32 as its shortest decimal: round back to the float32 XGBoost holds.
    cond = np.asarray(t["split_conditions"], dtype=np.float32).astype(np.float64).tolist()
    missing_left = [bool(d) for d in t["default_left"]]
    members: dict[int, np.ndarray] = {}
    left, right = list(left), list(right)
    for k, node in enumerate(t.get("categories_nodes", [])):
        # enable_categorical: the listed codes go RIGHT, every other value left (a negative code, one beyond
        # the node's bitset, one never seen); NaN goes the default way. Member sets send their members
        # left, so the children are swapped.
        start, size = t["categories_segments"][k], t["categories_sizes"][k]
        members[int(node)] = np.asarray(sorted(t["categories"][start:start + size]), dtype=np.int64)
        left[node], right[node] = right[node], left[node]
        missing_left[node] = not missing_left[node]
        cond[node] = 0.0  # unused at a member split
    if sorted(members) != [i for i, s in enumerate(t["split_type"]) if int(s) != 0]:
        raise ModelError("an XGBoost tree's categorical splits do not match its categories_nodes",
                         fix="save the model again with this XGBoost version")
    arrays = tree_from_lists(
        feature=[0 if is_leaf else f for f, is_leaf in zip(t["split_indices"], leaf)],
        threshold=[math.nan if is_leaf else c for c, is_leaf in zip(cond, leaf)],
        left=left, right=right,
        value=[c if is_leaf else 0.0 for c, is_leaf in zip(cond, leaf)],
        missing_left=missing_left, target=target)
    return replace(arrays, left_categories=members) if members else arrays


def read(model: Any) -> BoostedEnsemble:
    """The trees of an XGBModel (scikit-learn API) or a Booster. Raises ModelError for what cannot be read."""
    import xgboost as xgb

    booster = model.get_booster() if hasattr(model, "get_booster") else model
    missing = getattr(model, "missing", math.nan)
    if missing is not None and not (isinstance(missing, float) and math.isnan(missing)):
        raise ModelError(f"XGBoost model with missing={missing!r}: only NaN as the missing value is supported",
                         fix="train with the default missing=numpy.nan")
    learner = json.loads(bytes(booster.save_raw("json")))["learner"]
    recoded = learner["gradient_booster"].get("model", {}).get("cats", {}).get("enc") or []
    if any(e.get("values") for e in recoded):
        # the scikit-learn estimator alone is rewritten first (sources/pandas_categories.py)
        raise ModelError("XGBoost fitted on pandas category columns is supported for an XGBClassifier/XGBRegressor "
                         "saved alone (.joblib), not as a Booster file or behind other Pipeline steps (the package "
                         "would have to map each category to the code XGBoost stored with the model)",
                         fix="save the fitted estimator itself with joblib, or pass the categories as integer codes "
                             "(0..k-1) with feature_types=['c', ...] and enable_categorical=True")
    booster_name = learner["gradient_booster"]["name"]
    if booster_name != "gbtree":
        raise ModelError(f"XGBoost booster {booster_name!r} is not supported (only gbtree)",
                         fix="train with booster='gbtree' (dart weights trees at training only; gblinear has no trees)")
    objective = learner["objective"]["name"]
    link = OBJECTIVES.get(objective)
    if link is None:
        raise ModelError(f"XGBoost objective {objective!r} is not supported",
                         fix=f"supported objectives: {', '.join(OBJECTIVES)}")
    gbm = learner["gradient_booster"]["model"]
    n_targets = max(1, int(learner["learner_model_param"]["num_class"]))
    n_features = int(learner["learner_model_param"]["num_feature"])
    # What predict uses: the best iteration after early stopping (scikit-learn API), else every tree.
    best = getattr(model, "best_iteration", None) if hasattr(model, "get_booster") else None
    indptr = gbm["iteration_indptr"]
    n_trees = indptr[best + 1] if best is not None else len(gbm["trees"])
    trees = [_tree(t, int(c)) for t, c in zip(gbm["trees"][:n_trees], gbm["tree_info"][:n_trees])]
    bare = BoostedEnsemble(trees, n_features, n_targets, np.zeros(n_targets), "<", link, "float32", "xgboost", objective)
    # The base margin: XGBoost's margin on a row of missing values minus the trees' own sum for that row.
    probe = np.full((1, n_features), np.nan, dtype=np.float32)
    rounds = (0, best + 1) if best is not None else (0, 0)
    margin = np.asarray(booster.predict(xgb.DMatrix(probe, feature_names=booster.feature_names, feature_types=booster.feature_types,
                                                        enable_categorical=True), output_margin=True, iteration_range=rounds),
                        dtype=np.float64).reshape(1, -1)
    base = (margin - raw_scores(bare, probe))[0]
    return BoostedEnsemble(trees, n_features, n_targets, base, "<", link, "float32", "xgboost", objective)


class XGBoostSource(BoosterSource):
    """An XGBoost Booster saved with save_model (.json or .ubj)."""

    @classmethod
    def load(cls, path: Path) -> XGBoostSource:
        import xgboost as xgb

        try:
            booster = xgb.Booster(model_file=str(path))
        except Exception as exc:  # xgboost raises XGBoostError for any file it cannot parse
            raise ModelError(f"cannot load the XGBoost model: {exc}", where=str(path),
                             fix="pass a model written by XGBoost's save_model (.json or .ubj)") from exc
        ensemble = read(booster)
        names = list(booster.feature_names) if booster.feature_names else None

        def predict(X: np.ndarray) -> np.ndarray:
            return booster.predict(xgb.DMatrix(X, feature_names=names, feature_types=booster.feature_types, enable_categorical=True))

        return cls("xgboost", xgb.__version__, "xgboost.Booster", path, ensemble, predict, names)
