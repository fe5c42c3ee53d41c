"""Batch scoring of tabular data with a package's ONNX artifact: validation and scoring of one pandas
frame at a time, shared by the local engine (pyarrow batches, streaming) and the Spark engine
(mapInPandas in the executors).

A record that fails validation is never dropped: its row keeps its id, its prediction columns are null
and its `error` column says which field failed and why (the messages of runtime/records.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...converters.sources.sample import validate_frame
from ...runtime.errors import DataError
from ...runtime.schema import IOSchema

ERROR_COLUMN = "error"
ROW_COLUMN = "row"  # the id column when none is named: the record's position in the input


@dataclass(frozen=True)
class OutputLayout:
    """The output columns: id, the kept input columns, label + probability_<class> per class (or value),
    error."""

    id_column: str
    classes: tuple[Any, ...]
    task: str
    keep: tuple[str, ...] = ()  # input columns copied beside the id (--keep-fields)

    @property
    def probability_columns(self) -> list[str]:
        return [f"probability_{c}" for c in self.classes]

    @property
    def label_is_int(self) -> bool:
        return all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in self.classes)

    def arrow_schema(self, id_type: Any, keep_types: dict[str, Any] | None = None) -> Any:
        import pyarrow as pa

        fields = [pa.field(self.id_column, id_type)]
        fields += [pa.field(name, (keep_types or {})[name]) for name in self.keep]
        if self.task == "classification":
            fields.append(pa.field("label", pa.int64() if self.label_is_int else pa.string()))
            fields += [pa.field(c, pa.float64()) for c in self.probability_columns]
        else:
            fields.append(pa.field("value", pa.float64()))
        fields.append(pa.field(ERROR_COLUMN, pa.string()))
        return pa.schema(fields)


def check_columns(schema: IOSchema, columns: list[str], where: str, id_column: str | None,
                  keep: tuple[str, ...] = (), strict: bool = False) -> None:
    """The input contract, for a table: it must hold every feature the model cannot do without (a
    nullable feature's column may be absent: its values are missing), the id column and the kept columns
    when named; with `strict`, nothing else. Raises DataError."""
    nullable = {f.name for f in schema.features if f.nullable}
    missing = [n for n in schema.names if n not in columns and n not in nullable]
    if missing:
        raise DataError(f"the input lacks the model's columns: {', '.join(missing)}", where=where,
                        fix=f"the package takes: {', '.join(schema.names)}")
    if id_column and id_column not in columns:
        raise DataError(f"no id column {id_column!r} in the input", where=where,
                        fix=f"columns are: {', '.join(columns[:20])}")
    absent = [k for k in keep if k not in columns]
    if absent:
        raise DataError(f"no column {', '.join(absent)} to keep in the input", where=where,
                        fix=f"columns are: {', '.join(columns[:20])}")
    if strict:
        allowed = {*schema.names, *keep, *([id_column] if id_column else [])}
        unknown = [c for c in columns if c not in allowed]
        if unknown:
            raise DataError(f"the input holds columns the model does not use: {', '.join(unknown[:20])} (--strict)",
                            where=where, fix="drop them, name them in --keep-fields, or leave out --strict")


def input_columns(schema: IOSchema, columns: list[str], id_column: str | None, keep: tuple[str, ...]) -> list[str]:
    """The input columns to read: the features present, the id column, the kept columns."""
    return list(dict.fromkeys([*(n for n in schema.names if n in columns), *([id_column] if id_column else []),
                               *keep]))


def score_frame(scorer: Any, frame: Any, layout: OutputLayout, ids: Any, stats: Any = None) -> Any:
    """Score one pandas frame of records. Returns the output frame (layout's columns, one row per input row,
    in order). `ids` holds the id column's values for these rows. `stats` (runtime/stats.py
    StatsCollector) counts the frame in the package's reference bins."""
    import pandas as pd

    absent = {n: None for n in scorer.schema.names if n not in frame.columns}  # nullable features left out
    columns, errors = validate_frame(scorer.schema, frame.assign(**absent) if absent else frame)
    ok = np.equal(errors, None)
    out: dict[str, Any] = {layout.id_column: np.asarray(ids)}
    for name in layout.keep:
        out[name] = frame[name].to_numpy()
    n = len(frame)
    if ok.any():
        raw = scorer.run_columns({k: v[ok] for k, v in columns.items()})
    else:
        raw = {}
    if stats is not None:
        _observe(stats, scorer.schema, columns, ok, raw, errors)
    if layout.task == "classification":
        probs = np.full((n, len(layout.classes)), np.nan)
        if raw:
            probs[ok] = np.asarray(raw["probabilities"], dtype=np.float64)
        labels = np.full(n, None, dtype=object)
        if raw:
            best = np.argmax(probs[ok], axis=1)  # first on ties, as every runtime does
            labels[ok] = [layout.classes[i] for i in best]
        out["label"] = pd.array(labels, dtype="Int64" if layout.label_is_int else "string")
        for j, name in enumerate(layout.probability_columns):
            out[name] = pd.array(probs[:, j], dtype="Float64")  # NaN (a failed row) becomes null
    else:
        values = np.full(n, np.nan)
        if raw:
            values[ok] = raw["value"]
        out["value"] = pd.array(values, dtype="Float64")
    out[ERROR_COLUMN] = pd.array(errors, dtype="string")
    return pd.DataFrame(out)


def _observe(stats: Any, schema: IOSchema, columns: dict[str, np.ndarray], ok: np.ndarray, raw: dict[str, Any],
             errors: np.ndarray) -> None:
    good = {k: v[ok] for k, v in columns.items()}
    for feat in schema.features:  # validate_frame writes a missing category as "": the device's None
        if feat.type == "category" and feat.nullable:
            col = good[feat.name]
            good[feat.name] = np.where(col == "", None, col)
    stats.observe(good if raw else None, raw or None, [str(e).split(":", 1)[0] for e in errors[~ok]])


def layout_for(scorer: Any, id_column: str | None, keep: tuple[str, ...] = ()) -> OutputLayout:
    reserved = {id_column or ROW_COLUMN, ERROR_COLUMN, "label", "value"}
    taken = [k for k in keep if k in reserved or k.startswith("probability_")]
    if taken:
        raise DataError(f"--keep-fields {', '.join(taken)}: already an output column",
                        fix="rename the input column or keep another")
    keep = tuple(k for k in keep if k != id_column)
    return OutputLayout(id_column or ROW_COLUMN, tuple(scorer.schema.classes), scorer.schema.task, keep)
