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
        if self.task == "classification" and not hasattr(self.model, "predict_proba"):  # scores: [-d, d] if binary
            d = np.asarray(self.model.decision_function(X), dtype=np.float64)
            return np.stack([-d, d], axis=1) if d.ndim == 1 else d
        if self.task == "classification":
            return np.asarray(self.model.predict_proba(X), dtype=np.float64)
        return np.asarray(self.model.predict(X), dtype=np.float64).reshape(-1)


def _fitted_on_frame(model: Any) -> bool:
    return hasattr(model, "feature_names_in_") or type(model).__name__.startswith("CatBoost")


def real_frame(loader: str, categorical: bool | str = False, seed: int = 0) -> tuple[Any, Any]:
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
    if categorical == "missing":  # missing categories (None) in training and held-out rows
        train.loc[train.index[::11], "sex"] = np.nan
        holdout.loc[holdout.index[1::7], "sex"] = np.nan
    return train, holdout


def _fit(name: str, model: Any, loader: str, task: str, save_as: str = "joblib", categorical: bool | str = False) -> TabularCase:
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


def _categories_with_missing(estimator: Any, how: str) -> Any:
    """diabetes with `sex` as strings, some missing: imputed (most frequent, or a constant), or one-hot
    encoded with the missing value as its own category, or one-hot with drop/infrequent categories."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = ["age", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    encoders = {
        "most_frequent": Pipeline([("impute", SimpleImputer(strategy="most_frequent")),
                                   ("onehot", OneHotEncoder(handle_unknown="ignore"))]),
        "constant": Pipeline([("impute", SimpleImputer(strategy="constant", fill_value="not_given")),
                              ("onehot", OneHotEncoder(handle_unknown="ignore"))]),
        "onehot_nan": OneHotEncoder(handle_unknown="ignore"),
        "onehot_drop": OneHotEncoder(drop="first", handle_unknown="ignore"),
        "onehot_infrequent": OneHotEncoder(min_frequency=0.2, handle_unknown="infrequent_if_exist"),
    }
    prepare = ColumnTransformer([("num", Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]), numeric),
                                 ("cat", encoders[how], ["sex"])])
    return Pipeline([("prepare", prepare), ("model", estimator)])


def _builders() -> dict[str, Callable[[], TabularCase]]:
    import catboost as cb
    import lightgbm as lgb
    import xgboost as xgb

    c, r = "classification", "regression"
    xs = {"n_estimators": 15, "max_depth": 3, "random_state": 0}
    ls = {"n_estimators": 15, "num_leaves": 8, "random_state": 0, "verbose": -1}
    cs = {"iterations": 15, "depth": 3, "random_seed": 0, "verbose": 0, "thread_count": 1, "allow_writing_files": False}
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
        "cb_squared_diabetes": lambda: _fit("cb_squared_diabetes", cb.CatBoostRegressor(**cs), "diabetes", r),
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

def _sklearn_builders() -> dict[str, Callable[[], TabularCase]]:
    from sklearn import ensemble, linear_model, naive_bayes, neighbors, svm
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.decomposition import PCA, TruncatedSVD
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import (
        KBinsDiscretizer,
        MinMaxScaler,
        PolynomialFeatures,
        PowerTransformer,
        QuantileTransformer,
        StandardScaler,
    )

    c, r = "classification", "regression"

    def steps(*parts: Any, impute: Any = None) -> Any:
        return Pipeline([("impute", impute or SimpleImputer()), *[(f"s{i}", p) for i, p in enumerate(parts)]])

    cases: dict[str, tuple[Any, str, str]] = {
        "svc_rbf_proba_breast_cancer": (steps(StandardScaler(), svm.SVC(probability=True, random_state=0)), "breast_cancer", c),
        "svc_linear_wine": (steps(StandardScaler(), svm.SVC(kernel="linear")), "wine", c),
        "svc_poly_iris": (steps(StandardScaler(), svm.SVC(kernel="poly", degree=3, probability=True, random_state=0)), "iris", c),
        "svr_rbf_diabetes": (steps(StandardScaler(), svm.SVR(C=50.0)), "diabetes", r),
        "linear_svc_breast_cancer": (steps(StandardScaler(), svm.LinearSVC()), "breast_cancer", c),
        "sgd_log_loss_wine": (steps(StandardScaler(), linear_model.SGDClassifier(loss="log_loss", random_state=0)), "wine", c),
        "sgd_hinge_breast_cancer": (steps(StandardScaler(), linear_model.SGDClassifier(random_state=0)), "breast_cancer", c),
        "perceptron_iris": (steps(StandardScaler(), linear_model.Perceptron(random_state=0)), "iris", c),
        "knn_clf_wine": (steps(StandardScaler(), neighbors.KNeighborsClassifier(n_neighbors=5)), "wine", c),
        "knn_reg_diabetes": (steps(StandardScaler(), neighbors.KNeighborsRegressor(n_neighbors=7)), "diabetes", r),
        "gaussian_nb_breast_cancer": (steps(naive_bayes.GaussianNB()), "breast_cancer", c),
        "multinomial_nb_wine": (steps(MinMaxScaler(), naive_bayes.MultinomialNB()), "wine", c),
        "bernoulli_nb_breast_cancer": (steps(StandardScaler(), naive_bayes.BernoulliNB()), "breast_cancer", c),
        "ridge_pca_diabetes": (steps(StandardScaler(), PCA(n_components=6), linear_model.Ridge()), "diabetes", r),
        "elastic_net_poly_diabetes": (steps(StandardScaler(), PolynomialFeatures(2), linear_model.ElasticNet(alpha=0.05)), "diabetes", r),
        "huber_power_diabetes": (steps(PowerTransformer(), linear_model.HuberRegressor(max_iter=500)), "diabetes", r),
        "logreg_quantile_breast_cancer": (steps(QuantileTransformer(n_quantiles=100), linear_model.LogisticRegression(max_iter=500)),
                                          "breast_cancer", c),
        "logreg_kbins_wine": (steps(KBinsDiscretizer(n_bins=4, encode="onehot-dense", quantile_method="averaged_inverted_cdf"),
                                    linear_model.LogisticRegression(max_iter=500)), "wine", c),
        "logreg_truncated_svd_breast_cancer": (steps(StandardScaler(), TruncatedSVD(n_components=8, random_state=0),
                                                     linear_model.LogisticRegression(max_iter=500)), "breast_cancer", c),
        "logreg_imputer_indicator_minmax_clip_breast_cancer": (
            steps(MinMaxScaler(clip=True), linear_model.LogisticRegression(max_iter=500),
                  impute=SimpleImputer(add_indicator=True)), "breast_cancer", c),
        "calibrated_linear_svc_breast_cancer": (steps(StandardScaler(), CalibratedClassifierCV(svm.LinearSVC(), cv=3)),
                                                "breast_cancer", c),
        "voting_soft_wine": (steps(StandardScaler(), ensemble.VotingClassifier(
            [("lr", linear_model.LogisticRegression(max_iter=500)), ("nb", naive_bayes.GaussianNB()),
             ("rf", ensemble.RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0))], voting="soft")), "wine", c),
        "stacking_breast_cancer": (steps(StandardScaler(), ensemble.StackingClassifier(
            [("lr", linear_model.LogisticRegression(max_iter=500)), ("nb", naive_bayes.GaussianNB())],
            final_estimator=linear_model.LogisticRegression(), cv=3)), "breast_cancer", c),
        "linear_svr_diabetes": (steps(StandardScaler(), svm.LinearSVR(C=10.0, max_iter=5000, random_state=0)), "diabetes", r),
        "sgd_regressor_diabetes": (steps(StandardScaler(), linear_model.SGDRegressor(random_state=0)), "diabetes", r),
        "ridge_classifier_wine": (steps(StandardScaler(), linear_model.RidgeClassifier()), "wine", c),
        "stacking_reg_diabetes": (steps(StandardScaler(), ensemble.StackingRegressor(
            [("ridge", linear_model.Ridge()), ("knn", neighbors.KNeighborsRegressor())],
            final_estimator=linear_model.Ridge(), cv=3)), "diabetes", r),
        "voting_reg_diabetes": (steps(StandardScaler(), ensemble.VotingRegressor(
            [("ridge", linear_model.Ridge()), ("knn", neighbors.KNeighborsRegressor())])), "diabetes", r),
    }
    return {name: (lambda name=name, spec=spec: _fit(name, spec[0], spec[1], spec[2])) for name, spec in cases.items()}


SKLEARN = [
    "svc_rbf_proba_breast_cancer", "svc_linear_wine", "svc_poly_iris", "svr_rbf_diabetes", "linear_svc_breast_cancer",
    "sgd_log_loss_wine", "sgd_hinge_breast_cancer", "perceptron_iris", "knn_clf_wine", "knn_reg_diabetes",
    "gaussian_nb_breast_cancer", "multinomial_nb_wine", "bernoulli_nb_breast_cancer", "ridge_pca_diabetes",
    "elastic_net_poly_diabetes", "huber_power_diabetes", "logreg_quantile_breast_cancer", "logreg_kbins_wine",
    "logreg_truncated_svd_breast_cancer", "logreg_imputer_indicator_minmax_clip_breast_cancer",
    "calibrated_linear_svc_breast_cancer", "voting_soft_wine", "stacking_breast_cancer", "voting_reg_diabetes",
    "linear_svr_diabetes", "sgd_regressor_diabetes", "ridge_classifier_wine", "stacking_reg_diabetes",
]

def _category_builders() -> dict[str, Callable[[], TabularCase]]:
    from sklearn.linear_model import Ridge
    from sklearn.neighbors import KNeighborsRegressor

    cases = {f"ridge_sex_{how}_diabetes": (Ridge(), how) for how in
             ("most_frequent", "constant", "onehot_nan", "onehot_drop", "onehot_infrequent")}
    cases["knn_sex_most_frequent_diabetes"] = (KNeighborsRegressor(), "most_frequent")
    return {name: (lambda name=name, spec=spec: _fit(name, _categories_with_missing(spec[0], spec[1]), "diabetes",
                                                     "regression", categorical="missing")) for name, spec in cases.items()}


def _encoder_builders() -> dict[str, Callable[[], TabularCase]]:
    """diabetes with `sex` as strings (no missing category; unseen ones held out) one-hot encoded with
    drop='first', or with min_frequency=0.5 (female 52 %, male 48 %: male is infrequent, and so is an
    unseen category under handle_unknown='infrequent_if_exist'), before a Ridge."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = ["age", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    encoders = {"drop_first": OneHotEncoder(drop="first", handle_unknown="ignore"),
                "infrequent": OneHotEncoder(min_frequency=0.5, handle_unknown="infrequent_if_exist")}

    def model(how: str) -> Any:
        prepare = ColumnTransformer([("num", Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]), numeric),
                                     ("cat", encoders[how], ["sex"])])
        return Pipeline([("prepare", prepare), ("model", Ridge())])

    return {f"ridge_sex_onehot_{how}_diabetes": (lambda how=how: _fit(f"ridge_sex_onehot_{how}_diabetes", model(how),
                                                                       "diabetes", "regression", categorical=True))
            for how in encoders}


ENCODERS = ["ridge_sex_onehot_drop_first_diabetes", "ridge_sex_onehot_infrequent_diabetes"]


def _native_categories(estimator: Any, numbers: Any = "passthrough") -> Any:
    """diabetes' `sex` ordinal-encoded (missing -2, unseen -1) in front of HistGradientBoosting's own
    categorical splits; the numbers passed through (or through `numbers`, a transformer)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    numeric = ["age", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    encode = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-2)
    return Pipeline([("prepare", ColumnTransformer([("cat", encode, ["sex"]), ("num", numbers, numeric)])),
                     ("model", estimator)])


def _hgb_builders() -> dict[str, Callable[[], TabularCase]]:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer

    def binary(name: str) -> TabularCase:
        train, holdout = real_frame("diabetes", categorical="missing")
        train[LABEL], holdout[LABEL] = (train[LABEL] > 140).astype(int), (holdout[LABEL] > 140).astype(int)
        model = _native_categories(HistGradientBoostingClassifier(max_iter=15, categorical_features=[0], random_state=0))
        model.fit(train.drop(columns=[LABEL]), train[LABEL])
        return TabularCase(name, model, train, holdout, "classification")

    def wine(name: str) -> TabularCase:
        """wine with `color_intensity` given as a band only (low/mid/high; held-out rows get an unseen one),
        ordinal-encoded in front of HistGradientBoosting's own categorical splits (three classes)."""
        from sklearn.compose import ColumnTransformer
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OrdinalEncoder

        train, holdout = real_frame("wine")
        for frame in (train, holdout):
            color = frame["color_intensity"]
            frame.insert(0, "color_band", np.where(color < 3.8, "low", np.where(color < 7.0, "mid", "high")))
        holdout.loc[holdout.index[::7], "color_band"] = "unrecorded"
        numeric = [c for c in train.columns if c not in ("color_band", "color_intensity", LABEL)]  # the band alone
        encode = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
        model = Pipeline([("prepare", ColumnTransformer([("cat", encode, ["color_band"]), ("num", SimpleImputer(), numeric)])),
                          ("model", HistGradientBoostingClassifier(max_iter=10, categorical_features=[0], random_state=0))])
        model.fit(train.drop(columns=[LABEL]), train[LABEL])
        return TabularCase(name, model, train, holdout, "classification")

    return {
        "hgb_native_categories_wine": lambda: wine("hgb_native_categories_wine"),
        "hgb_native_categories_binary_diabetes": lambda: binary("hgb_native_categories_binary_diabetes"),
        "hgb_native_categories_poisson_diabetes": lambda: _fit(
            "hgb_native_categories_poisson_diabetes",
            _native_categories(HistGradientBoostingRegressor(loss="poisson", max_iter=15, categorical_features=[0],
                                                             random_state=0)),
            "diabetes", "regression", categorical="missing"),
        # no missing category (TFLite/TF.js/Core ML take no nullable category column yet): unseen ones only
        "hgb_native_categories_squared_diabetes": lambda: _fit(
            "hgb_native_categories_squared_diabetes",
            _native_categories(HistGradientBoostingRegressor(max_iter=15, categorical_features=[0], random_state=0),
                               SimpleImputer()),
            "diabetes", "regression", categorical=True),
    }


def coded_frame(seed: int = 0) -> tuple[Any, Any]:
    """diabetes with `sex` (0/1) and `age_band` (age in five quantile bands, 0..4) as integer category codes
    for the boosters' own categorical splits; held-out rows carry missing codes (NaN), codes no training
    row had (7) and a negative one (-1)."""
    train, holdout = real_frame("diabetes", seed=seed)
    edges = np.nanquantile(train["age"], [0.2, 0.4, 0.6, 0.8])
    for frame in (train, holdout):
        frame.insert(0, "age_band", np.where(frame["age"].isna(), np.nan, np.searchsorted(edges, frame["age"])))
        frame["sex"] = np.where(frame["sex"].isna(), np.nan, (frame["sex"] > 0).astype(float))
    holdout.loc[holdout.index[::9], "sex"] = 7.0  # a code the training never saw
    holdout.loc[holdout.index[4::11], "age_band"] = 7.0
    holdout.loc[holdout.index[2::13], "age_band"] = -1.0
    holdout.loc[holdout.index[3::10], "age_band"] = np.nan
    return train, holdout


CODED = ["age_band", "sex"]


def _native_coded(name: str, library: str, task: str, save_as: str) -> TabularCase:
    """An XGBoost (feature_types 'c', enable_categorical) or LightGBM (categorical_feature) model on
    `coded_frame`, binary (target > 140) or squared error."""
    import lightgbm as lgb
    import xgboost as xgb

    train, holdout = coded_frame()
    if task == "classification":
        train[LABEL], holdout[LABEL] = (train[LABEL] > 140).astype(int), (holdout[LABEL] > 140).astype(int)
    X = train.drop(columns=[LABEL])
    features = list(X.columns)
    if library == "xgboost":
        kinds = ["c" if f in CODED else "q" for f in features]
        cls = xgb.XGBClassifier if task == "classification" else xgb.XGBRegressor
        model = cls(n_estimators=15, max_depth=3, random_state=0, tree_method="hist", enable_categorical=True,
                    feature_types=kinds, max_cat_to_onehot=1)
        model.fit(X if save_as == "joblib" else X.to_numpy(dtype=np.float64), train[LABEL])
    else:
        cls = lgb.LGBMClassifier if task == "classification" else lgb.LGBMRegressor
        model = cls(n_estimators=15, num_leaves=8, random_state=0, verbose=-1, min_data_per_group=5, cat_smooth=1)
        model.fit(X if save_as == "joblib" else X.to_numpy(dtype=np.float64), train[LABEL],
                  categorical_feature=[features.index(f) for f in CODED])
    return TabularCase(name, model, train, holdout, task, save_as)


def _coded_builders() -> dict[str, Callable[[], TabularCase]]:
    specs = {
        "xgb_native_categories_binary_diabetes": ("xgboost", "classification", "joblib"),
        "xgb_native_categories_squared_diabetes_booster_json": ("xgboost", "regression", "json"),
        "lgb_native_categories_squared_diabetes": ("lightgbm", "regression", "joblib"),
        "lgb_native_categories_binary_diabetes_booster_txt": ("lightgbm", "classification", "txt"),
    }
    return {**{name: (lambda name=name, spec=spec: _native_coded(name, *spec)) for name, spec in specs.items()},
            "lgb_pandas_categories_squared_diabetes": lambda: _pandas_categories(
                "lgb_pandas_categories_squared_diabetes", "regression", True),
            "lgb_pandas_categories_binary_diabetes": lambda: _pandas_categories(
                "lgb_pandas_categories_binary_diabetes", "classification", "missing"),
            "xgb_pandas_categories_squared_diabetes": lambda: _pandas_categories(
                "xgb_pandas_categories_squared_diabetes", "regression", "missing", "xgboost"),
            "xgb_pandas_categories_binary_diabetes": lambda: _pandas_categories(
                "xgb_pandas_categories_binary_diabetes", "classification", "missing", "xgboost")}


def _pandas_categories(name: str, task: str, categorical: bool | str, library: str = "lightgbm") -> TabularCase:
    """LightGBM or XGBoost on pandas category columns (`sex` as text, `age_band` as five text bands, held-out
    rows with unseen categories and, with categorical="missing", missing ones): the library maps them to codes
    itself. XGBoost 3.2 raises on a category it never saw, so its held-out rows have those missing instead."""
    import lightgbm as lgb
    import xgboost as xgb

    train, holdout = real_frame("diabetes", categorical=categorical)
    edges = np.nanquantile(train["age"], [0.2, 0.4, 0.6, 0.8])
    for frame in (train, holdout):
        band = np.searchsorted(edges, frame["age"].fillna(0.0))
        frame.insert(0, "age_band", np.where(frame["age"].isna(), None, np.char.add("band", band.astype(str))))
    holdout.loc[holdout.index[5::12], "age_band"] = "band9"  # a band the training never saw
    if task == "classification":
        train[LABEL], holdout[LABEL] = (train[LABEL] > 140).astype(int), (holdout[LABEL] > 140).astype(int)
    if library == "xgboost":
        for column in ("age_band", "sex"):
            holdout.loc[~holdout[column].isin(train[column]), column] = None
    for frame in (train, holdout):
        for column in ("age_band", "sex"):
            frame[column] = frame[column].astype("category")
    if library == "xgboost":
        xcls = xgb.XGBClassifier if task == "classification" else xgb.XGBRegressor
        model = xcls(n_estimators=15, max_depth=3, random_state=0, tree_method="hist", enable_categorical=True,
                     max_cat_to_onehot=1)
        model.fit(train.drop(columns=[LABEL]), train[LABEL])
        return TabularCase(name, model, train, holdout, task)
    cls = lgb.LGBMClassifier if task == "classification" else lgb.LGBMRegressor
    model = cls(n_estimators=15, num_leaves=8, random_state=0, verbose=-1, min_data_per_group=5, cat_smooth=1)
    model.fit(train.drop(columns=[LABEL]), train[LABEL])
    return TabularCase(name, model, train, holdout, task)


NATIVE_CODED = [
    "xgb_native_categories_binary_diabetes", "xgb_native_categories_squared_diabetes_booster_json",
    "lgb_native_categories_squared_diabetes", "lgb_native_categories_binary_diabetes_booster_txt"]
# LightGBM and XGBoost on pandas category columns of text (records carry the strings)
PANDAS_CATEGORIES = ["lgb_pandas_categories_squared_diabetes", "lgb_pandas_categories_binary_diabetes",
                     "xgb_pandas_categories_squared_diabetes", "xgb_pandas_categories_binary_diabetes"]


def _step_builders() -> dict[str, Callable[[], TabularCase]]:
    """Issue 18's transformers that edgepack converts itself: FunctionTransformer with numpy ufuncs, TargetEncoder
    (`sex` as strings; unseen categories held out; one case with missing ones and a three-class target) and
    SplineTransformer (held-out rows include values beyond the training range)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, SplineTransformer, StandardScaler, TargetEncoder

    numeric = ["age", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    c, r = "classification", "regression"

    def function(func: Any) -> Any:
        return Pipeline([("impute", SimpleImputer()), ("function", FunctionTransformer(func)), ("scale", StandardScaler()),
                         ("model", LogisticRegression(max_iter=1000))])

    def target_encoded(estimator: Any, target_type: str = "auto") -> Any:
        prepare = ColumnTransformer([("num", Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]), numeric),
                                     ("cat", TargetEncoder(target_type=target_type), ["sex"])])
        return Pipeline([("prepare", prepare), ("model", estimator)])

    def three_classes(name: str) -> TabularCase:
        """diabetes' target in three bands (< 100, < 180, above), `sex` with missing and unseen categories."""
        train, holdout = real_frame("diabetes", categorical="missing")
        train[LABEL], holdout[LABEL] = np.digitize(train[LABEL], [100, 180]), np.digitize(holdout[LABEL], [100, 180])
        model = target_encoded(LogisticRegression(max_iter=1000))
        model.fit(train.drop(columns=[LABEL]), train[LABEL])
        return TabularCase(name, model, train, holdout, c)

    def abs_exp() -> Any:
        def part(func: Any) -> Any:
            return Pipeline([("impute", SimpleImputer()), ("function", FunctionTransformer(func))])

        prepare = ColumnTransformer([("abs", part(np.abs), ["age", "bmi", "bp"]),
                                     ("exp", part(np.exp), ["s1", "s2", "s3", "s4", "s5", "s6"])])
        return Pipeline([("prepare", prepare), ("model", Ridge())])

    def spline(extrapolation: str, **kwargs: Any) -> Any:
        return Pipeline([("impute", SimpleImputer()),
                         ("spline", SplineTransformer(n_knots=5, degree=3, extrapolation=extrapolation, **kwargs)),
                         ("model", Ridge(alpha=1e-3))])

    def spline_clf() -> Any:  # breast cancer's first 6 columns; a missing value gives zeros, as scikit-learn does
        prepare = ColumnTransformer([("spline", SplineTransformer(n_knots=4, degree=2, handle_missing="zeros",
                                                                  include_bias=False),
                                      ["mean_radius", "mean_texture", "mean_perimeter", "mean_area", "mean_smoothness",
                                       "mean_compactness"])])
        return Pipeline([("prepare", prepare), ("scale", StandardScaler()), ("model", LogisticRegression(max_iter=1000))])

    def beyond_range(case: TabularCase) -> TabularCase:
        """Two held-out rows moved beyond the training range (every numeric column), below and above."""
        numbers = [c for c in case.features if c != "sex"]
        case.holdout.loc[0, numbers] = case.train[numbers].max() * 1.5
        case.holdout.loc[1, numbers] = case.train[numbers].min() * 1.5
        return case

    return {
        "logreg_log1p_breast_cancer": lambda: _fit("logreg_log1p_breast_cancer", function(np.log1p), "breast_cancer", c),
        "logreg_sqrt_breast_cancer": lambda: _fit("logreg_sqrt_breast_cancer", function(np.sqrt), "breast_cancer", c),
        "ridge_abs_exp_diabetes": lambda: _fit("ridge_abs_exp_diabetes", abs_exp(), "diabetes", r),
        "ridge_target_encoder_diabetes": lambda: _fit("ridge_target_encoder_diabetes", target_encoded(Ridge(), "continuous"), "diabetes", r,
                                                      categorical=True),
        "logreg_target_encoder_three_classes_diabetes": lambda: three_classes("logreg_target_encoder_three_classes_diabetes"),
        "ridge_spline_linear_diabetes": lambda: beyond_range(_fit("ridge_spline_linear_diabetes", spline("linear"), "diabetes", r)),
        "ridge_spline_continue_diabetes": lambda: beyond_range(_fit("ridge_spline_continue_diabetes", spline("continue", knots="quantile"),
                                                                    "diabetes", r)),
        "logreg_spline_breast_cancer": lambda: beyond_range(_fit("logreg_spline_breast_cancer", spline_clf(), "breast_cancer", c)),
    }


STEPS = ["logreg_log1p_breast_cancer", "logreg_sqrt_breast_cancer", "ridge_abs_exp_diabetes", "ridge_target_encoder_diabetes",
         "logreg_target_encoder_three_classes_diabetes", "ridge_spline_linear_diabetes", "ridge_spline_continue_diabetes",
         "logreg_spline_breast_cancer"]

HGB_NATIVE = ["hgb_native_categories_binary_diabetes", "hgb_native_categories_poisson_diabetes"]

CATEGORIES = ["ridge_sex_most_frequent_diabetes", "ridge_sex_constant_diabetes", "ridge_sex_onehot_nan_diabetes",
              "ridge_sex_onehot_drop_diabetes", "knn_sex_most_frequent_diabetes"]

# Final estimator family -> a test case that exercises it (tests/zoo.py's name, or one of this module's):
# test_support_table checks that every family the support table says yes to has one, and that it is so.
FAMILY_CASES: dict[str, str] = {
    "LogisticRegression": "logreg_binary", "LinearRegression": "linear_regression", "Ridge": "ridge",
    "Lasso": "lasso", "DecisionTreeClassifier": "decision_tree_clf", "DecisionTreeRegressor": "decision_tree_reg",
    "RandomForestClassifier": "random_forest_clf", "RandomForestRegressor": "random_forest_reg",
    "ExtraTreesClassifier": "extra_trees_clf", "ExtraTreesRegressor": "extra_trees_reg",
    "GradientBoostingClassifier": "gradient_boosting_clf", "GradientBoostingRegressor": "gradient_boosting_reg",
    "HistGradientBoostingClassifier": "hist_gradient_boosting_clf",
    "HistGradientBoostingRegressor": "hist_gradient_boosting_reg", "MLPClassifier": "mlp_clf", "MLPRegressor": "mlp_reg",
    "SVC": "svc_rbf_proba_breast_cancer", "SVR": "svr_rbf_diabetes", "LinearSVC": "linear_svc_breast_cancer",
    "SGDClassifier": "sgd_hinge_breast_cancer", "Perceptron": "perceptron_iris", "ElasticNet": "elastic_net_poly_diabetes",
    "HuberRegressor": "huber_power_diabetes", "KNeighborsClassifier": "knn_clf_wine",
    "KNeighborsRegressor": "knn_reg_diabetes", "GaussianNB": "gaussian_nb_breast_cancer",
    "MultinomialNB": "multinomial_nb_wine", "BernoulliNB": "bernoulli_nb_breast_cancer",
    "CalibratedClassifierCV": "calibrated_linear_svc_breast_cancer", "VotingClassifier": "voting_soft_wine",
    "VotingRegressor": "voting_reg_diabetes", "StackingClassifier": "stacking_breast_cancer",
    "LinearSVR": "linear_svr_diabetes", "SGDRegressor": "sgd_regressor_diabetes", "RidgeClassifier": "ridge_classifier_wine",
    "StackingRegressor": "stacking_reg_diabetes",
    "XGBClassifier": "xgb_binary_breast_cancer", "XGBRegressor": "xgb_poisson_diabetes",
    "LGBMClassifier": "lgb_softmax_wine", "LGBMRegressor": "lgb_tweedie_diabetes",
    "CatBoostClassifier": "cb_binary_breast_cancer", "CatBoostRegressor": "cb_tweedie_diabetes_pipeline",
    "xgboost Booster .json/.ubj": "xgb_softmax_iris_booster_json", "lightgbm Booster .txt": "lgb_poisson_diabetes_booster_txt",
    "catboost model .cbm": "cb_softmax_wine_cbm",
}

# Transformer edgepack converts itself (converters/targets/onnx_sklearn_steps.py) -> the STEPS cases that exercise it:
# test_transformer_steps checks that each is covered and that the case holds it.
TRANSFORMER_CASES: dict[str, list[str]] = {
    "FunctionTransformer": ["logreg_log1p_breast_cancer", "logreg_sqrt_breast_cancer", "ridge_abs_exp_diabetes"],
    "TargetEncoder": ["ridge_target_encoder_diabetes", "logreg_target_encoder_three_classes_diabetes"],
    "SplineTransformer": ["ridge_spline_linear_diabetes", "ridge_spline_continue_diabetes", "logreg_spline_breast_cancer"],
}

_CACHE: dict[str, TabularCase] = {}


def get(name: str) -> TabularCase:
    if name not in _CACHE:
        builders = {**_builders(), **_sklearn_builders(), **_category_builders(), **_hgb_builders(), **_encoder_builders(),
                    **_coded_builders(), **_step_builders()}
        _CACHE[name] = builders[name]()
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


def build_case(case: TabularCase, directory: Path, **options: Any) -> tuple[Path, Any]:
    """Save the case and build its package in `directory` (BuildOptions `options`, e.g. targets): (model path, result)."""
    from edgepack.toolchain.build import BuildOptions, build

    model_path, sample_path = save(case, directory)
    result = build(BuildOptions(model=model_path, sample=sample_path, out=directory / "package", label_column=LABEL,
                                quiet=True, **options))
    return model_path, result


def parity_args(case: TabularCase, model_path: Path, directory: Path, runtime: str) -> list[str]:
    """`edgepack parity` arguments checking one runtime against the original model on the held-out rows."""
    holdout = directory / "holdout.csv"
    case.holdout.to_csv(holdout, index=False)
    return ["--quiet", "--runtimes", runtime, "--reference", str(model_path), "--data", str(holdout), "--label-column", LABEL]


def replace_artifact(package: Path, artifact_id: str, data: bytes) -> None:
    """Write an artifact's file and give the manifest its new checksum and size (a tampered package that
    still verifies, so only parity can catch it)."""
    import hashlib
    import json

    manifest = json.loads((package / "manifest.json").read_text())
    entry = next(a for a in manifest["artifacts"] if a["id"] == artifact_id)
    (package / entry["file"]).write_bytes(data)
    entry.update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    (package / "manifest.json").write_text(json.dumps(manifest))


def onnx_outputs(package: Path, frame: Any) -> dict[str, np.ndarray]:
    """model.onnx of a package run in onnxruntime on a frame, fed as the manifest declares its inputs."""
    import json

    import onnxruntime as ort

    manifest = json.loads((package / "manifest.json").read_text())
    feeds = {}
    for tensor in manifest["artifacts"][0]["inputs"]:
        part = frame[tensor["features"]]
        # a missing category goes as "" (contract 2)
        feeds[tensor["name"]] = (part.astype(object).where(part.notna(), "").astype(str).to_numpy(dtype=object)
                                 if tensor["dtype"] == "string" else part.to_numpy(dtype=np.dtype(tensor["dtype"])))
    session = ort.InferenceSession(str(package / "model.onnx"), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))


def assert_agrees_on_holdout(case: TabularCase, package: Path) -> None:
    """The package's ONNX artifact on the held-out rows against the original model: labels 100 %,
    probabilities (or a score-only classifier's scores) within 1e-5, values within 1e-5 of the target's scale;
    and the build's own check recorded as passed."""
    import json

    manifest = json.loads((package / "manifest.json").read_text())
    assert manifest["parity"] and all(c["passed"] for c in manifest["parity"])
    got = onnx_outputs(package, case.holdout)
    want = case.expected(case.holdout)
    if case.task == "classification":
        assert np.abs(got["probabilities"] - want).max() <= 1e-5
        classes = np.asarray(manifest["outputs"]["classes"], dtype=object)
        assert list(classes[np.argmax(got["probabilities"], axis=1)]) == list(classes[np.argmax(want, axis=1)])
    else:
        scale = float(np.std(case.train[LABEL]))
        assert np.abs(got["value"].reshape(-1) - want).max() <= 1e-5 * scale
