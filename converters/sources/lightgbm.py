"""LightGBM: LGBMClassifier/LGBMRegressor (alone or last in a scikit-learn Pipeline, through the
scikit-learn source) and Booster text files (`save_model`, .txt).

LightGBM compares float64 features with float64 thresholds (`x <= threshold` goes left). At a categorical
split (`categorical_feature`, decision_type "==") the integer codes the node lists go left and every other
value right: NaN, negative codes and codes never seen in training included. Missing values
follow each split's `missing_type`: "NaN" sends NaN to the `default_left` side; "None" (the feature had
no NaN in training) turns NaN into 0.0 and compares that; "Zero" (zero_as_missing) sends 0 and NaN to
the default side, which a comparison can express only when 0 would go that way anyway.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...runtime.errors import ModelError
from .boosted_trees import BoostedEnsemble, TreeArrays, TreeBuilder
from .booster_source import BoosterSource

# objective (first word of LightGBM's objective string) -> link (what LightGBM's predict returns)
OBJECTIVES: dict[str, str] = {
    "binary": "sigmoid",
    "multiclass": "softmax",
    "regression": "identity",
    "regression_l1": "identity",
    "huber": "identity",
    "fair": "identity",
    "quantile": "identity",
    "poisson": "exp",
    "tweedie": "exp",
    "gamma": "exp",
}


def _flatten(root: dict[str, Any], target: int, scale: float) -> TreeArrays:
    tree = TreeBuilder()

    def visit(node: dict[str, Any]) -> int:
        if "leaf_value" in node or "split_feature" not in node:
            return tree.leaf(float(node.get("leaf_value", 0.0)) * scale)
        if node["decision_type"] == "==":
            # categorical_feature: the codes listed in the threshold ("1||3||4") go left; LightGBM sends NaN
            # and negative values right whatever the node's missing_type, and so does any code not listed
            codes = [int(c) for c in str(node["threshold"]).split("||")]
            i = tree.member_split(int(node["split_feature"]), codes, False)
            tree.children(i, visit(node["left_child"]), visit(node["right_child"]))
            return i
        t = float(node["threshold"])
        kind = node["missing_type"]
        if kind == "NaN":
            goes_left = bool(node["default_left"])
        elif kind == "None":
            goes_left = 0.0 <= t
        else:  # "Zero"
            goes_left = bool(node["default_left"])
            if goes_left != (0.0 <= t):
                raise ModelError("a LightGBM split with zero_as_missing sends 0 against its threshold; no comparison "
                                 "expresses that", fix="train without zero_as_missing=True")
        i = tree.split(int(node["split_feature"]), t, goes_left)
        tree.children(i, visit(node["left_child"]), visit(node["right_child"]))
        return i

    visit(root)
    return tree.build(target)


def read(model: Any) -> BoostedEnsemble:
    """The trees of an LGBMModel (scikit-learn API) or a Booster. Raises ModelError for what cannot be read."""
    booster = model.booster_ if hasattr(model, "booster_") else model
    # dump_model uses the best iteration after early stopping, as predict does.
    dump = booster.dump_model()
    if dump.get("pandas_categorical"):
        # the scikit-learn estimator alone is rewritten first (sources/pandas_categories.py); here: a Booster
        # file, or the estimator behind other steps, whose string -> code mapping the package cannot apply
        raise ModelError("LightGBM fitted on pandas category columns is supported for an LGBMClassifier/LGBMRegressor "
                         "saved alone (.joblib), not as a Booster file or behind other Pipeline steps (the package "
                         "would have to map each string to the code LightGBM stored in pandas_categorical)",
                         fix="save the fitted estimator itself with joblib, or pass the categories as integer codes "
                             "(0..k-1) with categorical_feature=[...]")
    words = dump["objective"].split()
    name = words[0]
    link = OBJECTIVES.get(name)
    if link is None:
        raise ModelError(f"LightGBM objective {dump['objective']!r} is not supported",
                         fix=f"supported objectives: {', '.join(OBJECTIVES)}")
    if dump.get("average_output"):
        raise ModelError("LightGBM random-forest mode (boosting='rf') is not supported", fix="train with boosting='gbdt'")
    if any(t.get("is_linear") or "leaf_coeff" in t.get("tree_structure", {}) for t in dump["tree_info"]):
        raise ModelError("LightGBM linear trees (linear_tree=True) are not supported", fix="train without linear_tree")
    params = dict(w.split(":", 1) for w in words[1:] if ":" in w)
    # binary's sigmoid parameter multiplies the raw score; folding it into the leaves keeps one link.
    scale = float(params.get("sigmoid", 1.0)) if name == "binary" else 1.0
    per_round = int(dump["num_tree_per_iteration"])
    trees = [_flatten(t["tree_structure"], i % per_round, scale) for i, t in enumerate(dump["tree_info"])]
    n_targets = per_round if link == "softmax" else 1
    return BoostedEnsemble(trees, int(dump["max_feature_idx"]) + 1, n_targets, np.zeros(n_targets), "<=", link,
                           "float64", "lightgbm", dump["objective"])


class LightGBMSource(BoosterSource):
    """A LightGBM Booster saved with save_model (a text file)."""

    @classmethod
    def load(cls, path: Path) -> LightGBMSource:
        import lightgbm as lgb

        try:
            booster = lgb.Booster(model_file=str(path))
        except Exception as exc:  # LightGBMError for a file it cannot parse
            raise ModelError(f"cannot load the LightGBM model: {exc}", where=str(path),
                             fix="pass a model written by LightGBM's Booster.save_model (text format)") from exc
        ensemble = read(booster)
        names = booster.feature_name()
        generic = names == [f"Column_{i}" for i in range(len(names))]  # LightGBM's names for unnamed columns
        def predict(X: np.ndarray) -> np.ndarray:
            return np.asarray(booster.predict(X))

        return cls("lightgbm", lgb.__version__, "lightgbm.Booster", path, ensemble, predict, None if generic else names)


def looks_like_model(path: Path) -> bool:
    """A LightGBM text model starts with the line 'tree'."""
    try:
        with open(path, "rb") as f:
            return f.readline().strip() == b"tree"
    except OSError:
        return False
