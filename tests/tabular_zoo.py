"""Small models on real data sets bundled with scikit-learn (breast cancer, wine, diabetes, iris), for the
tabular matrix: held-out rows, missing values (5 % of training cells, 10 % of held-out cells) and, where a
column is categorical, categories the training never saw. Models are rebuilt from seeds, never stored.

Each case says how its model is saved: `joblib` (the scikit-learn API, alone or last in a Pipeline) or the
library's own file (`json`/`ubj` for XGBoost, `txt` for LightGBM, `cbm` for CatBoost).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

LABEL = "target"


@dataclass(frozen=True)
class TabularCase:
    name: str
    model: Any
    train: Any  # features + LABEL
    holdout: Any  # features + LABEL, rows the model never saw
    task: str
    save_as: str = "joblib"

    @property
    def features(self) -> list[str]:
        return [c for c in self.train.columns if c != LABEL]

    def expected(self, frame: Any) -> np.ndarray:
        """The original model's output on `frame`: probabilities [N, C] or values [N]."""
        X = frame[self.features]
        if self.save_as != "joblib" or not _fitted_on_frame(self.model):
            X = X.to_numpy(dtype=np.float64)
        if self.task == "classification":
            return np.asarray(self.model.predict_proba(X), dtype=np.float64)
        return np.asarray(self.model.predict(X), dtype=np.float64).reshape(-1)


def _fitted_on_frame(model: Any) -> bool:
    return hasattr(model, "feature_names_in_") or type(model).__name__.startswith("CatBoost")


def real_frame(loader: str, categorical: bool = False, seed: int = 0) -> tuple[Any, Any]:
    """(train, holdout) of a scikit-learn data set with clean column names and missing cells. With
    `categorical`, diabetes' `sex` becomes a string column and holdout rows get an unseen category."""
    import sklearn.datasets as ds
    from sklearn.model_selection import train_test_split

    frame = getattr(ds, f"load_{loader}")(as_frame=True).frame
    frame.columns = [str(c).replace(" ", "_").replace("(", "").replace(")", "").replace("/", "_") for c in frame.columns]
    rng = np.random.default_rng(seed)
    features = [c for c in frame.columns if c != LABEL]
    if categorical:
        frame["sex"] = np.where(frame["sex"] > 0, "male", "female").astype(object)
    train, holdout = train_test_split(frame, test_size=0.3, random_state=seed)
    train, holdout = train.reset_index(drop=True), holdout.reset_index(drop=True)
    numeric = [c for c in features if c != "sex" or not categorical]
    train[numeric] = train[numeric].mask(rng.random((len(train), len(numeric))) < 0.05)
    holdout[numeric] = holdout[numeric].mask(rng.random((len(holdout), len(numeric))) < 0.10)
    if categorical:
        holdout.loc[holdout.index[::9], "sex"] = "unrecorded"  # a category the training never saw
    return train, holdout


def _fit(name: str, model: Any, loader: str, task: str, save_as: str = "joblib", categorical: bool = False) -> TabularCase:
    train, holdout = real_frame(loader, categorical)
    X = train.drop(columns=[LABEL])
    model.fit(X if save_as == "joblib" else X.to_numpy(dtype=np.float64), train[LABEL])
    return TabularCase(name, model, train, holdout, task, save_as)


def _scaled(estimator: Any) -> Any:
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler()), ("model", estimator)])


def _with_categories(estimator: Any) -> Any:
    """diabetes with `sex` as strings: one-hot (unknown ignored) beside scaled numbers, then the booster."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = ["age", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    prepare = ColumnTransformer([("num", StandardScaler(), numeric),
                                 ("cat", OneHotEncoder(handle_unknown="ignore"), ["sex"])])
    return Pipeline([("prepare", prepare), ("model", estimator)])


def _builders() -> dict[str, Callable[[], TabularCase]]:
    import catboost as cb
    import lightgbm as lgb
    import xgboost as xgb

    c, r = "classification", "regression"
    xs = {"n_estimators": 15, "max_depth": 3, "random_state": 0}
    ls = {"n_estimators": 15, "num_leaves": 8, "random_state": 0, "verbose": -1}
    cs = {"iterations": 15, "depth": 3, "random_seed": 0, "verbose": 0, "thread_count": 1}
    return {
        "xgb_binary_breast_cancer": lambda: _fit("xgb_binary_breast_cancer", xgb.XGBClassifier(**xs), "breast_cancer", c),
        "xgb_softmax_wine_pipeline": lambda: _fit("xgb_softmax_wine_pipeline", _scaled(xgb.XGBClassifier(**xs)), "wine", c),
        "xgb_softmax_iris_booster_json": lambda: _fit("xgb_softmax_iris_booster_json", xgb.XGBClassifier(**xs), "iris", c, "json"),
        "xgb_squared_diabetes_categories": lambda: _fit("xgb_squared_diabetes_categories", _with_categories(xgb.XGBRegressor(**xs)),
                                                        "diabetes", r, categorical=True),
        "xgb_poisson_diabetes": lambda: _fit("xgb_poisson_diabetes", xgb.XGBRegressor(objective="count:poisson", **xs), "diabetes", r),
        "xgb_tweedie_diabetes_booster_ubj": lambda: _fit("xgb_tweedie_diabetes_booster_ubj",
                                                         xgb.XGBRegressor(objective="reg:tweedie", **xs), "diabetes", r, "ubj"),
        "lgb_binary_breast_cancer_pipeline": lambda: _fit("lgb_binary_breast_cancer_pipeline", _scaled(lgb.LGBMClassifier(**ls)),
                                                          "breast_cancer", c),
        "lgb_softmax_wine": lambda: _fit("lgb_softmax_wine", lgb.LGBMClassifier(**ls), "wine", c),
        "lgb_squared_diabetes_categories": lambda: _fit("lgb_squared_diabetes_categories", _with_categories(lgb.LGBMRegressor(**ls)),
                                                        "diabetes", r, categorical=True),
        "lgb_poisson_diabetes_booster_txt": lambda: _fit("lgb_poisson_diabetes_booster_txt",
                                                         lgb.LGBMRegressor(objective="poisson", **ls), "diabetes", r, "txt"),
        "lgb_tweedie_diabetes": lambda: _fit("lgb_tweedie_diabetes", lgb.LGBMRegressor(objective="tweedie", **ls), "diabetes", r),
        "lgb_binary_breast_cancer_booster_txt": lambda: _fit("lgb_binary_breast_cancer_booster_txt", lgb.LGBMClassifier(**ls),
                                                             "breast_cancer", c, "txt"),
        "cb_binary_breast_cancer": lambda: _fit("cb_binary_breast_cancer", cb.CatBoostClassifier(**cs), "breast_cancer", c),
        "cb_softmax_wine_cbm": lambda: _fit("cb_softmax_wine_cbm", cb.CatBoostClassifier(loss_function="MultiClass", **cs),
                                            "wine", c, "cbm"),
        "cb_squared_diabetes_categories": lambda: _fit("cb_squared_diabetes_categories", _with_categories(cb.CatBoostRegressor(**cs)),
                                                       "diabetes", r, categorical=True),
        "cb_poisson_diabetes_cbm": lambda: _fit("cb_poisson_diabetes_cbm", cb.CatBoostRegressor(loss_function="Poisson", **cs),
                                                "diabetes", r, "cbm"),
        "cb_tweedie_diabetes_pipeline": lambda: _fit("cb_tweedie_diabetes_pipeline",
                                                     _scaled(cb.CatBoostRegressor(loss_function="Tweedie:variance_power=1.5", **cs)),
                                                     "diabetes", r),
    }


BOOSTING = [
    "xgb_binary_breast_cancer", "xgb_softmax_wine_pipeline", "xgb_softmax_iris_booster_json",
    "xgb_squared_diabetes_categories", "xgb_poisson_diabetes", "xgb_tweedie_diabetes_booster_ubj",
    "lgb_binary_breast_cancer_pipeline", "lgb_softmax_wine", "lgb_squared_diabetes_categories",
    "lgb_poisson_diabetes_booster_txt", "lgb_tweedie_diabetes", "lgb_binary_breast_cancer_booster_txt",
    "cb_binary_breast_cancer", "cb_softmax_wine_cbm", "cb_squared_diabetes_categories", "cb_poisson_diabetes_cbm",
    "cb_tweedie_diabetes_pipeline",
]

_CACHE: dict[str, TabularCase] = {}


def get(name: str) -> TabularCase:
    if name not in _CACHE:
        _CACHE[name] = _builders()[name]()
    return _CACHE[name]


def save(case: TabularCase, directory: Path) -> tuple[Path, Path]:
    """Write the model (joblib or the library's own format) and its training sample (CSV)."""
    import joblib

    directory.mkdir(parents=True, exist_ok=True)
    model_path = directory / f"{case.name}.{case.save_as}"
    if case.save_as == "joblib":
        joblib.dump(case.model, model_path)
    elif case.save_as in ("json", "ubj"):
        case.model.save_model(str(model_path))
    elif case.save_as == "txt":
        case.model.booster_.save_model(str(model_path))
    else:
        case.model.save_model(str(model_path))
    sample_path = directory / f"{case.name}_sample.csv"
    case.train.to_csv(sample_path, index=False)
    return model_path, sample_path
