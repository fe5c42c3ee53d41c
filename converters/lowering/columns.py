"""scikit-learn preprocessing as per-column specs: which input feature feeds each column the final
estimator sees, how it is encoded, and the elementwise float64 steps scikit-learn applies to it.

The specs serve twice: as a float32 TensorFlow graph (for linear models and MLPs), and as exact float64
functions that the tree lowering folds into split thresholds (trees compare in the input's own space,
so no float32 rounding of scaled values can flip a split).

Input (contract 2): one float32 tensor [N, F]; numbers as themselves (NaN missing), categories as their
index in the manifest's `categories`, -1 unknown. Trees that decide in float64 take [N, F, 3] instead:
each of those values in three float32 parts (`base_parts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...runtime.errors import ModelError


@dataclass(frozen=True)
class Step:
    """One elementwise float64 step, in scikit-learn's own order of operations."""

    kind: str  # "impute" (NaN -> a), "sub_div" ((x - a) / b), "mul_add" (x * a + b)
    a: float
    b: float = 0.0

    def apply64(self, x: np.ndarray) -> np.ndarray:
        if self.kind == "impute":
            return np.where(np.isnan(x), self.a, x)
        if self.kind == "sub_div":
            return (x - self.a) / self.b
        return x * self.a + self.b

    @property
    def increasing(self) -> bool:
        return self.kind == "impute" or (self.kind == "sub_div" and self.b > 0) or (self.kind == "mul_add" and self.a > 0)


@dataclass(frozen=True)
class Column:
    """One column of the final estimator's input, as a function of the input tensor.

    encode: "number" (the feature itself), "category" (a raw category index, not yet encoded),
    "onehot" (1.0 when the index equals `index`), "ordinal" (codes[index + 1]; codes[0] for unknown).
    """

    feature: int
    encode: str
    index: int = -1
    codes: tuple[float, ...] = ()
    steps: tuple[Step, ...] = field(default_factory=tuple)

    def base64(self, x: np.ndarray) -> np.ndarray:
        """The encoded value (before steps) for input values x, in float64."""
        if self.encode == "onehot":
            return (x == self.index).astype(np.float64)
        if self.encode == "ordinal":
            return np.asarray(self.codes, dtype=np.float64)[x.astype(np.int64) + 1]
        return x.astype(np.float64)

    def chain64(self, base: np.ndarray) -> np.ndarray:
        for step in self.steps:
            base = step.apply64(base)
        return base


def _selected(ct: Any, cols: Any, inputs: list[Column]) -> list[Column]:
    names = list(getattr(ct, "feature_names_in_", []))
    picked = []
    for c in (cols if isinstance(cols, (list, tuple, np.ndarray)) else [cols]):
        if isinstance(c, (bool, np.bool_)):
            raise ModelError("boolean column masks in a ColumnTransformer are not supported yet")
        picked.append(inputs[names.index(c)] if isinstance(c, str) else inputs[int(c)])
    return picked


def _with(col: Column, step: Step) -> Column:
    return Column(col.feature, col.encode, col.index, col.codes, (*col.steps, step))


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
            out.extend(Column(col.feature, "onehot", index=p) for p in positions)
        else:
            unknown = float(enc.unknown_value) if getattr(enc, "handle_unknown", "error") == "use_encoded_value" else np.nan
            codes = [unknown] * (len(manifest) + 1)
            for code, p in enumerate(positions):
                if p >= 0:
                    codes[p + 1] = float(code)
            out.append(Column(col.feature, "ordinal", codes=tuple(codes)))
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
        if step.add_indicator:
            raise ModelError("SimpleImputer(add_indicator=True) is not supported in TFLite/TF.js yet")
        if not (isinstance(step.missing_values, float) and np.isnan(step.missing_values)):
            raise ModelError("SimpleImputer with missing_values other than NaN is not supported in TFLite/TF.js")
        return [c if c.encode == "category" else _with(c, Step("impute", float(v)))
                for c, v in zip(inputs, step.statistics_)]
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
        if step.clip:
            raise ModelError("MinMaxScaler(clip=True) is not supported in TFLite/TF.js yet")
        return [_with(c, Step("mul_add", float(step.scale_[j]), float(step.min_[j]))) for j, c in enumerate(inputs)]
    if name in ("OneHotEncoder", "OrdinalEncoder"):
        if getattr(step, "drop_idx_", None) is not None or getattr(step, "infrequent_categories_", None):
            raise ModelError(f"{name} with drop= or infrequent categories is not supported in TFLite/TF.js yet")
        return _encoder_columns(step, inputs, schema, onehot=name == "OneHotEncoder")
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


def is_nan(tf: Any, v: Any) -> Any:
    """NaN test with builtin ops only (TFLite has no IsNan builtin): NaN is the one value unequal to itself."""
    return tf.math.not_equal(v, v)


def base_tensor(tf: Any, x: Any, cols: list[Column]) -> Any:
    """[N, len(cols)]: each column's encoded value (before steps), float32, exact."""
    numbers = [j for j, c in enumerate(cols) if c.encode == "number"]
    onehots = [j for j, c in enumerate(cols) if c.encode == "onehot"]
    ordinals = [j for j, c in enumerate(cols) if c.encode == "ordinal"]
    parts, order = [], []
    if numbers:
        parts.append(tf.gather(x, [cols[j].feature for j in numbers], axis=1))
        order += numbers
    if onehots:
        picked = tf.gather(x, [cols[j].feature for j in onehots], axis=1)
        parts.append(tf.cast(tf.equal(picked, np.array([cols[j].index for j in onehots], np.float32)), tf.float32))
        order += onehots
    if ordinals:
        table, offsets = [], []
        for j in ordinals:
            offsets.append(len(table) + 1)  # +1: index -1 (unknown) reads codes[0]
            table.extend(cols[j].codes)
        picked = tf.gather(x, [cols[j].feature for j in ordinals], axis=1)
        flat = tf.cast(picked, tf.int32) + np.array(offsets, np.int32)
        parts.append(tf.gather(np.array(table, np.float32), flat))
        order += ordinals
    base = tf.concat(parts, axis=1) if len(parts) > 1 else parts[0]
    if order != list(range(len(cols))):
        base = tf.gather(base, np.argsort(order).astype(np.int32), axis=1)
    return base


def base_parts(tf: Any, x: Any, cols: list[Column]) -> list[Any]:
    """For an input of float64 parts [N, F, 3] (runtime/records.py float64_parts): each column's encoded
    value as three [N, len(cols)] parts. Encodings read the hi part (a category code is an integer, carried
    whole by hi); the mid and lo parts are the input's own, 0 for category codes."""
    parts = [x[:, :, k] for k in range(3)]
    features = np.array([c.feature for c in cols], np.int32)
    return [base_tensor(tf, parts[0], cols), *(tf.gather(p, features, axis=1) for p in parts[1:])]


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
            a = np.array([cols[j].steps[k].a for j in members], np.float32)
            b = np.array([cols[j].steps[k].b for j in members], np.float32)
            if kind == "impute":
                v = tf.where(is_nan(tf, v), a, v)
            elif kind == "sub_div":
                v = (v - a) / b
            else:
                v = v * a + b
        parts.append(v)
        order += members
    out = tf.concat(parts, axis=1) if len(parts) > 1 else parts[0]
    if order != list(range(len(cols))):
        out = tf.gather(out, np.argsort(order).astype(np.int32), axis=1)
    return out
