"""XGBoost: XGBClassifier/XGBRegressor (alone or last in a scikit-learn Pipeline, through the scikit-learn
source) and Booster files saved with `save_model` (.json, .ubj).

XGBoost rounds every feature to float32 and sends a row left when `x < split_condition` (a float32),
NaN to the node's `default_left` side. The trees are read from the model's own JSON (`save_raw("json")`),
whose float32 values print exactly; the base margin is measured from the booster (its stored
`base_score` is in output space and its transform changed across releases).
"""

from __future__ import annotations

import json
import math
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
    if any(int(s) != 0 for s in t["split_type"]):
        raise ModelError("XGBoost categorical splits (enable_categorical=True) are not supported yet",
                         fix="one-hot or ordinal-encode the categories in a scikit-learn Pipeline before XGBoost")
    left, right = t["left_children"], t["right_children"]
    leaf = [lc < 0 for lc in left]
    # JSON prints each float32 as its shortest decimal: round back to the float32 XGBoost holds.
    cond = np.asarray(t["split_conditions"], dtype=np.float32).astype(np.float64).tolist()
    return tree_from_lists(
        feature=[0 if is_leaf else f for f, is_leaf in zip(t["split_indices"], leaf)],
        threshold=[math.nan if is_leaf else c for c, is_leaf in zip(cond, leaf)],
        left=left, right=right,
        value=[c if is_leaf else 0.0 for c, is_leaf in zip(cond, leaf)],
        missing_left=[bool(d) for d in t["default_left"]], target=target)


def read(model: Any) -> BoostedEnsemble:
    """The trees of an XGBModel (scikit-learn API) or a Booster. Raises ModelError for what cannot be read."""
    import xgboost as xgb

    booster = model.get_booster() if hasattr(model, "get_booster") else model
    missing = getattr(model, "missing", math.nan)
    if missing is not None and not (isinstance(missing, float) and math.isnan(missing)):
        raise ModelError(f"XGBoost model with missing={missing!r}: only NaN as the missing value is supported",
                         fix="train with the default missing=numpy.nan")
    learner = json.loads(bytes(booster.save_raw("json")))["learner"]
    if "c" in (learner.get("feature_types") or []):
        raise ModelError("XGBoost categorical splits (enable_categorical=True, a feature of type 'c') are not supported yet",
                         fix="one-hot or ordinal-encode the categories in a scikit-learn Pipeline before XGBoost")
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
    margin = np.asarray(booster.predict(xgb.DMatrix(probe, feature_names=booster.feature_names), output_margin=True, iteration_range=rounds),
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
            return booster.predict(xgb.DMatrix(X, feature_names=names))

        return cls("xgboost", xgb.__version__, "xgboost.Booster", path, ensemble, predict, names)
