"""Validate input records against the schema and encode them into the tensors an artifact takes.

One bad record never stops the others: `encode_records` returns the good rows' tensors and a list of
rejections (record index, field, reason). The rules and messages match web/ (edgepack-web).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import RecordError
from .schema import STRING_TYPES, Feature, IOSchema


@dataclass(frozen=True)
class Rejection:
    index: int
    field: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"record": self.index, "field": self.field, "reason": self.reason}


def _check_value(feat: Feature, value: Any) -> Any:
    """Return the value to store (float, or str for categories); raise RecordError with the reason."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        if feat.nullable:
            return None
        raise RecordError("missing value (null or NaN) where the model needs one", field=feat.name)
    if feat.type == "text":  # any string: its words are the model's business (an unseen word counts for nothing)
        if not isinstance(value, str):
            raise RecordError(f"expected text (a string), got {type(value).__name__} {value!r}", field=feat.name)
        if not is_text(value):
            raise RecordError(f"not valid Unicode text (a lone surrogate) in {value!r}", field=feat.name)
        return value
    if feat.type == "category":
        if not isinstance(value, str):
            raise RecordError(f"expected a category (string), got {type(value).__name__} {value!r}", field=feat.name)
        if not is_text(value):
            raise RecordError(f"not valid Unicode text (a lone surrogate) in {value!r}", field=feat.name)
        if feat.categories is not None and value not in feat.categories and feat.unknown == "error":
            shown = ", ".join(feat.categories[:8]) + (", ..." if len(feat.categories) > 8 else "")
            raise RecordError(f"unknown category {value!r}; the model knows: {shown}", field=feat.name)
        return value
    if isinstance(value, bool):
        if feat.type == "bool":
            return float(value)
        raise RecordError(f"expected a number, got boolean {value!r}", field=feat.name)
    if not isinstance(value, (int, float)):
        raise RecordError(f"expected a number, got {type(value).__name__} {value!r}", field=feat.name)
    try:
        number = float(value)
    except OverflowError:
        raise RecordError(f"number too large: {str(value)[:20]}...", field=feat.name) from None
    if math.isinf(number):
        raise RecordError("infinity is not a valid value", field=feat.name)
    if feat.type == "int" and not number.is_integer():
        raise RecordError(f"expected an integer, got {value!r}", field=feat.name)
    if feat.type == "bool" and number not in (0.0, 1.0):
        raise RecordError(f"expected a boolean (true/false or 0/1), got {value!r}", field=feat.name)
    return number


def is_text(value: str) -> bool:
    """True when `value` is valid Unicode text: JSON's "\\ud800" escape gives Python a lone surrogate,
    which no UTF-8 writer and no runtime's string tensor accepts."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_record(schema: IOSchema, record: Any, allowed_extra: frozenset[str] = frozenset(),
                 strict: bool = False) -> list[Any]:
    """The record's values in schema order, or RecordError naming the first bad field.

    The input contract: fields the model does not use are ignored, unless `strict`, where only the
    features and `allowed_extra` (an id field, fields copied to the output) may appear; a nullable
    feature left out is a missing value (None), any other feature left out is refused."""
    if not isinstance(record, Mapping):
        raise RecordError(f"a record must be a JSON object, got {type(record).__name__}")
    if strict:
        names = schema.name_set
        for key in record:
            if key not in allowed_extra and key not in names:
                raise RecordError("unknown field: the model has no such input (--strict)", field=str(key))
    values = []
    for feat in schema.features:
        if feat.name in record:
            values.append(_check_value(feat, record[feat.name]))
        elif feat.nullable:
            values.append(None)
        else:
            raise RecordError("missing field", field=feat.name)
    return values


def reason_text(err: RecordError) -> str:
    """A rejection as one line of text, "field: reason" (the error column of batch-score and Spark)."""
    return f"{err.field}: {err.reason}" if err.field else err.reason


def columns_from_rows(schema: IOSchema, rows: list[list[Any]]) -> dict[str, np.ndarray]:
    """Checked rows (schema order) to one column per feature: float64 (NaN for missing) or str objects."""
    columns: dict[str, np.ndarray] = {}
    for j, feat in enumerate(schema.features):
        if feat.type in STRING_TYPES:
            columns[feat.name] = np.array([row[j] for row in rows], dtype=object)
        else:
            columns[feat.name] = np.array([np.nan if row[j] is None else row[j] for row in rows], dtype=np.float64)
    return columns


def encode_records(
    schema: IOSchema, records: Iterable[Any], allowed_extra: frozenset[str] = frozenset(), start: int = 0,
    strict: bool = False,
) -> tuple[dict[str, np.ndarray], list[int], list[Rejection]]:
    """Validate records. Returns (columns of the good ones, their indices, rejections)."""
    rows: list[list[Any]] = []
    kept: list[int] = []
    rejected: list[Rejection] = []
    for i, record in enumerate(records, start):
        try:
            rows.append(check_record(schema, record, allowed_extra, strict))
            kept.append(i)
        except RecordError as err:
            rejected.append(Rejection(i, err.field, err.reason))
    return columns_from_rows(schema, rows), kept, rejected


def tensors_for(binding: list[dict[str, Any]], columns: dict[str, np.ndarray],
                schema: IOSchema | None = None) -> dict[str, np.ndarray]:
    """Arrange feature columns into the artifact's input tensors, as its manifest entry declares.

    Each tensor entry names the features it stacks (shape [N, len(features)]) and its dtype. A category
    feature inside a numeric tensor is encoded as its index in the manifest's `categories` list, -1 when
    unknown: formats without string tensors (TFLite, TF.js) take categories this way, and every runtime
    (Python and web/) encodes them identically. dtype `float64-parts` gives a float32 [N, F, 3] tensor of
    each value's three parts (`float64_parts`).
    """
    feeds: dict[str, np.ndarray] = {}
    for tensor in binding:
        names = tensor["features"]
        dtype = tensor["dtype"]
        if dtype == "string":
            arr = np.stack([columns[n] for n in names], axis=1) if len(names) > 1 else columns[names[0]].reshape(-1, 1)
            arr = missing_as_empty(arr)
            if tensor.get("lowercase"):
                arr = lowercased(arr)
        else:
            np_dtype = np.dtype(np.float64 if dtype == FLOAT64_PARTS else dtype)
            parts = [_numeric_column(n, columns[n], schema) for n in names]
            if len(parts) == 1:
                arr = parts[0].astype(np_dtype, copy=False).reshape(-1, 1)
            else:
                whole = _matrix_of(parts)
                arr = (whole if whole is not None else np.stack(parts, axis=1)).astype(np_dtype, copy=False)
            if dtype == FLOAT64_PARTS:
                arr = float64_parts(arr)
        feeds[tensor["name"]] = arr
    return feeds


# The dtype of an input that carries each number as a float64 in three float32 parts (contract 2): a tree
# artifact whose source decides in float64 (docs/ARCHITECTURE.md, "Exact tree decisions").
FLOAT64_PARTS = "float64-parts"
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def float64_parts(x: np.ndarray) -> np.ndarray:
    """float64 [..., F] -> float32 [..., F, 3]: hi = f32(x), mid = f32(x - hi), lo = f32(x - hi - mid).

    hi + mid + lo is x exactly (each difference is exact in float64) for |x| from about 1e-29 to float32's
    largest value, and ordering the triples lexicographically orders the numbers, which is how the
    artifact compares them with its thresholds. NaN stays NaN in all three; a number beyond float32's range
    is carried as (+-its largest value, 0, 0). web/src/records.js splits the same way (Math.fround)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        hi = x.astype(np.float32)
        beyond = np.isinf(hi)
        hi = np.where(beyond, np.copysign(_FLOAT32_MAX, x), hi).astype(np.float32)
        rest = np.where(beyond, 0.0, x - hi)
        mid = rest.astype(np.float32)
        lo = (rest - mid).astype(np.float32)
    return np.stack([hi, mid, lo], axis=-1)


def missing_as_empty(arr: np.ndarray) -> np.ndarray:
    """A missing category (None or NaN) goes to a string tensor as "" (contract 2)."""
    missing = np.fromiter((v is None or v != v for v in arr.ravel()), dtype=bool, count=arr.size).reshape(arr.shape)
    if not missing.any():
        return arr
    arr = arr.copy()
    arr[missing] = ""
    return arr


def lowercased(arr: np.ndarray) -> np.ndarray:
    """Text as Python's str.lower gives it, which is how scikit-learn's vectorizers lowercase (full Unicode
    case mapping: "İ" -> "i̇", a final "Σ" -> "ς"). An artifact input marked `lowercase` takes text this way:
    ONNX's StringNormalizer lowercases by the device's C++ locale, which differs on those letters and fails to
    load where the locale is not installed. web/src/records.js lowercases with toLowerCase, the same mapping."""
    return np.fromiter((v.lower() for v in arr.ravel()), dtype=object, count=arr.size).reshape(arr.shape)


def category_index(categories: tuple[str, ...] | list[str], values: np.ndarray) -> np.ndarray:
    """Index of each value in `categories` as float64, -1 for a category the list does not hold, NaN for a
    missing one (None or NaN: contract 2; a model may treat missing and unknown differently)."""
    lookup = {c: float(i) for i, c in enumerate(categories)}
    return np.fromiter((math.nan if v is None or v != v else lookup.get(v, -1.0) for v in values),
                       dtype=np.float64, count=len(values))


def _matrix_of(parts: list[np.ndarray]) -> np.ndarray | None:
    """The 2-D array whose columns `parts` are, all of them and in order, or None. A CSV block of numbers
    is parsed as one matrix and cut into columns; when a tensor takes them all back, the matrix is the
    tensor as it is (no copy of 50,000 x 30 values per block)."""
    base = parts[0].base
    if not isinstance(base, np.ndarray) or base.ndim != 2 or base.shape != (len(parts[0]), len(parts)):
        return None
    start, step = base.__array_interface__["data"][0], base.strides[1]
    for i, part in enumerate(parts):
        if part.base is not base or part.strides != base.strides[:1] or \
                part.__array_interface__["data"][0] != start + i * step:
            return None
    return base


def _numeric_column(name: str, column: np.ndarray, schema: IOSchema | None) -> np.ndarray:
    if column.dtype != object:
        return column
    if schema is None:
        raise ValueError(f"feature {name!r} holds categories; encoding them needs the schema")
    return category_index(schema.feature(name).categories or (), column)
