"""Read the user's sample and infer the input schema from it and the model.

The sample is the model's training-like data: it fixes feature types, categories, observed ranges,
missing-value rates, and the rows the golden vectors come from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...runtime.errors import DataError
from ...runtime.schema import Feature, IOSchema
from .sklearn import walk

PROBE_CATEGORY = "__edgepack_unseen__"


def read_table(path: Path) -> Any:
    """A CSV or Parquet file as a pandas DataFrame. Raises DataError when it cannot be read."""
    import pandas as pd

    if not path.is_file():
        raise DataError(f"no sample file at {path}", fix="pass --sample with a CSV of the model's input columns")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except Exception as exc:  # pandas raises many parser error types
        raise DataError(f"cannot read {path.name}: {exc}", where=str(path),
                        fix="pass a CSV with a header row (or a Parquet file)") from exc


def feature_frame(source: Any, table: Any, label_column: str | None, where: str) -> Any:
    """The model's feature columns from the table, in model order, with clean dtypes."""
    import pandas as pd

    columns = [c for c in table.columns if c != label_column]
    if label_column and label_column not in table.columns:
        raise DataError(f"label column {label_column!r} is not in the sample", where=where,
                        fix=f"columns are: {', '.join(map(str, table.columns))}")
    names = source.feature_names([str(c) for c in columns])
    missing = [n for n in names if n not in table.columns]
    if missing:
        raise DataError(f"the sample lacks the model's columns: {', '.join(missing)}", where=where,
                        fix="pass a sample with the columns the model was trained on")
    frame = table[names].copy()
    for name in names:
        col = frame[name]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            continue
        # pandas 3 gives strings their own dtype: normalise to object so scikit-learn sees what it saw in training,
        # a missing value as NaN (what pandas' readers give, and SimpleImputer's default missing_values).
        frame[name] = col.astype(object).where(col.notna(), np.nan)
    if len(frame) == 0:
        raise DataError("the sample has no rows", where=where, fix="pass at least a few rows (64 or more recommended)")
    return frame


def infer_schema(source: Any, frame: Any) -> IOSchema:
    """Feature types and statistics from the sample; nullability and unknown-category handling by probing
    the model itself (a model that accepts NaN in a column makes that column nullable)."""
    import pandas as pd

    features = []
    for name in frame.columns:
        col = frame[name]
        missing_rate = float(col.isna().mean())
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            ftype = "bool" if pd.api.types.is_bool_dtype(col) else ("int" if pd.api.types.is_integer_dtype(col) else "float")
            values = col.dropna().astype(float)
            features.append(Feature(
                name=str(name), type=ftype,
                nullable=missing_rate > 0 or _accepts(source, frame, name, np.nan),
                min=_num(values.min()), max=_num(values.max()), missing_rate=missing_rate,
                mean=_num(values.mean()), std=_num(values.std(ddof=0)),
            ))
        else:
            # A missing category (None/NaN) is the model's business: scikit-learn's SimpleImputer fills it and
            # OneHotEncoder gives it its own column or ignores it; the column is nullable when the sample has
            # some or the model takes one (probed). It reaches string tensors as "" (contract 2).
            present = col[col.notna()].astype(str)
            counts = present.value_counts(normalize=True)
            categories = _model_categories(source, name) or sorted(counts.index)
            features.append(Feature(
                name=str(name), type="category", categories=tuple(categories),
                nullable=missing_rate > 0 or _accepts(source, frame, name, np.nan),
                unknown="ignore" if _accepts(source, frame, name, PROBE_CATEGORY) else "error",
                missing_rate=missing_rate, frequencies={str(k): round(float(v), 6) for k, v in counts.items()},
            ))
    return IOSchema(features=tuple(features), task=source.task, classes=tuple(source.classes))


def _num(value: Any) -> float | None:
    value = float(value)
    return None if np.isnan(value) else value


def _accepts(source: Any, frame: Any, name: str, value: Any) -> bool:
    """Does the model predict (finite outputs) when `name` holds `value`? Probing beats guessing from
    estimator internals: it is exactly what scikit-learn will do with such a record."""
    probe = frame.head(8).copy()
    if value is np.nan and probe[name].dtype.kind in "iub":
        probe[name] = probe[name].astype(float)
    probe[name] = value
    try:
        out = source.predict(probe)
    except Exception:  # scikit-learn raises ValueError and others on inputs it cannot take
        return False
    return all(np.all(np.isfinite(np.asarray(v, dtype=float))) for k, v in out.items() if k != "label")


def missing_differs_from_unknown(source: Any, frame: Any, name: str) -> bool:
    """Does the model treat a missing category in `name` otherwise than an unseen one (an imputer fills it,
    or a one-hot encoder learnt it as a category)? Formats that encode a missing category as an unknown one
    can only take the model when it does not."""
    probe = frame.head(16).copy()
    try:
        probe[name] = np.nan
        missing = source.predict(probe)
        probe[name] = PROBE_CATEGORY
        unknown = source.predict(probe)
    except Exception:  # the model refuses one of them: they differ
        return True
    return any(not np.allclose(np.asarray(missing[k], dtype=float), np.asarray(unknown[k], dtype=float), equal_nan=True)
               for k in missing if k != "label")


def _model_categories(source: Any, name: str) -> list[str] | None:
    """The categories a fitted encoder knows for a column (wider than the sample may show)."""
    if hasattr(source, "categories_for"):  # sources that know their encoders' categories say so
        return source.categories_for(name)
    model = getattr(source, "model", None)
    if model is None:
        return None

    for part in walk(model):
        if type(part).__name__ != "ColumnTransformer":
            continue
        for _, trans, cols in part.transformers_:
            cols = list(cols) if not isinstance(cols, str) else [cols]
            if name not in cols:
                continue
            for inner in walk(trans) if trans not in ("drop", "passthrough") else []:
                cats = getattr(inner, "categories_", None)
                if cats is not None:  # a missing value learnt as a category is not one a record names
                    return [str(c) for c in cats[cols.index(name)] if isinstance(c, str)]
    return None


def frame_columns(frame: Any, schema: IOSchema) -> dict[str, np.ndarray]:
    """A feature DataFrame as the runtime's columns: float64 with NaN, or str objects."""
    columns = {}
    for feat in schema.features:
        col = frame[feat.name]
        if feat.type == "category":  # str, or None where missing (as the runtime's records hold them)
            columns[feat.name] = np.array([None if _missing(v) else str(v) for v in col], dtype=object)
        else:
            columns[feat.name] = col.astype(float).to_numpy(dtype=np.float64)
    return columns


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def records_from_frame(frame: Any, schema: IOSchema) -> list[dict[str, Any]]:
    """JSON-ready records: NaN as null, integers as ints."""
    records = []
    for row in frame.itertuples(index=False, name=None):
        record = {}
        for feat, value in zip(schema.features, row):
            if _missing(value):
                record[feat.name] = None
            elif feat.type == "category":
                record[feat.name] = str(value)
            elif value is None or (isinstance(value, float) and np.isnan(value)):
                record[feat.name] = None
            elif feat.type == "int":
                record[feat.name] = int(value)
            elif feat.type == "bool":
                record[feat.name] = bool(value)
            else:
                record[feat.name] = float(value)
        records.append(record)
    return records


def validate_frame(schema: IOSchema, frame: Any) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Vectorised record validation. Returns (feature columns as the runtime takes them, the error of each
    row: None when valid, else "field: reason" for its first failing field in schema order)."""
    import pandas as pd

    n = len(frame)
    errors = np.full(n, None, dtype=object)
    columns: dict[str, np.ndarray] = {}

    def fail(mask: np.ndarray, field: str, reason: str) -> None:
        hit = mask & np.equal(errors, None)
        errors[hit] = f"{field}: {reason}"

    for feat in schema.features:
        raw = frame[feat.name]
        missing = raw.isna().to_numpy()
        if feat.type == "category":
            values = raw.astype(object).to_numpy()
            if not feat.nullable:
                fail(missing, feat.name, "missing value (null or NaN) where the model needs one")
            is_str = np.fromiter((isinstance(v, str) for v in values), dtype=bool, count=n)
            fail(~is_str & ~missing, feat.name, "expected a category (string)")
            if feat.categories is not None and feat.unknown == "error":
                known = pd.Series(values).isin(list(feat.categories)).to_numpy()
                fail(is_str & ~known, feat.name, "unknown category; the model knows: " + ", ".join(feat.categories[:8]))
            values = np.where(is_str, values, "")
            columns[feat.name] = values.astype(object)
            continue
        if pd.api.types.is_bool_dtype(raw) or pd.api.types.is_numeric_dtype(raw):
            numbers = raw.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            numbers = pd.to_numeric(raw, errors="coerce").astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
            fail(np.isnan(numbers) & ~missing, feat.name, "expected a number")
        nan = np.isnan(numbers)
        if not feat.nullable:
            fail(nan, feat.name, "missing value (null or NaN) where the model needs one")
        fail(np.isinf(numbers), feat.name, "infinity is not a valid value")
        finite = np.isfinite(numbers)
        if feat.type == "int":
            fail(finite & (numbers != np.round(numbers)), feat.name, "expected an integer")
        if feat.type == "bool":
            fail(finite & (numbers != 0) & (numbers != 1), feat.name, "expected a boolean (true/false or 0/1)")
        columns[feat.name] = np.where(np.isinf(numbers), np.nan, numbers)
    return columns, errors
