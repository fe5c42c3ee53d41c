"""scikit-learn models saved with joblib or pickle.

Loading a pickle or joblib file executes code from it: build only from files you trust. (The device
side never does this: it reads only the manifest and the artifacts.)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ...runtime.errors import DataError, ModelError
from . import catboost, hist_gradient_boosting, lightgbm, pandas_categories, xgboost
from .boosted_trees import BoostedEnsemble

# What the scikit-learn source supports: one readable table (class name -> role).
SUPPORTED: dict[str, str] = {
    "Pipeline": "composite",
    "ColumnTransformer": "composite",
    "SimpleImputer": "transformer",
    "StandardScaler": "transformer",
    "MinMaxScaler": "transformer",
    "RobustScaler": "transformer",
    "OneHotEncoder": "transformer",
    "OrdinalEncoder": "transformer",
    "LogisticRegression": "classifier",
    "LinearRegression": "regressor",
    "Ridge": "regressor",
    "Lasso": "regressor",
    "DecisionTreeClassifier": "classifier",
    "DecisionTreeRegressor": "regressor",
    "RandomForestClassifier": "classifier",
    "RandomForestRegressor": "regressor",
    "ExtraTreesClassifier": "classifier",
    "ExtraTreesRegressor": "regressor",
    "GradientBoostingClassifier": "classifier",
    "GradientBoostingRegressor": "regressor",
    "HistGradientBoostingClassifier": "classifier",
    "HistGradientBoostingRegressor": "regressor",
    "MLPClassifier": "classifier",
    "MLPRegressor": "regressor",
    # issue 18: the rest of what people deploy (ONNX through skl2onnx; other formats refuse them by name)
    "SVC": "classifier",
    "SVR": "regressor",
    "LinearSVC": "classifier",
    "LinearSVR": "regressor",
    "SGDClassifier": "classifier",
    "SGDRegressor": "regressor",
    "Perceptron": "classifier",
    "RidgeClassifier": "classifier",
    "ElasticNet": "regressor",
    "HuberRegressor": "regressor",
    "KNeighborsClassifier": "classifier",
    "KNeighborsRegressor": "regressor",
    "GaussianNB": "classifier",
    "MultinomialNB": "classifier",
    "BernoulliNB": "classifier",
    "CalibratedClassifierCV": "classifier",
    "VotingClassifier": "classifier",
    "VotingRegressor": "regressor",
    "StackingClassifier": "classifier",
    "StackingRegressor": "regressor",
    "PCA": "transformer",
    "TruncatedSVD": "transformer",
    "PolynomialFeatures": "transformer",
    "KBinsDiscretizer": "transformer",
    "QuantileTransformer": "transformer",
    "PowerTransformer": "transformer",
    # issue 18: transformers edgepack converts itself (ONNX: onnx_sklearn_steps.py; TF: lowering/columns.py)
    "FunctionTransformer": "transformer",  # numpy ufuncs of FUNCTION_TRANSFORMER_UFUNCS only (checked below)
    "TargetEncoder": "transformer",
    "SplineTransformer": "transformer",
    # issue 18, text: a Pipeline's first step on one text column (ONNX; the settings TEXT_SETTINGS allows)
    "TfidfVectorizer": "transformer",
    "CountVectorizer": "transformer",
}
# The boosting libraries' scikit-learn estimators, alone or last in a Pipeline: class -> (role, tree reader).
BOOSTERS: dict[str, tuple[str, Callable[[Any], BoostedEnsemble]]] = {
    "XGBClassifier": ("classifier", xgboost.read),
    "XGBRegressor": ("regressor", xgboost.read),
    "LGBMClassifier": ("classifier", lightgbm.read),
    "LGBMRegressor": ("regressor", lightgbm.read),
    "CatBoostClassifier": ("classifier", catboost.read),
    "CatBoostRegressor": ("regressor", catboost.read),
}
SUPPORTED.update({name: role for name, (role, _) in BOOSTERS.items()})
TREE_FAMILIES = {
    "DecisionTreeClassifier", "DecisionTreeRegressor", "RandomForestClassifier", "RandomForestRegressor",
    "ExtraTreesClassifier", "ExtraTreesRegressor", "GradientBoostingClassifier", "GradientBoostingRegressor",
    "HistGradientBoostingClassifier", "HistGradientBoostingRegressor",
}


def booster_trees(final: Any) -> BoostedEnsemble | None:
    """The trees of a boosting library's estimator as arrays, or None for a scikit-learn estimator."""
    entry = BOOSTERS.get(type(final).__name__)
    if entry is None and hist_gradient_boosting.has_native_categories(final):
        return hist_gradient_boosting.read(final)  # skl2onnx writes its categorical splits as thresholds
    return entry[1](final) if entry else None


# Settings of supported estimators that no artifact reproduces: (class, parameter, value) -> the reason.
REFUSED_SETTINGS: dict[tuple[str, str, Any], str] = {
    ("KNeighborsClassifier", "weights", "distance"): "skl2onnx's graph divides by a zero distance when a row equals a "
    "training row, where scikit-learn returns that row's target (diabetes: off by 145)",
    ("KNeighborsRegressor", "weights", "distance"): "skl2onnx's graph divides by a zero distance when a row equals a "
    "training row, where scikit-learn returns that row's target (diabetes: off by 145)",
}
# FunctionTransformer(func=...): the numpy ufuncs every format can compute (np.abs is named "absolute").
FUNCTION_TRANSFORMER_UFUNCS = ("log1p", "sqrt", "log", "exp", "absolute")


def function_transformer_refusal(step: Any) -> str | None:
    """Why a FunctionTransformer cannot be packaged, or None: its func must be None (identity) or one of the
    numpy ufuncs above applied elementwise, with no kw_args (a ufunc's extra arguments change its meaning)."""
    func = getattr(step, "func", None)
    if func is None:
        return None
    name = getattr(func, "__name__", repr(func))
    if not isinstance(func, np.ufunc) or name not in FUNCTION_TRANSFORMER_UFUNCS:
        return (f"FunctionTransformer({name}) is not supported: a Python function cannot be read as operators; "
                f"edgepack takes np.{', np.'.join(n if n != 'absolute' else 'abs' for n in FUNCTION_TRANSFORMER_UFUNCS)}")
    if step.kw_args:
        return f"FunctionTransformer(np.{name}, kw_args={step.kw_args!r}) is not supported: the artifact computes np.{name}(x) alone"
    return None


def spline_refusal(step: Any) -> str | None:
    """Why a SplineTransformer cannot be packaged, or None."""
    if step.extrapolation not in ("constant", "linear", "continue") or step.sparse_output:
        return (f"SplineTransformer(extrapolation={step.extrapolation!r}, sparse_output={step.sparse_output}) is not "
                "supported: edgepack takes extrapolation 'constant', 'linear' or 'continue' with dense output")
    if step.extrapolation == "linear" and step.degree <= 1 and len(step.bsplines_) > 1:
        # scikit-learn 1.9's transform raises its `degree` inside the loop over features, so every feature after
        # the first is cut at the wrong knot (measured: 3.5 off on diabetes); no artifact should copy that
        return (f"SplineTransformer(degree={step.degree}, extrapolation='linear') on several features is not supported: "
                "scikit-learn extrapolates every feature after the first from the wrong knot")
    return None


# Transformers whose settings decide whether they can be packaged: class -> why not (None: fine).
STEP_REFUSALS: dict[str, Callable[[Any], str | None]] = {
    "FunctionTransformer": function_transformer_refusal,
    "SplineTransformer": spline_refusal,
}


# Text vectorizers: the settings an artifact reproduces exactly (parameter -> the values it takes); anything else
# is refused by name. Tokens are scikit-learn's default pattern (the ONNX Tokenizer's RE2 class equals Python's
# \w on every code point Python's Unicode tables assign) after str.lower, which the runtime applies
# (docs/package-format.md, "Text features"). sublinear_tf is refused: skl2onnx's graph is 3e-3 off in
# probability on scikit-learn's dataset descriptions.
TEXT_VECTORIZERS = {"TfidfVectorizer", "CountVectorizer"}
TEXT_FINALS = {"LogisticRegression", "LinearSVC"}  # the estimators after a text vectorizer that are tested
TEXT_TOKEN_PATTERN = r"(?u)\b\w\w+\b"
TEXT_SETTINGS: dict[str, tuple[Any, ...]] = {
    "input": ("content",), "analyzer": ("word",), "token_pattern": (TEXT_TOKEN_PATTERN,), "lowercase": (True,),
    "tokenizer": (None,), "preprocessor": (None,), "strip_accents": (None,), "ngram_range": ((1, 1), (1, 2)),
    "decode_error": ("strict",), "norm": ("l2", None), "sublinear_tf": (False,),
}


def check_text_settings(vectorizer: Any, where: str) -> None:
    """Refuse a text vectorizer whose settings no artifact reproduces, naming the setting."""
    name = type(vectorizer).__name__
    for param, allowed in TEXT_SETTINGS.items():
        if not hasattr(vectorizer, param):  # CountVectorizer has no norm or sublinear_tf
            continue
        value = getattr(vectorizer, param)
        if isinstance(value, list):
            value = tuple(value)
        if value not in allowed:
            raise ModelError(f"{name}({param}={value!r}) is not supported: edgepack reproduces scikit-learn's "
                             f"tokens exactly only with {param} in {', '.join(map(repr, allowed))}", where=where,
                             fix=f"train with {param}={allowed[0]!r}")
    if vectorizer.stop_words is not None and tuple(vectorizer.ngram_range) != (1, 1):
        raise ModelError(f"{name}(stop_words=..., ngram_range={tuple(vectorizer.ngram_range)}) is not supported: "
                         "scikit-learn drops stop words before pairing words, which the ONNX graph does not",
                         where=where, fix="train with ngram_range=(1, 1) or stop_words=None")


def text_vectorizers(estimator: Any) -> list[Any]:
    return [p for p in walk(estimator) if type(p).__name__ in TEXT_VECTORIZERS]


def _documents_first(estimator: Any) -> bool:
    """A Pipeline fitted on a list of documents: its first step is the vectorizer."""
    return type(estimator).__name__ == "Pipeline" and type(estimator.steps[0][1]).__name__ in TEXT_VECTORIZERS


def text_columns(estimator: Any) -> list[str]:
    """The columns a ColumnTransformer inside `estimator` hands to a text vectorizer (a Pipeline ending in one
    counts), each named alone as scikit-learn requires (a scalar column)."""
    found = []
    for part in walk(estimator):
        if type(part).__name__ != "ColumnTransformer":
            continue
        for _, trans, cols in getattr(part, "transformers_", part.transformers):
            if trans not in ("drop", "passthrough") and text_vectorizers(trans) and isinstance(cols, str):
                found.append(cols)
    return found


# Classifiers whose predict is not the argmax of predict_proba: with probability=True, SVC.predict uses the
# decision function and predict_proba Platt scaling fitted by cross-validation, and they disagree near the
# boundary (iris, poly kernel: 6 % of rows). The package's label is the argmax of its probabilities
# (contract 3), so the reference label is too.
LABEL_FROM_PROBABILITIES = {"SVC", "NuSVC"}


def supported_list() -> str:
    return ", ".join(sorted(SUPPORTED))


def walk(estimator: Any) -> list[Any]:
    """Every estimator inside `estimator` (itself included), depth first."""
    found = [estimator]
    name = type(estimator).__name__
    if name == "Pipeline":
        for _, step in estimator.steps:
            if step not in (None, "passthrough"):
                found.extend(walk(step))
    elif name == "ColumnTransformer":
        for _, trans, _ in getattr(estimator, "transformers_", estimator.transformers):
            if trans not in ("drop", "passthrough") and not _is_passthrough(trans):
                found.extend(walk(trans))
    elif name.startswith(("Voting", "Stacking")):  # ensembles of estimators: each must be supported too
        for inner in [*getattr(estimator, "estimators_", []), getattr(estimator, "final_estimator_", None)]:
            if inner is not None and inner != "drop":
                found.extend(walk(inner))
    elif name == "CalibratedClassifierCV":
        for calibrated in getattr(estimator, "calibrated_classifiers_", []):
            found.extend(walk(calibrated.estimator))
    return found


def _is_passthrough(transformer: Any) -> bool:
    """A fitted ColumnTransformer holds "passthrough" as an identity FunctionTransformer (scikit-learn >= 1.8)."""
    return type(transformer).__name__ == "FunctionTransformer" and getattr(transformer, "func", None) is None


def final_estimator(estimator: Any) -> Any:
    while type(estimator).__name__ == "Pipeline":
        estimator = estimator.steps[-1][1]
    return estimator


def check_supported(estimator: Any, where: str) -> None:
    for part in walk(estimator):
        name = type(part).__name__
        if name not in SUPPORTED:
            raise ModelError(
                f"unsupported scikit-learn estimator {name} ({type(part).__module__}.{name})",
                where=where,
                fix=f"edgepack supports: {supported_list()}",
            )
    for part in walk(estimator):
        for (name, param, value), reason in REFUSED_SETTINGS.items():
            if type(part).__name__ == name and getattr(part, param, None) == value:
                raise ModelError(f"{name}({param}={value!r}) is not supported: {reason}", where=where,
                                 fix=f"train with the default {param}")
    for part in walk(estimator):
        check = STEP_REFUSALS.get(type(part).__name__)
        refusal = check(part) if check else None
        if refusal:
            raise ModelError(refusal, where=where, fix="change that setting, or compute the feature before the model "
                             "and pass it as a column")
    texts = text_vectorizers(estimator)
    for vectorizer in texts:
        check_text_settings(vectorizer, where)
    if texts and (len(texts) > 1 or not (_documents_first(estimator) or text_columns(estimator))):
        raise ModelError("a text vectorizer is supported on one text column only: first in a Pipeline, or in a "
                         "ColumnTransformer on one named column", where=where,
                         fix="fit Pipeline([(\"text\", TfidfVectorizer()), (\"model\", LogisticRegression())]) on the "
                             "text column, or ColumnTransformer([(\"text\", TfidfVectorizer(), \"column\"), ...])")
    if texts and type(final_estimator(estimator)).__name__ not in TEXT_FINALS:
        raise ModelError(f"{type(final_estimator(estimator)).__name__} after a text vectorizer is not supported",
                         where=where, fix=f"end the text Pipeline in one of: {', '.join(sorted(TEXT_FINALS))}")
    final = final_estimator(estimator)
    if SUPPORTED[type(final).__name__] not in ("classifier", "regressor"):
        raise ModelError(f"the model ends in {type(final).__name__}, which does not predict", where=where,
                         fix="pass a fitted model whose last step is a classifier or regressor")
    if getattr(final, "n_outputs_", 1) not in (1, None) and SUPPORTED[type(final).__name__] == "regressor":
        raise ModelError("multi-output regression is not supported", where=where)


class SklearnSource:
    """A fitted scikit-learn estimator or Pipeline loaded from a joblib or pickle file."""

    framework = "scikit-learn"

    def __init__(self, model: Any, path: Path) -> None:
        # the library predicts (the reference); `model` is what the targets convert: the same, except for
        # LightGBM fitted on pandas category columns (sources/pandas_categories.py)
        self.reference_model = model
        self._categories: dict[str, list[Any]] = {}
        recoded = pandas_categories.codes_pipeline(model, str(path))
        if recoded is not None:
            model, self._categories = recoded
        self.model = model
        self.path = path
        check_supported(model, str(path))
        final = final_estimator(model)
        self.final = final
        # A booster's trees are read now, so that what no target can express is refused before the sample is read.
        self.ensemble = booster_trees(final)
        self.task = "classification" if SUPPORTED[type(final).__name__] == "classifier" else "regression"
        self.classes = [c.item() if isinstance(c, np.generic) else c for c in getattr(final, "classes_", [])]
        if self.task == "classification" and len(self.classes) < 2:
            raise ModelError("a classifier with fewer than two classes cannot be packaged", where=str(path))

    @classmethod
    def load(cls, path: Path) -> SklearnSource:
        """Load with joblib (which also reads plain pickles). This executes code from the file."""
        import joblib

        try:
            model = joblib.load(path)
        except Exception as exc:  # unpickling raises anything the pickled code raises
            raise ModelError(f"cannot load the model file: {type(exc).__name__}: {exc}", where=str(path),
                             fix="pass a model saved with joblib.dump or pickle.dump by a compatible scikit-learn") from exc
        if not hasattr(model, "predict"):
            raise ModelError(f"the file holds a {type(model).__name__}, not a fitted scikit-learn model", where=str(path))
        return cls(model, path)

    @property
    def fitted_on_frame(self) -> bool:
        return hasattr(self.model, "feature_names_in_")

    @property
    def is_tree_model(self) -> bool:
        return type(self.final).__name__ in TREE_FAMILIES

    def describe(self) -> dict[str, Any]:
        import sklearn

        steps = [type(p).__name__ for p in walk(self.reference_model)]
        if type(self.final).__name__ in BOOSTERS:  # the booster's library version matters as much as scikit-learn's
            steps[-1] = f"{steps[-1]} ({_library_version(self.final)})"
        return {
            "framework": self.framework,
            "framework_version": sklearn.__version__,
            "estimator": f"{type(self.reference_model).__module__}.{type(self.reference_model).__name__}",
            "summary": " > ".join(dict.fromkeys(steps)),
            "family": type(self.final).__name__,
        }

    @property
    def text(self) -> bool:
        """The model reads one column of documents (a text vectorizer first in its Pipeline)."""
        return _documents_first(self.model)

    def is_text(self, name: str) -> bool:
        """Is feature `name` text (documents a vectorizer splits into words) rather than a category?"""
        return self.text or name in text_columns(self.model)

    def feature_names(self, sample_columns: list[str]) -> list[str]:
        if self.text:  # fitted on a list of documents: the sample's one feature column is the text
            if len(sample_columns) != 1:
                raise DataError(f"a text model takes one column of text but the sample has {len(sample_columns)} "
                                "feature columns", fix="pass a sample with the text column (and --label-column)")
            return list(sample_columns)
        names = getattr(self.model, "feature_names_in_", None)
        if names is None and type(self.model).__name__.startswith("CatBoost"):
            # CatBoost keeps its own names (numbers as text when fitted on an array)
            own = list(self.model.feature_names_ or [])
            names = own if own and own != [str(i) for i in range(len(own))] else None
        if names is not None:
            return [str(n) for n in names]
        n = getattr(self.model, "n_features_in_", None)
        if n is None or n != len(sample_columns):

            raise DataError(
                f"the model was fitted on an array of {n} columns but the sample has {len(sample_columns)} feature columns",
                fix="pass --label-column for the label, and a sample with exactly the model's columns in training order",
            )
        return list(sample_columns)

    def as_model_input(self, frame: Any) -> Any:
        if self.text:  # the documents, as scikit-learn's vectorizers take them
            return [v if isinstance(v, str) else np.nan for v in frame.iloc[:, 0]]
        return frame if self.fitted_on_frame else frame.to_numpy(dtype=np.float64)

    @property
    def has_probabilities(self) -> bool:
        return hasattr(self.model, "predict_proba")  # False for LinearSVC, Perceptron, hinge SGD, SVC(probability=False)

    def class_scores(self, X: Any) -> np.ndarray:
        """predict_proba; for a classifier without it, its decision_function as one score per class (binary:
        [-d, d]), whose argmax is scikit-learn's predict, as skl2onnx's graph outputs it."""
        model = self.reference_model
        if self._categories:  # the library's own input: pandas category columns
            X = pandas_categories.as_categorical(X, self._categories)
        if self.has_probabilities:
            return np.asarray(model.predict_proba(X), dtype=np.float64)
        scores = np.asarray(model.decision_function(X), dtype=np.float64)
        return np.stack([-scores, scores], axis=1) if scores.ndim == 1 else scores

    def predict(self, frame: Any) -> dict[str, np.ndarray]:
        X = self.as_model_input(frame)
        model = self.reference_model
        if self._categories:
            X = pandas_categories.as_categorical(X, self._categories)
        if self.task == "classification":
            scores = self.class_scores(X)
            if type(self.final).__name__ in LABEL_FROM_PROBABILITIES and self.has_probabilities:
                return {"probabilities": scores, "label": np.asarray(self.final.classes_)[np.argmax(scores, axis=1)]}
            return {"probabilities": scores, "label": np.asarray(model.predict(X))}
        value = np.asarray(model.predict(X), dtype=np.float64).reshape(-1)
        return {"value": value}


def _library_version(estimator: Any) -> str:
    from importlib.metadata import version

    return f"{type(estimator).__module__.split('.')[0]} {version(type(estimator).__module__.split('.')[0])}"
