"""The registry of small test models: each entry builds a fitted model with its own data.

Every family the scikit-learn source supports appears here, so the matrix tests (family x format x
runtime) cover them all. Models are small (a few hundred rows, few trees) to keep `make test` fast;
they are rebuilt from seeds, never stored.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples" / "churn"))

NUMERIC = ["tenure_months", "senior_citizen", "monthly_charges", "total_charges", "support_calls", "data_gb"]
CATEGORICAL = ["contract", "internet_service", "payment_method"]


@dataclass(frozen=True)
class ZooModel:
    """A fitted model, its training sample and a held-out frame (both with the label column)."""

    name: str
    model: Any
    sample: Any
    holdout: Any
    label: str
    task: str
    fitted_on_frame: bool = True


def churn_frame(rows: int = 900, seed: int = 3) -> Any:
    from generate import generate

    frame = generate(rows, seed)
    frame["revenue"] = (frame.monthly_charges * 3.1 + frame.tenure_months * 0.7
                        + np.random.default_rng(seed).normal(0, 5, rows)).round(3)
    return frame


def _prepare(numeric_steps: list[tuple[str, Any]], categorical: Any, cat_columns: list[str] = CATEGORICAL) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    return ColumnTransformer([("num", Pipeline(numeric_steps), NUMERIC), ("cat", categorical, cat_columns)])


def _standard() -> list[tuple[str, Any]]:
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import StandardScaler

    return [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]


def _onehot() -> Any:
    from sklearn.preprocessing import OneHotEncoder

    return OneHotEncoder(handle_unknown="ignore")


def _fit(name: str, estimator: Any, task: str, prepare: Any | None = None, label: str | None = None) -> ZooModel:
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline

    frame = churn_frame()
    label = label or ("churn" if task == "classification" else "revenue")
    drop = ["churn", "revenue"]
    train, holdout = train_test_split(frame, test_size=0.3, random_state=0)
    features = [c for c in frame.columns if c not in drop]
    if label not in drop:  # a categorical column used as a multiclass label
        features.remove(label)
    model = Pipeline([("prepare", prepare if prepare is not None else _prepare(_standard(), _onehot())),
                      ("model", estimator)])
    model.fit(train[features], train[label])
    keep = features + [label]
    return ZooModel(name, model, train[keep].reset_index(drop=True), holdout[keep].reset_index(drop=True), label, task)


def _numpy_model(name: str, estimator: Any, task: str) -> ZooModel:
    """Fitted on a bare numpy array (no column names): the sample's header names the features."""
    import pandas as pd

    frame = churn_frame()
    cols = ["tenure_months", "monthly_charges", "support_calls", "data_gb"]
    frame = frame.dropna(subset=cols)
    label = "churn" if task == "classification" else "revenue"
    split = int(len(frame) * 0.7)
    train, holdout = frame.iloc[:split], frame.iloc[split:]
    estimator.fit(train[cols].to_numpy(), train[label].to_numpy())
    return ZooModel(name, estimator, pd.DataFrame(train[cols + [label]]).reset_index(drop=True),
                    pd.DataFrame(holdout[cols + [label]]).reset_index(drop=True), label, task, fitted_on_frame=False)


def _builders() -> dict[str, Callable[[], ZooModel]]:
    from sklearn import ensemble, linear_model, neural_network, tree
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import MinMaxScaler, OrdinalEncoder, RobustScaler

    c, r = "classification", "regression"
    small = {"n_estimators": 12, "random_state": 0}
    return {
        "logreg_binary": lambda: _fit("logreg_binary", linear_model.LogisticRegression(max_iter=500), c),
        "logreg_multiclass": lambda: _fit("logreg_multiclass", linear_model.LogisticRegression(max_iter=500), c,
                                          prepare=_prepare(_standard(), _onehot(), ["contract", "internet_service"]),
                                          label="payment_method"),
        "decision_tree_clf": lambda: _fit("decision_tree_clf", tree.DecisionTreeClassifier(max_depth=6, random_state=0), c),
        "random_forest_clf": lambda: _fit("random_forest_clf", ensemble.RandomForestClassifier(max_depth=6, **small), c),
        "extra_trees_clf": lambda: _fit("extra_trees_clf", ensemble.ExtraTreesClassifier(max_depth=6, **small), c),
        "gradient_boosting_clf": lambda: _fit("gradient_boosting_clf", ensemble.GradientBoostingClassifier(max_depth=3, **small), c),
        "hist_gradient_boosting_clf": lambda: _fit(
            "hist_gradient_boosting_clf", ensemble.HistGradientBoostingClassifier(max_iter=15, random_state=0), c,
            prepare=_prepare([("scale", MinMaxScaler())], OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1))),
        "mlp_clf": lambda: _fit("mlp_clf", neural_network.MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0), c,
                                prepare=_prepare([("impute", SimpleImputer()), ("scale", RobustScaler())], _onehot())),
        "linear_regression": lambda: _fit("linear_regression", linear_model.LinearRegression(), r),
        "ridge": lambda: _fit("ridge", linear_model.Ridge(alpha=1.0), r),
        "lasso": lambda: _fit("lasso", linear_model.Lasso(alpha=0.05), r,
                              prepare=_prepare([("impute", SimpleImputer(strategy="mean")), ("scale", MinMaxScaler())], _onehot())),
        "decision_tree_reg": lambda: _fit("decision_tree_reg", tree.DecisionTreeRegressor(max_depth=6, random_state=0), r),
        "random_forest_reg": lambda: _fit("random_forest_reg", ensemble.RandomForestRegressor(max_depth=6, **small), r),
        "extra_trees_reg": lambda: _fit("extra_trees_reg", ensemble.ExtraTreesRegressor(max_depth=6, **small), r),
        "gradient_boosting_reg": lambda: _fit("gradient_boosting_reg", ensemble.GradientBoostingRegressor(max_depth=3, **small), r),
        "hist_gradient_boosting_reg": lambda: _fit("hist_gradient_boosting_reg",
                                                   ensemble.HistGradientBoostingRegressor(max_iter=15, random_state=0), r),
        "mlp_reg": lambda: _fit("mlp_reg", neural_network.MLPRegressor(hidden_layer_sizes=(16,), max_iter=400, random_state=0), r),
        "numpy_logreg": lambda: _numpy_model("numpy_logreg", linear_model.LogisticRegression(max_iter=500), c),
        "numpy_random_forest_reg": lambda: _numpy_model("numpy_random_forest_reg", ensemble.RandomForestRegressor(max_depth=5, **small), r),
    }


FAMILIES = [
    "logreg_binary", "logreg_multiclass", "decision_tree_clf", "random_forest_clf", "extra_trees_clf",
    "gradient_boosting_clf", "hist_gradient_boosting_clf", "mlp_clf", "linear_regression", "ridge", "lasso",
    "decision_tree_reg", "random_forest_reg", "extra_trees_reg", "gradient_boosting_reg",
    "hist_gradient_boosting_reg", "mlp_reg", "numpy_logreg", "numpy_random_forest_reg",
]

_CACHE: dict[str, ZooModel] = {}


def get(name: str) -> ZooModel:
    """The fitted zoo model `name` (built once per process)."""
    if name not in _CACHE:
        _CACHE[name] = _builders()[name]()
    return _CACHE[name]


def save(zoo: ZooModel, directory: Path) -> tuple[Path, Path]:
    """Write the model (joblib) and its sample (CSV); return their paths."""
    import joblib

    directory.mkdir(parents=True, exist_ok=True)
    model_path = directory / f"{zoo.name}.joblib"
    sample_path = directory / f"{zoo.name}_sample.csv"
    joblib.dump(zoo.model, model_path)
    zoo.sample.to_csv(sample_path, index=False)
    return model_path, sample_path
