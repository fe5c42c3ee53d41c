"""Read the user's sample and infer the input schema from it and the model.

The sample is the model's training-like data: it fixes feature types, categories, observed ranges,
missing-value rates, and the rows the golden vectors come from.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from ...runtime.batch import BatchValidator
from ...runtime.errors import DataError
from ...runtime.records import reason_text
from ...runtime.schema import STRING_TYPES, Feature, IOSchema
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
        elif getattr(source, "is_text", None) and source.is_text(name):  # documents: any string, no categories
            features.append(Feature(name=str(name), type="text", nullable=_accepts(source, frame, name, np.nan),
                                    missing_rate=missing_rate))
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
        if feat.type in STRING_TYPES:  # str, or None where missing (as the runtime's records hold them)
            columns[feat.name] = np.array([None if _missing(v) else str(v) for v in col], dtype=object)
        else:
            columns[feat.name] = col.astype(float).to_numpy(dtype=np.float64)
    return columns


def records_from_frame(frame: Any, schema: IOSchema) -> list[dict[str, Any]]:
    """JSON-ready records of a table's feature columns (the one place a table row becomes a record)."""
    return [record_from_row(schema, row) for row in frame[schema.names].itertuples(index=False, name=None)]


def record_from_row(schema: IOSchema, row: Sequence[Any]) -> dict[str, Any]:
    """A row (schema order) as the record a device would receive: a missing cell (None, NaN, pandas' NA or
    NaT) as null, categories as text, whole numbers of int features as ints, booleans kept as booleans
    (a float feature refuses them, as it refuses JSON's `true`), other numbers as floats; anything else is
    left as it is for the record rules to refuse."""
    record: dict[str, Any] = {}
    for feat, value in zip(schema.features, row):
        if isinstance(value, np.generic):
            value = value.item()
        if _missing(value):
            record[feat.name] = None
        elif feat.type in STRING_TYPES:
            record[feat.name] = str(value)
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            record[feat.name] = value
        elif feat.type in ("int", "bool") and float(value).is_integer():
            record[feat.name] = int(value)
        else:
            record[feat.name] = float(value)
    return record


def _missing(value: Any) -> bool:
    import pandas as pd

    if value is None:
        return True
    return np.ndim(value) == 0 and not isinstance(value, str) and bool(pd.isna(value))


def value_columns(frame: Any, schema: IOSchema) -> list[Any]:
    """A frame's feature columns as the record rules take them (runtime/batch.py: BatchValidator.columns):
    a numeric column (not boolean) as float64 with NaN for missing; any other column as its Python values
    with None for missing (pandas' NA, NaT), so that a boolean or a string is judged as such."""
    import pandas as pd

    columns = []
    for name in schema.names:
        col = frame[name]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            columns.append(col.to_numpy(dtype=np.float64, na_value=np.nan))
        else:
            values = col.astype(object).where(col.notna(), None).tolist()
            # Parquet decimals arrive as Decimal objects: numbers, as a JSON number would be
            columns.append([float(v) if isinstance(v, Decimal) else v for v in values])
    return columns


def validate_frame(schema: IOSchema, frame: Any) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Validate a frame's records by the device's rules (runtime/batch.py). Returns (feature columns as the
    runtime takes them, the error of each row: None when valid, else "field: reason" for its first
    failing field in schema order, in the device's words)."""
    validator = BatchValidator(schema)
    values = value_columns(frame, schema)
    checked = validator.columns(values)
    errors = np.full(len(frame), None, dtype=object)
    for i in np.flatnonzero(checked.bad).tolist():
        errors[i] = reason_text(validator.reason(validator.record_from_columns(values, i)))
    return checked.columns, errors


def mixed_cell(frame: Any) -> str | None:
    """Where a column of numbers holds text ("column 'x', row 5: 'lots'"), the usual reason a model cannot
    predict on a sample; None when no column mixes them."""
    import pandas as pd

    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column):
            continue
        numbers = pd.to_numeric(column, errors="coerce")
        text = numbers.isna() & column.notna()
        if numbers.notna().sum() > text.sum() > 0:  # mostly numbers, some text
            row = int(text.to_numpy().nonzero()[0][0])
            return f"column {name!r}, row {row + 1}: {column.iloc[row]!r}"
    return None
