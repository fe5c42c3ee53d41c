"""Validate a whole batch of records at once: column by column with numpy, per record only for the bad ones.

`records.check_record` is the rule book (one record, one reason). This module applies the same rules to
many records in a few vectorised passes, because a Python loop over every field of every record caps a
scorer near 100,000 records/s. Whenever a record is flagged, its reason comes from `check_record` itself,
so both paths reject the same records with the same words (tests/runtime/test_batch.py checks it).

Three entry points, one rule book (the device's `edgepack-score`, the Python `Scorer`, `batch-score` and
the Spark engines all validate through them):
- `BatchValidator.records(list_of_dicts)` for parsed JSON records;
- `BatchValidator.cells(columns_of_strings)` for CSV cells (empty cell = missing, numbers parsed per the
  feature's type: plain ASCII decimal numbers only, as JSON writes them);
- `BatchValidator.columns(columns)` for table columns (batch-score, Spark): per feature a float64 array
  (a numeric column, NaN = missing) or a sequence of Python values (None = missing), as
  `converters/sources/sample.py: value_columns` makes them from a pandas frame.
All return `Checked(columns, bad)`: float64 / object columns of every record (bad rows included, so the
caller filters once) and a boolean mask of the records to reject; `reason(record)` says why, in
`check_record`'s words.

The input contract (check_record's): fields the model does not use are ignored unless `strict`; a nullable
feature left out is missing.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

from .errors import RecordError
from .records import check_record, is_text
from .schema import STRING_TYPES, Feature, IOSchema

_NONE = type(None)


class _Absent:
    """Stands for a feature the record lacks: its type is in no rule's accepted types, so it is flagged."""


_ABSENT = _Absent()
_BOOL_WORDS = {"true": 1.0, "false": 0.0, "True": 1.0, "False": 0.0, "TRUE": 1.0, "FALSE": 0.0,
               "1": 1.0, "0": 0.0, "1.0": 1.0, "0.0": 0.0}


@dataclass
class Checked:
    """Columns for every record of the batch and the mask of records to reject."""

    columns: dict[str, np.ndarray]
    bad: np.ndarray  # bool [N]

    def good_columns(self) -> dict[str, np.ndarray]:
        if not self.bad.any():
            return self.columns
        keep = ~self.bad
        return {name: col[keep] for name, col in self.columns.items()}


class _Rule:
    """What one feature accepts, precomputed once per scorer."""

    def __init__(self, feat: Feature) -> None:
        self.feat = feat
        self.name = feat.name
        self.category = feat.type in STRING_TYPES  # strings: a category or text
        if self.category:
            ok: set[type] = {str}
        elif feat.type == "bool":
            ok = {bool, int, float}
        else:
            ok = {int, float}
        if feat.nullable:
            ok.add(_NONE)
        self.ok_types = frozenset(ok)
        self.refuse_unknown = self.category and feat.categories is not None and feat.unknown == "error"
        self.known = frozenset(feat.categories or ())

    # -- values already typed (JSON) -----------------------------------------------------------------
    def typed_column(self, col: Sequence[Any] | np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """A column of JSON values -> (array, bad mask or None)."""
        bad = None
        if not set(map(type, col)) <= self.ok_types:
            flags = [type(v) not in self.ok_types for v in col]
            bad = np.array(flags, dtype=bool)
            col = [None if f else v for v, f in zip(col, flags)]
        if self.category:
            arr = np.array(col, dtype=object) if len(col) else np.empty(0, dtype=object)
            return arr, _merge(bad, self._category_mask(col))
        try:
            arr = np.array(col, dtype=np.float64)
        except OverflowError:  # an integer beyond float range: flag it, check_record names it
            flags = [not _fits(v) for v in col]
            bad = _merge(bad, np.array(flags, dtype=bool))
            arr = np.array([None if f else v for v, f in zip(col, flags)], dtype=np.float64)
        return arr, _merge(bad, self.value_mask(arr))

    def _category_mask(self, col: Sequence[Any] | np.ndarray) -> np.ndarray | None:
        """Strings refused: unknown categories where the model refuses them, text with a lone surrogate."""
        seen = set(col)
        refused = {v for v in seen if type(v) is str and not is_text(v)}
        if self.refuse_unknown:
            refused |= seen - self.known - {None}
        if not refused:
            return None
        return np.fromiter((v in refused for v in col), dtype=bool, count=len(col))

    def value_mask(self, arr: np.ndarray) -> np.ndarray | None:
        """Numbers the schema refuses: NaN where not nullable, infinities, fractions for int, non-0/1 bools."""
        finite = np.isfinite(arr)
        if finite.all():
            if self.feat.type == "int":
                frac = arr != np.floor(arr)
                return frac if frac.any() else None
            if self.feat.type == "bool":
                odd = (arr != 0.0) & (arr != 1.0)
                return odd if odd.any() else None
            return None
        nan = np.isnan(arr)
        mask = ~finite & ~nan if self.feat.nullable else ~finite
        with np.errstate(invalid="ignore"):
            if self.feat.type == "int":
                mask |= finite & (arr != np.floor(arr))
            elif self.feat.type == "bool":
                mask |= finite & (arr != 0.0) & (arr != 1.0)
        return mask if mask.any() else None

    # -- table columns ----------------------------------------------------------------------------------
    def value_column(self, col: np.ndarray | Sequence[Any]) -> tuple[np.ndarray, np.ndarray | None]:
        if isinstance(col, np.ndarray):
            if col.dtype.kind in "iuf":
                col = col.astype(np.float64, copy=False)
                if not self.category:
                    return col, self.value_mask(col)
                # numbers where a category is expected: refused as JSON numbers would be (NaN = missing)
                return self.typed_column([None if v != v else v for v in col.tolist()])
            col = col.tolist()  # booleans become Python's, which every number feature but bool refuses
        values = [v.item() if isinstance(v, np.generic) else v for v in col]
        return self.typed_column(values)

    # -- CSV cells (strings) ---------------------------------------------------------------------------
    def cell_column(self, cells: Sequence[Any] | np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if isinstance(cells, np.ndarray) and cells.dtype == np.float64:  # parsed already (numpy's CSV reader)
            return cells, self.value_mask(cells)
        if self.category:
            if "" in cells:
                cells = [None if c == "" else c for c in cells]
            return self.typed_column(cells)
        if self.feat.type == "bool":
            words = _BOOL_WORDS
            values = [words.get(c, c) for c in cells]
            return self._parsed(values, [type(v) is not float for v in values])
        try:
            arr = np.array(cells, dtype=np.float64)
            joined = "".join(cells)
            if "_" in joined or not joined.isascii():  # numpy (like float()) reads 1_000 and full-width digits
                raise ValueError("not plain numbers")
        except (ValueError, TypeError):
            values = [_parse_number(c) for c in cells]
            return self._parsed(values, [type(v) is not float for v in values])
        return arr, self.value_mask(arr)

    def _parsed(self, values: list[Any], flags: list[bool]) -> tuple[np.ndarray, np.ndarray | None]:
        # Empty cells are missing values: fine when nullable; anything else unparsed is refused.
        flags = [f and not (v is None and self.feat.nullable) for v, f in zip(values, flags)]
        arr = np.array([v if type(v) is float else None for v in values], dtype=np.float64)
        bad = np.array(flags, dtype=bool) if any(flags) else None
        return arr, _merge(bad, self.value_mask(arr))

    def cell_value(self, cell: Any) -> Any:
        """One CSV cell typed as JSON would carry it, for check_record's reason."""
        if not isinstance(cell, str):
            return cell  # a number numpy parsed already
        if cell == "":
            return None
        if self.category:
            return cell
        if self.feat.type == "bool" and cell in _BOOL_WORDS:
            return bool(_BOOL_WORDS[cell])
        value = _parse_number(cell)
        return cell if value is None else value


def _parse_number(cell: str) -> float | None:
    """A CSV cell as a number the way JSON would carry it: ASCII digits, sign, point, exponent (and
    nan/inf, which the schema then judges). float() also reads "1_000" and full-width digits; JSON does
    not, so neither does a CSV cell."""
    if cell == "":
        return None
    if "_" in cell or not cell.isascii():
        return cell  # type: ignore[return-value]  # kept as text: check_record calls it "a number, got str"
    try:
        return float(cell)
    except ValueError:
        return cell  # type: ignore[return-value]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _fits(value: Any) -> bool:
    if value is None:
        return True
    try:
        float(value)
    except (OverflowError, TypeError, ValueError):
        return False
    return True


def _checked(n: int, results: Iterable[tuple[str, tuple[np.ndarray, np.ndarray | None]]]) -> Checked:
    """Columns and the union of their reject masks."""
    columns: dict[str, np.ndarray] = {}
    bad = np.zeros(n, dtype=bool)
    for name, (arr, mask) in results:
        columns[name] = arr
        if mask is not None:
            bad |= mask
    return Checked(columns, bad)


def _merge(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return b
    if b is None:
        return a
    return a | b


class BatchValidator:
    """Validates batches against one schema. Build once, call per batch.

    `strict`: refuse fields the model does not use, except `allowed_extra` (an id field, kept fields)."""

    def __init__(self, schema: IOSchema, allowed_extra: frozenset[str] = frozenset(), strict: bool = False) -> None:
        self.schema = schema
        self.allowed_extra = allowed_extra
        self.strict = strict
        self.rules = [_Rule(f) for f in schema.features]
        self.names = schema.names
        self._extra = tuple(k for k in allowed_extra if k not in self.names)  # an id may also be a feature
        self._defaults = tuple(None if f.nullable else _ABSENT for f in schema.features)
        n = len(self.names)
        only = self.names[0]
        self._getter: Callable[[Any], tuple[Any, ...]] = (
            operator.itemgetter(*self.names) if n > 1 else (lambda r: (r[only],)))
        # A schema of numbers only can be validated as one 2-D array: one type check for all cells.
        self._all_numeric = all(not r.category for r in self.rules)
        self._numeric_ok = frozenset.intersection(*(r.ok_types for r in self.rules)) if self.rules else frozenset()

    # -- parsed JSON records ------------------------------------------------------------------------
    def records(self, records: list[Any]) -> Checked:
        n = len(records)
        rows = self._rows_if_well_shaped(records)
        shape_bad = None
        if rows is None:
            rows, shape_bad = self._rows_one_by_one(records)
        elif self._all_numeric and n and set(map(type, chain.from_iterable(rows))) <= self._numeric_ok:
            try:
                matrix = np.array(rows, dtype=np.float64)
            except OverflowError:
                matrix = None
            if matrix is not None:
                return self._from_matrix(matrix)
        cols: list[Sequence[Any]] = list(zip(*rows)) if n else [() for _ in self.rules]
        checked = _checked(n, ((rule.name, rule.typed_column(col)) for rule, col in zip(self.rules, cols)))
        if shape_bad is not None:
            checked.bad |= shape_bad
        return checked

    def _from_matrix(self, matrix: np.ndarray) -> Checked:
        return _checked(len(matrix), ((rule.name, (matrix[:, j], rule.value_mask(matrix[:, j])))
                                      for j, rule in enumerate(self.rules)))

    def _rows_if_well_shaped(self, records: list[Any]) -> list[tuple[Any, ...]] | None:
        """Every record a dict with every feature (and, when strict, no other field than the allowed
        extras): its values in schema order. None sends the batch one record at a time."""
        try:
            rows = list(map(self._getter, records))
            if not self.strict:
                return rows
            total = sum(map(len, records))
        except (KeyError, TypeError, IndexError):
            return None
        expected = len(self.names) * len(records)
        if self._extra:
            expected += sum(k in r for r in records for k in self._extra)
        return rows if total == expected else None

    def _rows_one_by_one(self, records: list[Any]) -> tuple[list[tuple[Any, ...]], np.ndarray]:
        """Rows in schema order (a nullable feature left out is None; any other left out is flagged by its
        column check) and the records refused by their shape: not an object, or unknown fields when strict."""
        rows = []
        bad = np.zeros(len(records), dtype=bool)
        names, defaults = self.names, self._defaults
        for i, record in enumerate(records):
            if not isinstance(record, dict):
                rows.append(defaults)
                bad[i] = True
                continue
            rows.append(tuple(record.get(k, d) for k, d in zip(names, defaults)))
            if self.strict:
                known = sum(k in record for k in names) + sum(k in record for k in self._extra)
                bad[i] = len(record) != known
        return rows, bad

    # -- table columns (batch-score, Spark) ---------------------------------------------------------
    def columns(self, columns: Sequence[np.ndarray | Sequence[Any]]) -> Checked:
        """Per feature (schema order) a float64 array (NaN = missing) or a sequence of Python values (None
        = missing). Values of other types (a boolean for a float feature, a number for a category) are
        judged as a JSON record holding them would be."""
        n = len(columns[0]) if columns else 0
        return _checked(n, ((rule.name, rule.value_column(col)) for rule, col in zip(self.rules, columns)))

    def record_from_columns(self, columns: Sequence[np.ndarray | Sequence[Any]], i: int) -> dict[str, Any]:
        """Row `i` of `columns` as the record check_record judges (NaN stays NaN: a missing value)."""
        return {rule.name: _plain(col[i]) for rule, col in zip(self.rules, columns)}

    # -- CSV cells ----------------------------------------------------------------------------------
    def cells(self, columns_of_cells: Sequence[Sequence[str]]) -> Checked:
        """Columns of CSV cells in schema order (one list of strings per feature)."""
        n = len(columns_of_cells[0]) if columns_of_cells else 0
        return _checked(n, ((rule.name, rule.cell_column(cells)) for rule, cells in zip(self.rules, columns_of_cells)))

    def record_from_cells(self, cells: Sequence[str]) -> dict[str, Any]:
        """One CSV row (schema order) as the typed record check_record judges."""
        return {rule.name: rule.cell_value(c) for rule, c in zip(self.rules, cells)}

    # -- reasons ------------------------------------------------------------------------------------
    def reason(self, record: Any) -> RecordError:
        """Why `record` is refused, in check_record's words."""
        try:
            check_record(self.schema, record, self.allowed_extra, self.strict)
        except RecordError as err:
            return err
        except (OverflowError, ValueError) as exc:
            return RecordError(f"value out of range: {exc}")
        # The vectorised rules flagged what the rule book accepts: a bug, but never drop silently.
        return RecordError("refused by the batch validator (please report this record)")

