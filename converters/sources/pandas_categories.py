"""LightGBM's and XGBoost's scikit-learn estimators fitted on pandas category columns, as a Pipeline the
converters take.

Fitted on a DataFrame, LGBMClassifier/LGBMRegressor turn each category column into its pandas codes and
store every such column's categories in the model (`pandas_categorical`); at predict time a value outside
them becomes missing. Its trees then split on the codes like any `categorical_feature` model. So the package
is built from the equivalent Pipeline: one OrdinalEncoder per category column with the model's own
categories (unknown and missing both -1: LightGBM sends a missing code, and so an unknown category, to the
right of every categorical split, as it does a negative one) in front of a copy of the estimator whose
booster has forgotten `pandas_categorical` (it is then an ordinary integer-coded model). Records carry the
strings (contract 2); the reference stays the library itself, predicting from category columns
(`as_categorical`), as the user's own code does.

XGBoost (enable_categorical on category columns of text) stores each column's categories in the model
(`cats`: UTF-8 bytes and offsets) and maps a frame's categories onto them at predict time; the codes are their
positions. A missing category takes each split's default side; a category it never saw makes XGBoost 3.2 raise
("Found a category not in the training set"), and the package sends it the missing way (OrdinalEncoder's unknown
and missing values both NaN). The copy of the estimator has the stored categories removed, so it reads codes.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import numpy as np

from ...runtime.errors import ModelError

LIGHTGBM = ("LGBMClassifier", "LGBMRegressor")
XGBOOST = ("XGBClassifier", "XGBRegressor")


def _categorical_indices(booster: Any) -> list[int]:
    """The feature indices LightGBM treats as categorical, from the parameters stored in the model."""
    found = re.search(r"^\[categorical_feature: ([0-9,]*)\]$", booster.model_to_string(), re.MULTILINE)
    return [int(i) for i in found.group(1).split(",") if i] if found else []


def codes_pipeline(model: Any, where: str) -> tuple[Any, dict[str, list[Any]]] | None:
    """(Pipeline of ordinal codes -> the estimator on codes, column -> its categories) for an LGBM estimator
    fitted on pandas category columns; None for any other model."""
    fitted = getattr(model, "__sklearn_is_fitted__", lambda: False)
    if type(model).__name__ in XGBOOST and fitted():
        return _xgboost(model, where)
    if type(model).__name__ not in LIGHTGBM or not fitted():
        return None
    categories = getattr(model.booster_, "pandas_categorical", None)
    if not categories:
        return None
    import lightgbm as lgb

    names = [str(n) for n in model.feature_names_in_]
    indices = _categorical_indices(model.booster_)
    if len(indices) != len(categories):
        raise ModelError("LightGBM fitted on pandas category columns beside other categorical_feature columns (or on "
                         "ordered categories) is not supported: which categories belong to which column is not recorded",
                         where=where, fix="pass every categorical column as a pandas category column (unordered), "
                                          "or every one as integer codes with categorical_feature=[...]")
    columns = {names[i]: list(cats) for i, cats in zip(indices, categories)}
    booster = lgb.Booster(model_str=model.booster_.model_to_string())
    booster.pandas_categorical = None  # the copy reads codes, as the Pipeline gives them
    on_codes = copy.copy(model)
    on_codes._Booster = booster
    return _pipeline(names, columns, -1, on_codes), columns


def _xgboost(model: Any, where: str) -> tuple[Any, dict[str, list[Any]]] | None:
    import json

    import xgboost as xgb

    raw = json.loads(bytes(model.get_booster().save_raw("json")))
    cats = raw["learner"]["gradient_booster"]["model"].get("cats") or {}
    names = [str(n) for n in model.get_booster().feature_names or []]
    columns: dict[str, list[Any]] = {}
    for name, enc in zip(names, cats.get("enc") or []):
        if not enc.get("values"):
            continue
        if "offsets" not in enc:
            raise ModelError(f"XGBoost fitted on a pandas category column of numbers ({name!r}) is not supported",
                             where=where, fix="make the column's categories text, or pass its integer codes with "
                                              "feature_types=['c', ...]")
        data, offsets = bytes(enc["values"]), enc["offsets"]
        columns[name] = [data[a:b].decode("utf-8") for a, b in zip(offsets, offsets[1:])]
    if not columns:
        return None
    raw["learner"]["gradient_booster"]["model"]["cats"] = {"enc": [], "feature_segments": [], "sorted_idx": []}
    booster = xgb.Booster()
    booster.load_model(bytearray(json.dumps(raw).encode()))  # the copy reads codes, as the Pipeline gives them
    on_codes = copy.copy(model)
    on_codes._Booster = booster
    return _pipeline(names, columns, np.nan, on_codes), columns


def _pipeline(names: list[str], columns: dict[str, list[Any]], unknown: float | int, estimator: Any) -> Any:
    """Ordinal codes of the category columns (the model's own categories; unknown and missing -> `unknown`),
    the other columns passed through in place, then the estimator."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    parts: list[tuple[str, Any, list[str]]] = []
    for k, name in enumerate(names):
        if name in columns:
            encode = OrdinalEncoder(categories=[columns[name]], handle_unknown="use_encoded_value", unknown_value=unknown,
                                    encoded_missing_value=unknown, dtype=np.float64)
            parts.append((f"code_{k}", encode, [name]))
        else:
            parts.append((f"number_{k}", "passthrough", [name]))
    longest = max(len(c) for c in columns.values())
    fit_frame = pd.DataFrame({name: (columns[name] * longest)[:longest] if name in columns else np.zeros(longest)
                              for name in names})
    return Pipeline([("codes", ColumnTransformer(parts).fit(fit_frame)), ("model", estimator)])


def as_categorical(frame: Any, columns: dict[str, list[Any]]) -> Any:
    """The frame with each category column as the pandas categories the model was fitted on (a value outside
    them missing), as the library's user passes it."""
    import pandas as pd

    out = frame.copy()
    for name, cats in columns.items():
        values = out[name].astype(object).where(out[name].isin(cats), None)
        out[name] = pd.Categorical(values, categories=cats)
    return out
