"""Validate a whole batch of records at once: column by column with numpy, per record only for the bad ones.

`records.check_record` is the rule book (one record, one reason). This module applies the same rules to
many records in a few vectorised passes, because a Python loop over every field of every record caps a
scorer near 100,000 records/s. Whenever a record is flagged, its reason comes from `check_record` itself,
so both paths reject the same records with the same words (tests/runtime/test_batch.py checks it).

Two entry points:
- `BatchValidator.records(list_of_dicts)` for parsed JSON records;
- `BatchValidator.cells(columns_of_strings)` for CSV cells (empty cell = missing, numbers parsed per the
  feature's type).
Both return `Checked(columns, bad)`: float64 / object columns of every record (bad rows included, so the
caller filters once) and a boolean mask of the records to reject.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

from .errors import RecordError
from .records import check_record
from .schema import Feature, IOSchema

_NONE = type(None)
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
        self.category = feat.type == "category"
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
            return arr, _merge(bad, self._unknown_mask(arr, col))
        try:
            arr = np.array(col, dtype=np.float64)
        except OverflowError:  # an integer beyond float range: flag it, check_record names it
            flags = [not _fits(v) for v in col]
            bad = _merge(bad, np.array(flags, dtype=bool))
            arr = np.array([None if f else v for v, f in zip(col, flags)], dtype=np.float64)
        return arr, _merge(bad, self.value_mask(arr))

    def _unknown_mask(self, arr: np.ndarray, col: Sequence[Any] | np.ndarray) -> np.ndarray | None:
        if not self.refuse_unknown:
            return None
        unknown = set(col) - self.known - {None}
        if not unknown:
            return None
        return np.fromiter((v in unknown for v in col), dtype=bool, count=len(col))

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
    if cell == "":
        return None
    try:
        return float(cell)
    except ValueError:
        return cell  # type: ignore[return-value]  # kept as text: check_record calls it "a number, got str"


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
    """Validates batches against one schema. Build once, call per batch."""

    def __init__(self, schema: IOSchema, allowed_extra: frozenset[str] = frozenset()) -> None:
        self.schema = schema
        self.allowed_extra = allowed_extra
        self.rules = [_Rule(f) for f in schema.features]
        self.names = schema.names
        self._extra = tuple(k for k in allowed_extra if k not in self.names)  # an id may also be a feature
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
        if rows is None:
            return self._split_by_shape(records)
        if self._all_numeric and n and set(map(type, chain.from_iterable(rows))) <= self._numeric_ok:
            try:
                matrix = np.array(rows, dtype=np.float64)
            except OverflowError:
                matrix = None
            if matrix is not None:
                return self._from_matrix(matrix)
        cols: list[Sequence[Any]] = list(zip(*rows)) if n else [() for _ in self.rules]
        return _checked(n, ((rule.name, rule.typed_column(col)) for rule, col in zip(self.rules, cols)))

    def _from_matrix(self, matrix: np.ndarray) -> Checked:
        return _checked(len(matrix), ((rule.name, (matrix[:, j], rule.value_mask(matrix[:, j])))
                                      for j, rule in enumerate(self.rules)))

    def _rows_if_well_shaped(self, records: list[Any]) -> list[tuple[Any, ...]] | None:
        """Every record a dict with every feature and no unknown field: its values in schema order."""
        try:
            rows = list(map(self._getter, records))
            total = sum(map(len, records))
        except (KeyError, TypeError, IndexError):
            return None
        expected = len(self.names) * len(records)
        if self._extra:
            expected += sum(k in r for r in records for k in self._extra)
        return rows if total == expected else None

    def _well_shaped(self, record: Any) -> bool:
        if not isinstance(record, dict):
            return False
        extra = sum(k in record for k in self._extra)
        return len(record) == len(self.names) + extra and all(k in record for k in self.names)

    def _split_by_shape(self, records: list[Any]) -> Checked:
        good = [i for i, r in enumerate(records) if self._well_shaped(r)]
        inner = self.records([records[i] for i in good]) if len(good) < len(records) else None
        if inner is None:  # cannot happen: the fast check only fails when some record is ill-shaped
            raise AssertionError("batch shape check disagrees with per-record check")
        bad = np.ones(len(records), dtype=bool)
        bad[good] = inner.bad
        columns = {}
        for rule in self.rules:
            src = inner.columns[rule.name]
            full = np.empty(len(records), dtype=src.dtype)
            if src.dtype == object:
                full[:] = None
            else:
                full[:] = np.nan
            full[good] = src
            columns[rule.name] = full
        return Checked(columns, bad)

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
            check_record(self.schema, record, self.allowed_extra)
        except RecordError as err:
            return err
        except (OverflowError, ValueError) as exc:
            return RecordError(f"value out of range: {exc}")
        # The vectorised rules flagged what the rule book accepts: a bug, but never drop silently.
        return RecordError("refused by the batch validator (please report this record)")

