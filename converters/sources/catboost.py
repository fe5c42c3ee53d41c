"""CatBoost: CatBoostClassifier/CatBoostRegressor (alone or last in a scikit-learn Pipeline, through the
scikit-learn source) and model files (`save_model`, .cbm).

CatBoost's trees are oblivious (one split per level, shared by every node of the level): a row's leaf is
`sum_j (x[f_j] > border_j) << j` over the tree's splits in order. Features are compared as float32 with
float32 borders. NaN follows the feature's `nan_value_treatment`: AsTrue (nan_mode='Max') counts the
condition true, AsFalse and AsIs count it false. Each oblivious tree is unrolled into an ordinary tree
(left = condition false), so every target reads the same arrays as for XGBoost and LightGBM.
The trees are read from CatBoost's own JSON export, which writes the doubles it holds.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ...runtime.errors import ModelError
from .boosted_trees import BoostedEnsemble, TreeArrays, TreeBuilder
from .booster_source import BoosterSource

# loss function -> link (what CatBoostClassifier.predict_proba / CatBoostRegressor.predict return)
OBJECTIVES: dict[str, str] = {
    "Logloss": "sigmoid",
    "CrossEntropy": "sigmoid",
    "MultiClass": "softmax",
    "RMSE": "identity",
    "MAE": "identity",
    "Quantile": "identity",
    "Poisson": "exp",
    "Tweedie": "exp",
}


def _unroll(splits: list[tuple[int, float, bool]], leaves: np.ndarray, target: int) -> TreeArrays:
    """An oblivious tree as an ordinary binary tree. splits[j] = (feature, border, NaN counts true)."""
    tree = TreeBuilder()

    def node(level: int, index: int) -> int:
        if level < 0:
            return tree.leaf(float(leaves[index]))
        feature, border, nan_true = splits[level]
        # the deepest split is the highest bit of the leaf index: unroll from the last split down
        i = tree.split(feature, border, not nan_true)
        tree.children(i, node(level - 1, index), node(level - 1, index | (1 << level)))
        return i

    node(len(splits) - 1, 0)
    return tree.build(target)


def _loss(model: Any) -> str:
    return str(model.get_all_params()["loss_function"]).split(":")[0]


def read(model: Any) -> BoostedEnsemble:
    """The trees of a CatBoost model (any of its classes). Raises ModelError for what cannot be read."""
    loss = _loss(model)
    link = OBJECTIVES.get(loss)
    if link is None:
        raise ModelError(f"CatBoost loss function {loss!r} is not supported", fix=f"supported: {', '.join(OBJECTIVES)}")
    fd, tmp = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    try:
        model.save_model(tmp, format="json")
        with open(tmp) as handle:
            dump = json.load(handle)
    finally:
        os.unlink(tmp)
    info = dump["features_info"]
    if info.get("categorical_features"):
        # CatBoost's trees split on CTR features: target statistics per hash of a category or of a
        # combination of categories (and of binarised numbers), computed by CatBoost's own hashing; there is no
        # set of categories per split to read, and no target has that hash.
        raise ModelError("CatBoost models with categorical features (cat_features) are not supported: their splits test "
                         "CTR features, target statistics looked up by CatBoost's hash of category combinations, "
                         "which no exported tree can reproduce exactly",
                         fix="encode the categories in a scikit-learn Pipeline before CatBoost (OneHotEncoder, "
                             "OrdinalEncoder), or use XGBoost/LightGBM native categories on integer codes")
    if info.get("text_features") or info.get("embedding_features"):
        raise ModelError("CatBoost models with text or embedding features are not supported yet",
                         fix="vectorise the text in a scikit-learn Pipeline before CatBoost")
    floats = {f["flat_feature_index"]: f for f in info.get("float_features", [])}
    if "oblivious_trees" not in dump:
        raise ModelError("CatBoost non-symmetric trees (grow_policy Depthwise/Lossguide) are not supported yet",
                         fix="train with the default grow_policy='SymmetricTree'")
    scale, bias = dump.get("scale_and_bias", [1.0, [0.0]])
    bias = np.atleast_1d(np.asarray(bias, dtype=np.float64))
    n_targets = len(bias) if link == "softmax" else 1
    trees: list[TreeArrays] = []
    for tree in dump["oblivious_trees"]:
        splits = []
        for s in tree["splits"]:
            if s["split_type"] != "FloatFeature":
                raise ModelError(f"CatBoost split type {s['split_type']} is not supported")
            f = int(s["float_feature_index"])
            splits.append((f, float(s["border"]), floats.get(f, {}).get("nan_value_treatment") == "AsTrue"))
        values = np.asarray(tree["leaf_values"], dtype=np.float64) * float(scale)
        per_leaf = values.reshape(-1, n_targets)  # leaf-major: leaf i's value for class c at i * n_targets + c
        trees.extend(_unroll(splits, per_leaf[:, c], c) for c in range(n_targets))
    n_features = max([f["flat_feature_index"] for f in floats.values()], default=-1) + 1
    return BoostedEnsemble(trees, n_features, n_targets, bias[:n_targets], "<=", link, "float32", "catboost", loss)


def prediction_type(link: str) -> str:
    """What CatBoostClassifier/CatBoostRegressor's own predict gives for this link."""
    return {"sigmoid": "Probability", "softmax": "Probability", "exp": "Exponent"}.get(link, "RawFormulaVal")


class CatBoostSource(BoosterSource):
    """A CatBoost model saved with save_model (.cbm). The reference is what CatBoostClassifier.predict_proba
    or CatBoostRegressor.predict return (an exponent for Poisson and Tweedie)."""

    @classmethod
    def load(cls, path: Path) -> CatBoostSource:
        import catboost

        model = catboost.CatBoost()
        try:
            model.load_model(str(path))
        except Exception as exc:  # CatBoostError for a file it cannot parse
            raise ModelError(f"cannot load the CatBoost model: {exc}", where=str(path),
                             fix="pass a model written by CatBoost's save_model (.cbm)") from exc
        ensemble = read(model)
        kind = prediction_type(ensemble.link)
        names = list(model.feature_names_) if model.feature_names_ else None
        if names and names == [str(i) for i in range(len(names))]:  # CatBoost's names for unnamed columns
            names = None
        classes = [c.item() if isinstance(c, np.generic) else c for c in model.classes_] if ensemble.link in (
            "sigmoid", "softmax") and getattr(model, "classes_", None) is not None and len(model.classes_) else None

        def predict(X: np.ndarray) -> np.ndarray:
            out = np.asarray(model.predict(X, prediction_type=kind))
            return out[:, 1] if ensemble.link == "sigmoid" and out.ndim == 2 else out

        return cls("catboost", catboost.__version__, "catboost.CatBoost", path, ensemble, predict, names, classes)
