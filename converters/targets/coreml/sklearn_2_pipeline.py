"""scikit-learn to a Core ML pipeline of classic model types (.mlmodel), written as protobuf by hand.

Shape of what is built (one model per box, chained by feature name inside a Core ML pipeline):

    named inputs: Double per numeric feature, String per category feature (the schema's names)
      -> per ColumnTransformer part: FeatureVectorizer (numeric columns) -> Imputer -> Scaler ...
                                     OneHotEncoder (one per category column) | CategoricalMapping (ordinal)
      -> FeatureVectorizer (all parts, in scikit-learn's column order) = the estimator's input array
      -> the final estimator: GLMClassifier/GLMRegressor, TreeEnsembleClassifier/Regressor, or a
         NeuralNetworkClassifier/Regressor (MLP, multinomial logistic regression)
      -> outputs: label + probabilities (a class -> probability dictionary) | value

Classic Core ML preprocessing runs in double, as scikit-learn does; the tree models take care of
scikit-learn's float32 cast in their thresholds (sklearn_4_trees.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ....runtime.errors import ModelError
from ...sources.sample import missing_differs_from_unknown
from ...sources.sklearn import BOOSTERS, TREE_FAMILIES
from . import sklearn_6_step_trees as step_trees
from . import sklearn_8_float32_steps as float32_steps
from .proto import feature, model
from .sklearn_3_final_model import final_model

Ops = tuple[tuple[str, float], ...]  # scikit-learn's own arithmetic on one column: ("sub"|"div"|"mul"|"add", value)


@dataclass
class Vector:
    """A double array flowing through the pipeline: its feature name and length. `deferred` (one entry
    per column, or empty) holds scaler arithmetic that tree models fold into their thresholds instead
    of running it (see sklearn_4_trees.py)."""

    name: str
    dim: int
    deferred: list[Ops] = field(default_factory=list)

    def column_ops(self) -> list[Ops]:
        return self.deferred or [()] * self.dim


@dataclass
class SpecPipeline:
    """The models of the pipeline being built, in order, and fresh feature names."""

    models: list[Any] = field(default_factory=list)
    count: int = 0
    defer_scalers: bool = False  # a tree model follows: fold scalers into its thresholds, exactly
    source: Any = None  # the model being converted (its build sample probes how it treats a missing category)

    def fresh(self, stem: str) -> str:
        self.count += 1
        return f"__{stem}_{self.count}"

    def vectorize(self, parts: list[tuple[str, str, int]], deferred: list[Ops] | None = None) -> Vector:
        """FeatureVectorizer over (feature name, kind, dim) parts -> one double array."""
        dim = sum(d for _, _, d in parts)
        out = Vector(self.fresh("vector"), dim, deferred if deferred and any(deferred) else [])
        m = model([feature(n, k, d if k == "array" else None) for n, k, d in parts], [feature(out.name, "array", dim)])
        for name, _kind, d in parts:
            col = m.featureVectorizer.inputList.add()
            col.inputColumn = name
            col.inputDimensions = d
        self.models.append(m)
        return out

    def array_step(self, kind: str, src: Vector, dim: int | None = None) -> tuple[Any, Vector]:
        """A model taking and giving one double array; the caller fills in `kind`'s message."""
        out = Vector(self.fresh(kind), dim or src.dim)
        m = model([feature(src.name, "array", src.dim)], [feature(out.name, "array", out.dim)])
        self.models.append(m)
        return m, out


def flatten_steps(estimator: Any) -> list[Any]:
    """A Pipeline's steps (nested pipelines inlined, passthrough dropped), or [estimator]."""
    if type(estimator).__name__ != "Pipeline":
        return [estimator]
    steps: list[Any] = []
    for _, step in estimator.steps:
        if step not in (None, "passthrough"):
            steps.extend(flatten_steps(step))
    return steps


def _refuse(what: str, fix: str = "") -> ModelError:
    return ModelError(f"the Core ML target cannot express {what}", fix=fix or "build without --targets coreml, or change the model")


def numeric_step(pipe: SpecPipeline, step: Any, src: Vector) -> Vector:
    """SimpleImputer or a scaler on a double array, with scikit-learn's own fitted numbers."""
    name = type(step).__name__
    if pipe.defer_scalers and name in SCALER_OPS:
        ops = SCALER_OPS[name](step, src.dim)
        return Vector(src.name, src.dim, [a + b for a, b in zip(src.column_ops(), ops)])
    if src.deferred:
        raise _refuse(f"{name} after a scaler in front of a tree model", "scale after imputing")
    if name == "SimpleImputer":
        stats = np.asarray(step.statistics_, dtype=np.float64)
        if len(stats) != src.dim or np.isnan(stats).any():
            raise _refuse("a SimpleImputer that drops all-missing columns", "fit on data with a value in every column")
        m, out = pipe.array_step("imputed", src)
        m.imputer.imputedDoubleArray.vector.extend(stats.tolist())
        missing = step.missing_values
        m.imputer.replaceDoubleValue = float("nan") if missing is None or (isinstance(missing, float) and np.isnan(missing)) else float(missing)
        if getattr(step, "add_indicator", False):  # scikit-learn appends the indicator columns after the imputed ones
            flags = _tree_step(pipe, step, src, "indicator", step_trees.indicator)
            return pipe.vectorize([(out.name, "array", out.dim), (flags.name, "array", flags.dim)])
        return out
    if name == "MinMaxScaler":
        # scikit-learn computes x * scale_ + min_; two Scalers ((x + 0) * scale_, then (y + min_) * 1)
        # round exactly as it does, which matters to trees whose thresholds sit on sample values.
        scaled = _scaler(pipe, src, np.zeros(src.dim), np.asarray(step.scale_, dtype=np.float64))
        shifted = _scaler(pipe, scaled, np.asarray(step.min_, dtype=np.float64), np.ones(src.dim))
        if getattr(step, "clip", False):  # Core ML's Scaler has no clip: a NeuralNetwork clip layer (float32)
            low, high = step.feature_range
            return _float32_step(pipe, shifted, "clipped", shifted.dim,
                                 lambda m, a, b: float32_steps.clip(low, high, m, a, b))
        return shifted
    if name == "PolynomialFeatures":  # no classic model type multiplies two features: NeuralNetwork (float32)
        if pipe.defer_scalers:
            raise _refuse("PolynomialFeatures in front of a tree model: its products would be float32 roundings "
                          "of scikit-learn's, moving decisions on a threshold", "build without --targets coreml")
        return _float32_step(pipe, src, "polynomial", int(step.n_output_features_),
                             lambda m, a, b: float32_steps.polynomial(step, m, a, b))
    if name in ("StandardScaler", "RobustScaler"):
        # scikit-learn computes (x - center) / scale; Core ML's Scaler multiplies, so 1/scale may differ
        # from the division in the last bit of a double (harmless to float32-cast trees, see trees module).
        center = step.mean_ if name == "StandardScaler" else step.center_
        if name == "StandardScaler" and not step.with_mean:
            center = None
        shift = -np.asarray(center, dtype=np.float64) if center is not None else np.zeros(src.dim)
        scale = 1.0 / np.asarray(step.scale_, dtype=np.float64) if step.scale_ is not None else np.ones(src.dim)
        return _scaler(pipe, src, shift, scale)
    if name == "KBinsDiscretizer":
        return _tree_step(pipe, step, src, "bins", step_trees.bins)
    if name in PROJECTIONS:
        weights, offset = PROJECTIONS[name](step)
        return linear_map(pipe, src, weights, offset)
    if name == "FunctionTransformer" and step.func is None:
        return src  # the identity: how a fitted ColumnTransformer holds a "passthrough" part
    if name == "FunctionTransformer" and step.func.__name__ in float32_steps.UNARY:
        if pipe.defer_scalers:
            raise _refuse(f"FunctionTransformer(np.{step.func.__name__}) in front of a tree model: a float32 value "
                          "would move decisions on a threshold", "build without --targets coreml")
        return _float32_step(pipe, src, "function", src.dim,
                             lambda m, a, b: float32_steps.unary(step.func.__name__, m, a, b))
    if name in REFUSED_STEPS:
        raise _refuse(f"{name}: {REFUSED_STEPS[name]}", "build without --targets coreml for this model")
    raise _refuse(f"{name} on numeric columns",
                  "supported numeric steps: SimpleImputer, StandardScaler, MinMaxScaler, RobustScaler, PCA, TruncatedSVD, "
                  "KBinsDiscretizer, PolynomialFeatures, FunctionTransformer (numpy ufuncs)")


# Preprocessing steps Core ML's classic model types cannot compute as scikit-learn does -> the reason
REFUSED_STEPS = {
    "QuantileTransformer": "Core ML has no piecewise-linear interpolation model type",
    "PowerTransformer": "Core ML's classic model types have no power or log; as NeuralNetwork unary layers the "
    "power is float32 (measured on breast cancer's held-out rows, before logistic regression: 1.3e-5 off with "
    "Yeo-Johnson, 2.0e-5 with Box-Cox)",
    "SplineTransformer": "no Core ML model type evaluates a piecewise polynomial in double (TreeEnsemble gives "
    "piecewise constants, GLMRegressor one linear map; NeuralNetwork layers would compute the powers in float32)",
}


def _pca(step: Any) -> tuple[np.ndarray, np.ndarray]:
    """PCA.transform: (x - mean_) @ components_.T, divided by sqrt(explained_variance_) when whitening."""
    w = np.asarray(step.components_, dtype=np.float64)
    offset = -(np.asarray(step.mean_, dtype=np.float64) @ w.T)
    if step.whiten:
        root = np.sqrt(np.asarray(step.explained_variance_, dtype=np.float64))
        w, offset = w / root[:, None], offset / root
    return w, offset


# projection -> (weights [K, F], offset [K]) of its transform, run as a multi-output GLMRegressor in double
PROJECTIONS = {
    "PCA": _pca,
    "TruncatedSVD": lambda step: (np.asarray(step.components_, dtype=np.float64), np.zeros(len(step.components_))),
}


def _float32_step(pipe: SpecPipeline, src: Vector, kind: str, dim: int, fill: Any) -> Vector:
    """A NeuralNetwork stage from src (sklearn_8_float32_steps: float32)."""
    m, out = pipe.array_step(kind, src, dim)
    fill(m, src.name, out.name)
    return out


def _tree_step(pipe: SpecPipeline, step: Any, src: Vector, kind: str, fill: Any) -> Vector:
    """A TreeEnsembleRegressor stage from src (sklearn_6_step_trees: exact comparisons, in double)."""
    made: list[Vector] = []

    def new_model(dim: int) -> Any:
        m, out = pipe.array_step(kind, src, dim)
        made.append(out)
        return m

    fill(step, src, new_model)
    return made[0]


def linear_map(pipe: SpecPipeline, src: Vector, weights: np.ndarray, offset: np.ndarray) -> Vector:
    """y = weights @ x + offset as a GLMRegressor with one weight row per output (double)."""
    m, out = pipe.array_step("projected", src, len(weights))
    for row in weights:
        m.glmRegressor.weights.add().value.extend(row.tolist())
    m.glmRegressor.offset.extend(np.asarray(offset, dtype=np.float64).tolist())
    return out


def _standard_ops(step: Any, dim: int) -> list[Ops]:
    mean = step.mean_ if step.with_mean else None
    return _sub_div(mean, step.scale_, dim)


def _sub_div(center: Any, scale: Any, dim: int) -> list[Ops]:
    ops: list[list[tuple[str, float]]] = [[] for _ in range(dim)]
    for j in range(dim):
        if center is not None:
            ops[j].append(("sub", float(np.asarray(center).reshape(-1)[j])))
        if scale is not None:
            ops[j].append(("div", float(np.asarray(scale).reshape(-1)[j])))
    return [tuple(o) for o in ops]


def _minmax_ops(step: Any, dim: int) -> list[Ops]:
    if getattr(step, "clip", False):
        raise _refuse("MinMaxScaler(clip=True): Core ML's Scaler has no clip")
    return [(("mul", float(step.scale_[j])), ("add", float(step.min_[j]))) for j in range(dim)]


# scaler -> its per-column arithmetic, in scikit-learn's order of operations
SCALER_OPS = {
    "StandardScaler": _standard_ops,
    "RobustScaler": lambda step, dim: _sub_div(step.center_, step.scale_, dim),
    "MinMaxScaler": _minmax_ops,
}


def _scaler(pipe: SpecPipeline, src: Vector, shift: np.ndarray, scale: np.ndarray) -> Vector:
    """Core ML's Scaler: (x + shift) * scale."""
    m, out = pipe.array_step("scaled", src)
    m.scaler.shiftValue.extend(np.broadcast_to(shift, (src.dim,)).tolist())
    m.scaler.scaleValue.extend(np.broadcast_to(scale, (src.dim,)).tolist())
    return out


def _category_part(pipe: SpecPipeline, encoder: Any, column: str, j: int) -> tuple[str, str, int]:
    """One category column through OneHotEncoder or OrdinalEncoder -> a vectorizer part."""
    name = type(encoder).__name__
    cats = [_category_text(c) for c in encoder.categories_[j]]
    if name == "OneHotEncoder":
        out = pipe.fresh("onehot")
        m = model([feature(column, "string")], [feature(out, "array", len(cats))])
        m.oneHotEncoder.stringCategories.vector.extend(cats)
        m.oneHotEncoder.outputSparse = False
        enum = m.oneHotEncoder.HandleUnknown
        m.oneHotEncoder.handleUnknown = enum.ErrorOnUnknown if encoder.handle_unknown == "error" else enum.IgnoreUnknown
        pipe.models.append(m)
        grouping = _onehot_grouping(encoder, j, cats)
        if grouping is None:
            return out, "array", len(cats)
        grouped = linear_map(pipe, Vector(out, len(cats)), *grouping)
        return grouped.name, "array", grouped.dim
    if name == "OrdinalEncoder":
        out = pipe.fresh("ordinal")
        m = model([feature(column, "string")], [feature(out, "int64")])
        mapping = m.categoricalMapping.stringToInt64Map.map
        for i, c in enumerate(cats):
            if c:  # a learnt missing category is coded encoded_missing_value, below
                mapping[c] = i
        code = _missing_code(encoder)
        if code is not None:
            mapping[""] = code  # a missing category ("") gets scikit-learn's encoded_missing_value
        if encoder.handle_unknown == "use_encoded_value":
            unknown = encoder.unknown_value
            if unknown is None or not float(unknown).is_integer():
                raise _refuse(f"OrdinalEncoder(unknown_value={unknown!r})", "use an integer unknown_value such as -1")
            m.categoricalMapping.int64Value = int(unknown)
        pipe.models.append(m)
        return out, "int64", 1
    if name == "TargetEncoder":
        return _target_encoded(pipe, encoder, column, j, cats)
    raise _refuse(f"{name} on category columns", "encode categories with OneHotEncoder, OrdinalEncoder or TargetEncoder")


def _target_encoded(pipe: SpecPipeline, encoder: Any, column: str, j: int, cats: list[str]) -> tuple[str, str, int]:
    """TargetEncoder on one column, exactly: CategoricalMapping string -> index (an unknown category, and a
    missing one not learnt, -> the last index), OneHotEncoder over the indices, then a GLMRegressor whose
    weights are the fitted encodings with the target mean last (one row per class for a multiclass target):
    each output is 1 x the fitted double plus exact zeros."""
    per_class = len(encoder.classes_) if getattr(encoder, "target_type_", "") == "multiclass" else 1
    means = np.atleast_1d(np.asarray(encoder.target_mean_, dtype=np.float64))
    index = pipe.fresh("target_index")
    m = model([feature(column, "string")], [feature(index, "int64")])
    for i, c in enumerate(cats):
        m.categoricalMapping.stringToInt64Map.map[c] = i
    m.categoricalMapping.int64Value = len(cats)
    pipe.models.append(m)
    hot = pipe.fresh("target_onehot")
    m = model([feature(index, "int64")], [feature(hot, "array", len(cats) + 1)])
    m.oneHotEncoder.int64Categories.vector.extend(range(len(cats) + 1))
    m.oneHotEncoder.outputSparse = False
    pipe.models.append(m)
    weights = np.stack([np.append(np.asarray(encoder.encodings_[j * per_class + k], dtype=np.float64), means[k])
                        for k in range(per_class)])
    out = linear_map(pipe, Vector(hot, len(cats) + 1), weights, np.zeros(per_class))
    return out.name, "array", out.dim


def _onehot_grouping(encoder: Any, j: int, cats: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """scikit-learn's columns from the one-hot of every category, as 0/1 weights and offsets (exact in double):
    infrequent categories summed into one last column (an unknown category counts as infrequent under
    handle_unknown='infrequent_if_exist': that column is 1 - the frequent columns), the `drop` column
    removed. None when the one-hot is already scikit-learn's output."""
    infrequent_all = getattr(encoder, "infrequent_categories_", None) or []
    listed = infrequent_all[j] if j < len(infrequent_all) and infrequent_all[j] is not None else []
    infrequent = {_category_text(c) for c in listed}
    drop_idx = getattr(encoder, "drop_idx_", None)
    drop = None if drop_idx is None or drop_idx[j] is None else int(drop_idx[j])
    if not infrequent and drop is None:
        return None
    if infrequent and drop is not None:
        raise _refuse("OneHotEncoder with both drop and infrequent categories", "use one of drop, min_frequency/max_categories")
    eye = np.eye(len(cats))
    rows = [eye[i] for i, c in enumerate(cats) if c not in infrequent]
    offsets = [0.0] * len(rows)
    if infrequent:
        if encoder.handle_unknown in ("infrequent_if_exist", "warn"):
            rows.append(-np.asarray([0.0 if c in infrequent else 1.0 for c in cats]))
            offsets.append(1.0)
        else:
            rows.append(np.asarray([1.0 if c in infrequent else 0.0 for c in cats]))
            offsets.append(0.0)
    if drop is not None:
        del rows[drop], offsets[drop]
    return np.vstack(rows), np.asarray(offsets)


def _is_missing(category: Any) -> bool:
    return category is None or (isinstance(category, float) and np.isnan(category))


def _missing_code(encoder: Any) -> int | None:
    """An OrdinalEncoder's code for a missing category when it is an integer (NaN, the default, is not one)."""
    code = getattr(encoder, "encoded_missing_value", np.nan)
    return int(code) if isinstance(code, (int, float)) and not np.isnan(code) and float(code).is_integer() else None


def _category_text(category: Any) -> str:
    """A learnt category as Core ML sees it: a missing one arrives as "" (contract 2)."""
    return "" if _is_missing(category) else str(category)


def _category_inputs(pipe: SpecPipeline, steps: list[Any], columns: list[str], schema: Any) -> tuple[list[str], list[Any]]:
    """The category columns' feature names for the encoder, and the steps from the encoder on. A missing
    category reaches Core ML as "" (contract 2): a SimpleImputer in front becomes a string Imputer replacing
    "" (exactly scikit-learn's fill); a OneHotEncoder that learnt the missing value has "" among its
    categories. Where the model treats a missing category otherwise than an unknown one and neither applies
    (an OrdinalEncoder's encoded_missing_value), the build is refused by name."""
    inputs = list(columns)
    if type(steps[0]).__name__ == "SimpleImputer":
        imputer, steps = steps[0], steps[1:]
        if not steps or getattr(imputer, "add_indicator", False):
            raise _refuse("a SimpleImputer on category columns without an encoder after it, or with add_indicator",
                          "impute then encode with OneHotEncoder or OrdinalEncoder")
        if not _is_missing(imputer.missing_values):
            raise _refuse(f"SimpleImputer(missing_values={imputer.missing_values!r}) on category columns",
                          "use the default missing_values (NaN)")
        for j, column in enumerate(columns):
            out = pipe.fresh("imputed_category")
            m = model([feature(column, "string")], [feature(out, "string")])
            m.imputer.imputedStringValue = str(imputer.statistics_[j])
            m.imputer.replaceStringValue = ""
            pipe.models.append(m)
            inputs[j] = out
        return inputs, steps
    encoder = steps[0]
    frame = getattr(pipe.source, "sample", None)
    for j, column in enumerate(columns):
        learnt = any(_is_missing(c) for c in encoder.categories_[j]) if hasattr(encoder, "categories_") else False
        if type(encoder).__name__ == "OneHotEncoder" and learnt:
            continue  # "" is one of its categories
        if type(encoder).__name__ == "OrdinalEncoder" and _missing_code(encoder) is not None:
            continue  # "" maps to its encoded_missing_value
        if type(encoder).__name__ == "TargetEncoder":
            continue  # "" is its learnt missing category, else unknown (the target mean) as in scikit-learn
        if (schema.feature(column).nullable and frame is not None
                and missing_differs_from_unknown(pipe.source, frame, column)):
            raise ModelError(f"the Core ML target cannot take a missing category in {column!r} through "
                             f"{type(encoder).__name__}: scikit-learn encodes it apart from an unknown category",
                             fix="impute the column first (SimpleImputer), or one-hot encode it, or build without "
                                 "--targets coreml")
    return inputs, steps


def column_transformer(pipe: SpecPipeline, ct: Any, schema: Any) -> Vector:
    """Each (transformer, columns) of a fitted ColumnTransformer, then one vectorizer in its output order."""
    names = schema.names
    parts: list[tuple[str, str, int]] = []
    deferred: list[Ops] = []
    # scikit-learn's own resolution of each part's columns (names, indices, masks, slices, callables)
    resolved = getattr(ct, "_transformer_to_input_indices", {})
    for label, trans, cols in ct.transformers_:
        if label in resolved:
            columns = [names[int(i)] for i in resolved[label]]
        else:
            cols = [cols] if isinstance(cols, str) else np.asarray(cols).tolist()
            columns = [names[c] if isinstance(c, int) and not isinstance(c, bool) else str(c) for c in cols]
        if trans == "drop" or not columns:
            continue
        is_category = [schema.feature(c).type == "category" for c in columns]
        steps = [] if trans == "passthrough" else flatten_steps(trans)
        if any(is_category):
            if not all(is_category) or not steps:
                raise _refuse("a ColumnTransformer part mixing category and numeric columns",
                              "give category columns their own OneHotEncoder or OrdinalEncoder")
            inputs, steps = _category_inputs(pipe, steps, columns, schema)
            encoded = [_category_part(pipe, steps[0], c, j) for j, c in enumerate(inputs)]
            if len(steps) == 1:
                parts.extend(encoded)
                deferred.extend(() for _, _, d in encoded for _ in range(d))
                continue
            current = pipe.vectorize(encoded)
        else:
            current = pipe.vectorize([(c, "double", 1) for c in columns])
        for step in steps[1:] if any(is_category) else steps:
            current = numeric_step(pipe, step, current)
        parts.append((current.name, "array", current.dim))
        deferred.extend(current.column_ops())
    return pipe.vectorize(parts, deferred)


def preprocess(pipe: SpecPipeline, steps: list[Any], schema: Any) -> Vector:
    """The steps before the final estimator -> the estimator's input array."""
    current: Vector | None = None
    for step in steps:
        if type(step).__name__ == "ColumnTransformer":
            if current is not None:
                raise _refuse("a ColumnTransformer after other steps", "put the ColumnTransformer first")
            current = column_transformer(pipe, step, schema)
            continue
        if current is None:
            current = _all_numeric(pipe, schema)
        current = numeric_step(pipe, step, current)
    return current if current is not None else _all_numeric(pipe, schema)


def _all_numeric(pipe: SpecPipeline, schema: Any) -> Vector:
    cats = [f.name for f in schema.features if f.type == "category"]
    if cats:
        raise _refuse(f"category columns ({', '.join(cats)}) outside a ColumnTransformer",
                      "encode them with a OneHotEncoder or OrdinalEncoder inside a ColumnTransformer")
    return pipe.vectorize([(f.name, "double", 1) for f in schema.features])


def convert(source: Any, schema: Any) -> Any:
    """The source's scikit-learn model as one Core ML pipeline Model (protobuf message).

    Raises ModelError naming the part that Core ML's classic model types cannot express.
    """

    steps = flatten_steps(source.model)
    pipe = SpecPipeline(defer_scalers=type(steps[-1]).__name__ in TREE_FAMILIES | set(BOOSTERS), source=source)
    features = preprocess(pipe, steps[:-1], schema)
    last, outputs = final_model(steps[-1], features, source)
    return finish(pipe, last, outputs, source, schema)


def finish(pipe: SpecPipeline, last: Any, outputs: list[Any], source: Any, schema: Any) -> Any:
    """The preprocessing models and the final one as the package's pipeline Model, with one named input
    per feature."""
    # Core ML's validator wants every classifier (and regressor) to name its prediction outputs.
    last.description.predictedFeatureName = "label" if source.task == "classification" else "value"
    if source.task == "classification":
        last.description.predictedProbabilitiesName = "probabilities"
    pipe.models.append(last)
    version = max(m.specificationVersion for m in pipe.models)
    inputs = [feature(f.name, "string" if f.type == "category" else "double") for f in schema.features]
    top = model(inputs, outputs, version)
    if source.task == "classification":
        container = top.pipelineClassifier.pipeline
        top.description.predictedFeatureName = "label"
        top.description.predictedProbabilitiesName = "probabilities"
    elif last.WhichOneof("Type") in ("neuralNetworkRegressor", "pipeline"):
        container = top.pipeline  # a neural network's value is an array, which a pipeline regressor may not give
    else:
        container = top.pipelineRegressor.pipeline
        top.description.predictedFeatureName = "value"
    container.models.extend(pipe.models)
    top.description.metadata.shortDescription = f"edgepack: {source.framework} {source.describe()['summary']}"
    return top
