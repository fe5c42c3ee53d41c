"""scikit-learn preprocessing as per-column specs: which input feature feeds each column the final
estimator sees, how it is encoded, and the elementwise float64 steps scikit-learn applies to it.

The specs serve twice: as a float32 TensorFlow graph (for linear models and MLPs), and as exact float64
functions that the tree lowering folds into split thresholds (trees compare in the input's own space,
so no float32 rounding of scaled values can flip a split).

Input (contract 2): one float32 tensor [N, F]; numbers as themselves (NaN missing), categories as their
index in the manifest's `categories`, -1 unknown, NaN missing (an encoded column says what a missing
category becomes: `Column.missing`, read from the fitted imputer and encoder themselves). Trees that decide in float64 take [N, F, 3] instead:
each of those values in three float32 parts (`base_parts`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ...runtime.errors import ModelError
from . import splines
from . import steps as step_math
from .steps import is_nan as is_nan  # the NaN test tree_ops shares


@dataclass(frozen=True)
class Step:
    """One elementwise float64 step, in scikit-learn's own order of operations.

    kind: "impute" (NaN -> a), "sub_div" ((x - a) / b), "mul_add" (x * a + b); and (steps.py, issue 18)
    "isnan" (1.0 where missing: SimpleImputer's indicator), "clip" (into [a, b]), "yeo_johnson" and
    "box_cox" (lambda a), "quantile" (QuantileTransformer, uniform: quantiles `table`, references
    `table2`), "bins" (KBinsDiscretizer's code: how many inner edges `table` are <= x), "eq" (1.0 where x == a),
    "log1p", "sqrt", "log", "exp", "abs" (FunctionTransformer with those numpy ufuncs).
    """

    kind: str
    a: float
    b: float = 0.0
    table: tuple[float, ...] = ()
    table2: tuple[float, ...] = ()

    def apply64(self, x: np.ndarray) -> np.ndarray:
        if self.kind == "impute":
            return np.where(np.isnan(x), self.a, x)
        if self.kind == "sub_div":
            return (x - self.a) / self.b
        if self.kind == "mul_add":
            return x * self.a + self.b
        return step_math.apply64(self, x)

    @property
    def increasing(self) -> bool:
        """Non-decreasing in x (a tree's threshold can be folded through it)."""
        if self.kind in ("sub_div", "mul_add"):
            return (self.b if self.kind == "sub_div" else self.a) > 0
        return self.kind not in ("eq", "abs")


@dataclass(frozen=True)
class Column:
    """One column of the final estimator's input, as a function of the input tensor.

    encode: "number" (the feature itself), "category" (a raw category index, not yet encoded),
    "onehot" (1.0 when the index equals `index`), "ordinal" (codes[index + 1]; codes[0] for unknown),
    "block" (output `index` of `block`, a dense operator over other columns; `feature` is -1).
    fill: on a "category" column, the category a SimpleImputer puts in place of a missing one.
    missing: on "onehot"/"ordinal", the encoded value of a missing category; None when it is the unknown one's.
    """

    feature: int
    encode: str
    index: int = -1
    codes: tuple[float, ...] = ()
    steps: tuple[Step, ...] = field(default_factory=tuple)
    block: Block | None = None
    fill: str | None = None
    missing: float | None = None

    @property
    def unknown(self) -> float:
        """The encoded value of an unknown category (index -1)."""
        if self.encode == "onehot":
            return float(self.index == -1)
        return self.codes[0] if self.encode == "ordinal" else np.nan

    def base64(self, x: np.ndarray) -> np.ndarray:
        """The encoded value (before steps) for input values x, in float64 (NaN: a missing category)."""
        if self.encode not in ("onehot", "ordinal"):
            return x.astype(np.float64)
        nan = np.isnan(x)
        known = np.where(nan, -1.0, x)
        if self.encode == "onehot":
            out = (known == self.index).astype(np.float64)
        else:
            out = np.asarray(self.codes, dtype=np.float64)[known.astype(np.int64) + 1]
        return out if self.missing is None else np.where(nan, self.missing, out)

    def chain64(self, base: np.ndarray) -> np.ndarray:
        for step in self.steps:
            base = step.apply64(base)
        return base


@dataclass(frozen=True, eq=False)
class Block:
    """Columns computed together by one dense float32 operator over the input tensor (PCA, TruncatedSVD,
    PolynomialFeatures, a stacking layer): `op(tf, x) -> [N, width]`. A tree cannot fold its thresholds
    through it (float32 arithmetic mixes columns), so trees after a block are refused by name."""

    name: str
    width: int
    op: Callable[[Any, Any], Any]

    def columns(self) -> list[Column]:
        return [Column(-1, "block", index=k, block=self) for k in range(self.width)]


def _selected(ct: Any, cols: Any, inputs: list[Column]) -> list[Column]:
    names = list(getattr(ct, "feature_names_in_", []))
    picked = []
    for c in (cols if isinstance(cols, (list, tuple, np.ndarray)) else [cols]):
        if isinstance(c, (bool, np.bool_)):
            raise ModelError("boolean column masks in a ColumnTransformer are not supported yet")
        picked.append(inputs[names.index(c)] if isinstance(c, str) else inputs[int(c)])
    return picked


def _with(col: Column, step: Step) -> Column:
    return replace(col, steps=(*col.steps, step))


def _encoder_columns(enc: Any, inputs: list[Column], schema: Any, onehot: bool) -> list[Column]:
    out = []
    for j, col in enumerate(inputs):
        if col.encode != "category":
            raise ModelError(f"{type(enc).__name__} on a numeric column is not supported in TFLite/TF.js",
                             fix="encode only string columns, or use the ONNX target")
        manifest = list(schema.features[col.feature].categories or ())
        cats = [str(c) for c in enc.categories_[j]]
        positions = [manifest.index(c) if c in manifest else -2 for c in cats]
        if onehot:
            start = sum(len(c) for c in enc.categories_[:j])
            missing = _missing_row(enc, j, col, start, start + len(cats))
            out.extend(_when_missing(Column(col.feature, "onehot", index=p), missing, k) for k, p in enumerate(positions))
        else:
            unknown = float(enc.unknown_value) if getattr(enc, "handle_unknown", "error") == "use_encoded_value" else np.nan
            codes = [unknown] * (len(manifest) + 1)
            for code, p in enumerate(positions):
                if p >= 0:
                    codes[p + 1] = float(code)
            out.append(_when_missing(Column(col.feature, "ordinal", codes=tuple(codes)), _missing_row(enc, j, col, j, j + 1), 0))
    return out


def _probe_rows(enc: Any, j: int, values: list[Any]) -> Any:
    """A frame of one row per value of input column j (the other columns at their first category)."""
    import pandas as pd

    names = list(getattr(enc, "feature_names_in_", range(len(enc.categories_))))
    first = [cats[0] for cats in enc.categories_]
    return pd.DataFrame([[*first[:j], v, *first[j + 1:]] for v in values], columns=names, dtype=object)


def _missing_row(enc: Any, j: int, col: Column, start: int, stop: int) -> np.ndarray | None:
    """The encoder's outputs start..stop for a missing category in input column j: what it makes of the
    imputer's fill, or of NaN (a category it may have learnt). None when it refuses it (then records with a
    missing category go as an unknown one, which it refuses or ignores too)."""
    try:
        return _encoded(enc, _probe_rows(enc, j, [np.nan if col.fill is None else col.fill]))[0, start:stop]
    except ValueError:
        return None


def _when_missing(col: Column, missing: np.ndarray | None, k: int) -> Column:
    """`col` with output k of `missing` as its value for a missing category, when that differs from the
    unknown category's (so models that treat the two alike keep their graph)."""
    if missing is None:
        return col
    unknown, value = col.unknown, float(missing[k])
    same = value == unknown or (np.isnan(value) and np.isnan(unknown))
    return col if same else replace(col, missing=value)


def _imputer(step: Any, inputs: list[Column]) -> list[Column]:
    if not (isinstance(step.missing_values, float) and np.isnan(step.missing_values)):
        raise ModelError("SimpleImputer with missing_values other than NaN is not supported in TFLite/TF.js")
    out = [_filled(c, v) if c.encode == "category" else _with(c, Step("impute", float(v)))
           for c, v in zip(inputs, step.statistics_)]
    if step.add_indicator:  # scikit-learn appends one 0/1 column per feature that had missing values at fit
        if any(inputs[j].encode == "category" for j in step.indicator_.features_):
            raise ModelError("SimpleImputer(add_indicator=True) on a category column is not supported in TFLite/TF.js")
        out += [_with(inputs[j], Step("isnan", 0.0)) for j in step.indicator_.features_]
    return out


def _filled(col: Column, value: Any) -> Column:
    """A category column after SimpleImputer (most_frequent or constant): a missing category becomes `value`."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return col  # no value learnt: scikit-learn leaves it missing
    return replace(col, fill=str(value))


def _encoded(enc: Any, rows: Any) -> np.ndarray:
    out = enc.transform(rows if hasattr(enc, "feature_names_in_") else rows.to_numpy())
    return np.asarray(out.toarray() if hasattr(out, "toarray") else out, dtype=np.float64)


def _probed_onehot(enc: Any, inputs: list[Column], schema: Any) -> list[Column]:
    """OneHotEncoder with drop= or infrequent categories: each output column as a gather table over the
    manifest's categories (and unknown), read by running the encoder itself on every category."""
    widths = list(enc._n_features_outs)
    out: list[Column] = []
    for j, col in enumerate(inputs):
        if col.encode != "category":
            raise ModelError("OneHotEncoder on a numeric column is not supported in TFLite/TF.js",
                             fix="encode only string columns, or use the ONNX target")
        manifest = list(schema.features[col.feature].categories or ())
        by_text = {str(c): c for c in enc.categories_[j]}
        probes = ["\x00edgepack-unknown"] + [by_text.get(c, "\x00edgepack-unknown") for c in manifest]
        rows = _probe_rows(enc, j, probes)
        try:
            table = _encoded(enc, rows)
        except ValueError:  # handle_unknown="error": records with unknown categories are refused before scoring
            known = _encoded(enc, rows.iloc[1:])
            table = np.vstack([np.zeros((1, known.shape[1])), known])
        start = sum(widths[:j])
        missing = _missing_row(enc, j, col, start, start + widths[j])
        out.extend(_when_missing(Column(col.feature, "ordinal", codes=tuple(float(v) for v in table[:, k])), missing, k - start)
                   for k in range(start, start + widths[j]))
    return out


def _dense(name: str, inputs: list[Column], weights: np.ndarray, shift: np.ndarray | None = None) -> list[Column]:
    """(z - shift) @ weights over the input columns, as one block (PCA, TruncatedSVD)."""
    w = weights.astype(np.float32)
    center = None if shift is None else shift.astype(np.float32)

    def op(tf: Any, x: Any) -> Any:
        z = transformed_tensor(tf, x, inputs)
        return tf.matmul(z if center is None else z - center, w)

    return Block(name, w.shape[1], op).columns()


def _polynomial(step: Any, inputs: list[Column]) -> list[Column]:
    """Each output the product of its inputs' powers (powers_), as one block: factors gathered from the
    columns plus a column of ones, one multiplication per degree."""
    powers = np.asarray(step.powers_)
    degree = max(int(powers.sum(axis=1).max()), 1)
    factors = np.full((degree, len(powers)), len(inputs), dtype=np.int32)  # index len(inputs): the ones column
    for k, row in enumerate(powers):
        picked = [j for j, p in enumerate(row) for _ in range(int(p))]
        factors[:len(picked), k] = picked

    def op(tf: Any, x: Any) -> Any:
        z = transformed_tensor(tf, x, inputs)
        z1 = tf.concat([z, tf.ones_like(z[:, :1])], axis=1)
        out = tf.gather(z1, factors[0], axis=1)
        for d in range(1, degree):
            out = out * tf.gather(z1, factors[d], axis=1)
        return out

    return Block("PolynomialFeatures", len(powers), op).columns()


def _kbins(step: Any, inputs: list[Column]) -> list[Column]:
    if step.encode == "onehot":
        raise ModelError("KBinsDiscretizer(encode='onehot') gives a sparse matrix; TFLite/TF.js take "
                         "encode='onehot-dense' or 'ordinal'", fix="fit with encode='onehot-dense'")
    coded = [_with(c, Step("bins", 0.0, table=tuple(float(e) for e in edges[1:-1])))
             for c, edges in zip(inputs, step.bin_edges_)]
    if step.encode == "ordinal":
        return coded
    return [_with(c, Step("eq", float(b))) for c, n in zip(coded, step.n_bins_) for b in range(int(n))]


def _quantile(step: Any, inputs: list[Column]) -> list[Column]:
    if step.output_distribution != "uniform":
        raise ModelError("QuantileTransformer(output_distribution='normal') is not supported in TFLite/TF.js "
                         "(its inverse normal CDF has no builtin operator)", fix="use output_distribution='uniform'")
    refs = tuple(float(r) for r in step.references_)
    return [_with(c, Step("quantile", 0.0, table=tuple(float(q) for q in step.quantiles_[:, j]), table2=refs))
            for j, c in enumerate(inputs)]


def _power(step: Any, inputs: list[Column]) -> list[Column]:
    kind = "yeo_johnson" if step.method == "yeo-johnson" else "box_cox"
    out = [_with(c, Step(kind, float(lam))) for c, lam in zip(inputs, step.lambdas_)]
    return transform_columns(step._scaler, out, None) if step.standardize else out


FUNCTIONS = {"log1p": "log1p", "sqrt": "sqrt", "log": "log", "exp": "exp", "absolute": "abs"}  # numpy ufunc -> step kind
TEXT = ("TfidfVectorizer", "CountVectorizer", "HashingVectorizer", "TfidfTransformer")


def _function(step: Any, inputs: list[Column]) -> list[Column]:
    if step.func is None:
        return inputs
    kind = FUNCTIONS.get(getattr(step.func, "__name__", ""))
    if kind is None or not isinstance(step.func, np.ufunc) or step.kw_args:
        raise ModelError(f"FunctionTransformer({getattr(step.func, '__name__', step.func)}) is not supported in "
                         "TFLite/TF.js (a Python function cannot be read as operators)",
                         fix=f"use one of the numpy ufuncs {', '.join('np.' + n for n in FUNCTIONS)}")
    if any(c.encode == "category" for c in inputs):
        raise ModelError(f"FunctionTransformer(np.{kind}) on a category column is not supported")
    return [_with(c, Step(kind, 0.0)) for c in inputs]


def _target_encoder(enc: Any, inputs: list[Column], schema: Any) -> list[Column]:
    """TargetEncoder at predict time: each category's learnt encoding (one column per class for a
    multiclass target), the target mean for a category unseen at fit, as gather tables."""
    per_class = len(enc.classes_) if getattr(enc, "target_type_", "") == "multiclass" else 1
    means = np.atleast_1d(enc.target_mean_)
    out: list[Column] = []
    for j, col in enumerate(inputs):
        if col.encode != "category":
            raise ModelError("TargetEncoder on a numeric column is not supported in TFLite/TF.js",
                             fix="encode only string columns, or use the ONNX target")
        manifest = list(schema.features[col.feature].categories or ())
        cats = [str(c) for c in enc.categories_[j]]
        for k in range(per_class):
            values = enc.encodings_[j * per_class + k]
            codes = [float(means[k])] + [float(values[cats.index(c)]) if c in cats else float(means[k]) for c in manifest]
            missing = _missing_row(enc, j, col, j * per_class, (j + 1) * per_class)
            out.append(_when_missing(Column(col.feature, "ordinal", codes=tuple(codes)), missing, k))
    return out


def transform_columns(step: Any, inputs: list[Column], schema: Any) -> list[Column]:
    """The columns a fitted transformer outputs, given the columns it takes. Raises ModelError for
    settings the lowering does not cover (each named)."""
    name = type(step).__name__
    if name == "Pipeline":
        for _, inner in step.steps:
            if inner not in (None, "passthrough"):
                inputs = transform_columns(inner, inputs, schema)
        return inputs
    if name == "ColumnTransformer":
        out: list[Column] = []
        for _, trans, cols in step.transformers_:
            if trans == "drop":
                continue
            picked = _selected(step, cols, inputs)
            out.extend(picked if trans == "passthrough" else transform_columns(trans, picked, schema))
        return out
    if name == "SimpleImputer":
        return _imputer(step, inputs)
    if name == "StandardScaler":
        mean = step.mean_ if step.with_mean else None
        scale = step.scale_ if step.with_std else None
        return [_with(c, Step("sub_div", float(mean[j]) if mean is not None else 0.0,
                              float(scale[j]) if scale is not None else 1.0)) for j, c in enumerate(inputs)]
    if name == "RobustScaler":
        center = step.center_ if step.with_centering else None
        scale = step.scale_ if step.with_scaling else None
        return [_with(c, Step("sub_div", float(center[j]) if center is not None else 0.0,
                              float(scale[j]) if scale is not None else 1.0)) for j, c in enumerate(inputs)]
    if name == "MinMaxScaler":
        out = [_with(c, Step("mul_add", float(step.scale_[j]), float(step.min_[j]))) for j, c in enumerate(inputs)]
        lo, hi = (float(v) for v in step.feature_range)
        return [_with(c, Step("clip", lo, hi)) for c in out] if step.clip else out
    if name == "OneHotEncoder" and (getattr(step, "drop_idx_", None) is not None
                                    or getattr(step, "infrequent_categories_", None)):
        return _probed_onehot(step, inputs, schema)
    if name in ("OneHotEncoder", "OrdinalEncoder"):
        if getattr(step, "infrequent_categories_", None):
            raise ModelError(f"{name} with infrequent categories is not supported in TFLite/TF.js yet")
        return _encoder_columns(step, inputs, schema, onehot=name == "OneHotEncoder")
    if name == "PCA":
        weights = step.components_.T / (np.sqrt(step.explained_variance_) if step.whiten else 1.0)
        return _dense(name, inputs, weights, step.mean_)
    if name == "TruncatedSVD":
        return _dense(name, inputs, step.components_.T)
    if name == "PolynomialFeatures":
        return _polynomial(step, inputs)
    if name == "KBinsDiscretizer":
        return _kbins(step, inputs)
    if name == "QuantileTransformer":
        return _quantile(step, inputs)
    if name == "PowerTransformer":
        return _power(step, inputs)
    if name == "FunctionTransformer":
        return _function(step, inputs)
    if name == "TargetEncoder":
        return _target_encoder(step, inputs, schema)
    if name in TEXT:
        raise ModelError(f"{name} is not supported in TFLite/TF.js: it tokenises string input, and these formats "
                         "take one float32 tensor of numbers and category indices (contract 2)",
                         fix="use the ONNX target (or the generated JavaScript) for text models")
    if name == "SplineTransformer":
        width, basis = splines.basis(step)
        return Block(name, width, lambda tf, x: basis(tf, transformed_tensor(tf, x, inputs))).columns()
    raise ModelError(f"no TensorFlow lowering for {name}")


def input_columns(source: Any, schema: Any) -> list[Column]:
    """The final estimator's input columns for the source's model."""
    from sklearn.pipeline import Pipeline

    raw = [Column(i, "category" if f.type == "category" else "number") for i, f in enumerate(schema.features)]
    model = source.model
    cols = transform_columns(model[:-1], raw, schema) if isinstance(model, Pipeline) and len(model.steps) > 1 else raw
    if any(c.encode == "category" for c in cols):
        raise ModelError("a category column reaches the estimator without an encoder")
    return cols


# --- the float32 graph --------------------------------------------------------------------------


def base_tensor(tf: Any, x: Any, cols: list[Column]) -> Any:
    """[N, len(cols)]: each column's encoded value (before steps), float32, exact."""
    numbers = [j for j, c in enumerate(cols) if c.encode == "number"]
    onehots = [j for j, c in enumerate(cols) if c.encode == "onehot"]
    ordinals = [j for j, c in enumerate(cols) if c.encode == "ordinal"]
    blocks: dict[Block, list[int]] = {}
    for j, c in enumerate(cols):
        if c.block is not None:
            blocks.setdefault(c.block, []).append(j)
    parts, order = [], []
    for block, members in blocks.items():  # each block computed once, its columns picked
        parts.append(tf.gather(block.op(tf, x), np.array([cols[j].index for j in members], np.int32), axis=1))
        order += members
    if numbers:
        parts.append(tf.gather(x, [cols[j].feature for j in numbers], axis=1))
        order += numbers
    if onehots:
        picked = tf.gather(x, [cols[j].feature for j in onehots], axis=1)
        known = picked  # a missing category (NaN) is an unknown one (-1) unless the column says otherwise
        if any(cols[j].index == -1 for j in onehots):  # Spark's slot for the unknown category
            known = tf.where(is_nan(tf, picked), -tf.ones_like(picked), picked)
        hot = tf.cast(tf.equal(known, np.array([cols[j].index for j in onehots], np.float32)), tf.float32)
        parts.append(_missing_as(tf, picked, hot, [cols[j] for j in onehots]))
        order += onehots
    if ordinals:
        table, offsets = [], []
        for j in ordinals:
            offsets.append(len(table) + 1)  # +1: index -1 (unknown) reads codes[0]
            table.extend(cols[j].codes)
        picked = tf.gather(x, [cols[j].feature for j in ordinals], axis=1)
        # a missing category (NaN) reads the unknown code (NaN has no integer), then its own where it differs
        known = tf.where(is_nan(tf, picked), -tf.ones_like(picked), picked)
        flat = tf.cast(known, tf.int32) + np.array(offsets, np.int32)
        coded = tf.gather(np.array(table, np.float32), flat)
        parts.append(_missing_as(tf, picked, coded, [cols[j] for j in ordinals]))
        order += ordinals
    base = tf.concat(parts, axis=1) if len(parts) > 1 else parts[0]
    if order != list(range(len(cols))):
        base = tf.gather(base, np.argsort(order).astype(np.int32), axis=1)
    return base


def _missing_as(tf: Any, picked: Any, encoded: Any, cols: list[Column]) -> Any:
    """`encoded`, with each column's `missing` value where its input category is missing (NaN)."""
    if all(c.missing is None for c in cols):
        return encoded
    values = np.array([c.missing if c.missing is not None else c.unknown for c in cols], np.float32)
    return tf.where(is_nan(tf, picked), tf.zeros_like(encoded) + values, encoded)


def base_parts(tf: Any, x: Any, cols: list[Column]) -> list[Any]:
    """For an input of float64 parts [N, F, 3] (runtime/records.py float64_parts): each column's encoded
    value as three [N, len(cols)] parts. Encodings read the hi part (a category code is an integer, carried
    whole by hi); the mid and lo parts are the input's own, 0 for category codes."""
    parts = [x[:, :, k] for k in range(3)]
    features = np.array([c.feature for c in cols], np.int32)
    rest = [tf.gather(p, features, axis=1) for p in parts[1:]]
    if any(c.encode != "number" for c in cols):  # a missing category's parts are NaN, its code is not: 0 as any code's
        rest = [tf.where(is_nan(tf, p), tf.zeros_like(p), p) for p in rest]
    return [base_tensor(tf, parts[0], cols), *rest]


def transformed_tensor(tf: Any, x: Any, cols: list[Column]) -> Any:
    """[N, len(cols)]: the preprocessing output in float32 (steps vectorised over columns that share
    the same sequence of step kinds)."""
    base = base_tensor(tf, x, cols)
    groups: dict[tuple[str, ...], list[int]] = {}
    for j, c in enumerate(cols):
        groups.setdefault(tuple(s.kind for s in c.steps), []).append(j)
    if list(groups) == [()]:
        return base
    parts, order = [], []
    for kinds, members in groups.items():
        v = tf.gather(base, np.array(members, np.int32), axis=1) if len(groups) > 1 else base
        for k, kind in enumerate(kinds):
            v = step_math.tensor(tf, v, kind, [cols[j].steps[k] for j in members])
        parts.append(v)
        order += members
    out = tf.concat(parts, axis=1) if len(parts) > 1 else parts[0]
    if order != list(range(len(cols))):
        out = tf.gather(out, np.argsort(order).astype(np.int32), axis=1)
    return out
