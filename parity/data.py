"""The inputs of a parity run: the package's golden vectors, plus a holdout file or rows generated from
the input schema. Every runner gets the same records (and the same columns decoded from them).

Generated rows follow the manifest's statistics, seeded: numbers inside the observed [min, max] (normal
around the mean when the std is known, clipped), integers and booleans as such, categories by their
observed frequencies with an occasional unseen category where the schema says unknown=ignore, and
missing values at the observed rate for nullable features (at least 1 %, so the missing-value paths run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..converters.sources.sample import frame_columns, read_table, records_from_frame
from ..runtime.errors import DataError
from ..runtime.records import encode_records
from ..runtime.schema import Feature, IOSchema
from .runners.base import InputBatch

UNSEEN_CATEGORY = "__unseen__"
UNSEEN_RATE = 0.03
MIN_MISSING_RATE = 0.01


@dataclass
class ParityData:
    """Rows 0..n_golden-1 are the golden vectors; `golden_outputs` holds the source model's outputs for them."""

    batch: InputBatch
    origin: list[str]
    n_golden: int
    golden_outputs: dict[str, np.ndarray]
    description: str
    labels: np.ndarray | None = None  # class index per row (-1 when unknown), from a holdout's label column
    notes: list[str] = field(default_factory=list)


def golden(package: Any) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """The golden records and the source model's outputs for them (probabilities/value as arrays)."""
    data = package.golden()
    outputs = {k: np.asarray(v, dtype=np.float64) for k, v in data["outputs"].items() if k in ("probabilities", "value")}
    return list(data["records"]), outputs


def holdout(path: Path, schema: IOSchema, label_column: str | None) -> tuple[list[dict[str, Any]], np.ndarray | None]:
    """Records from a CSV or Parquet holdout file (extra columns ignored), and class indices from its
    label column when one is named. Raises DataError when the file is unreadable or lacks features."""

    table = read_table(path)
    missing = [n for n in schema.names if n not in table.columns]
    if missing:
        raise DataError(f"the holdout lacks the model's columns: {', '.join(missing)}", where=str(path),
                        fix="pass a holdout with the columns the model was trained on")
    if label_column and label_column not in table.columns:
        raise DataError(f"label column {label_column!r} is not in the holdout", where=str(path),
                        fix=f"columns are: {', '.join(map(str, table.columns))}")
    records = records_from_frame(table, schema)
    labels = None
    if label_column and schema.task == "classification":
        index = {str(c): i for i, c in enumerate(schema.classes)}
        labels = np.array([index.get(_label_text(v), -1) for v in table[label_column]], dtype=np.int64)
    return records, labels


def _label_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value.item() if isinstance(value, np.generic) else value)


def generate(schema: IOSchema, rows: int, seed: int) -> list[dict[str, Any]]:
    """`rows` records drawn from the schema's statistics with numpy's generator seeded by `seed`."""
    rng = np.random.default_rng(seed)
    columns = {feat.name: _generate_column(feat, rows, rng) for feat in schema.features}
    return [{name: columns[name][i] for name in schema.names} for i in range(rows)]


def _generate_column(feat: Feature, rows: int, rng: np.random.Generator) -> list[Any]:
    if feat.type == "category":
        cats = list(feat.categories or [])
        freq = np.array([(feat.frequencies or {}).get(c, 1.0) for c in cats], dtype=np.float64)
        freq = freq / freq.sum() if freq.sum() > 0 else np.full(len(cats), 1.0 / max(len(cats), 1))
        values: list[Any] = [cats[i] for i in rng.choice(len(cats), size=rows, p=freq)] if cats else [UNSEEN_CATEGORY] * rows
        if feat.unknown == "ignore":
            for i in np.flatnonzero(rng.random(rows) < UNSEEN_RATE):
                values[i] = UNSEEN_CATEGORY
    elif feat.type == "bool":
        values = [bool(v) for v in rng.random(rows) < 0.5]
    else:
        lo = feat.min if feat.min is not None else -1.0
        hi = feat.max if feat.max is not None else 1.0
        if feat.mean is not None and feat.std:
            raw = np.clip(rng.normal(feat.mean, feat.std, rows), lo, hi)
        else:
            raw = rng.uniform(lo, hi, rows)
        values = [int(v) for v in np.round(raw)] if feat.type == "int" else [float(v) for v in raw]
    if feat.nullable:
        rate = max(feat.missing_rate, MIN_MISSING_RATE)
        for i in np.flatnonzero(rng.random(rows) < rate):
            values[i] = None
    return values


def assemble(package: Any, *, data: Path | None = None, rows: int = 500, seed: int = 0,
             label_column: str | None = None, with_reference: bool = True) -> ParityData:
    """The run's inputs: golden rows first, then holdout or generated rows when a reference model can give
    their expected outputs. Rows the schema rejects are left out and counted in `notes`.
    Raises DataError for an unusable holdout."""
    schema = IOSchema.from_manifest(package.manifest)
    records, golden_outputs = golden(package)
    origin = ["golden"] * len(records)
    notes: list[str] = []
    labels = None
    parts = [f"{len(records)} golden"]
    if not with_reference:
        notes.append("no reference model given (--reference MODEL): compared on the golden vectors only, whose "
                     "reference outputs the build stored")
        if data is not None:
            notes.append(f"{data.name} was not used: its rows have no reference outputs without --reference")
    elif data is not None:
        extra, extra_labels = holdout(data, schema, label_column)
        extra, kept = _valid(schema, extra, f"{data.name}", notes)
        if not extra:
            raise DataError(f"no row of {data.name} fits the package's input schema", where=str(data),
                            fix="check the holdout's columns and categories against `edgepack inspect`")
        if extra_labels is not None:
            labels = np.concatenate([np.full(len(records), -1), extra_labels[kept]])
        records += extra
        origin += ["holdout"] * len(extra)
        parts.append(f"{len(extra)} from {data.name}")
    elif rows > 0:
        extra, _ = _valid(schema, generate(schema, rows, seed), "generated rows", notes)
        records += extra
        origin += ["generated"] * len(extra)
        parts.append(f"{len(extra)} generated (seed {seed})")
    columns, kept, rejected = encode_records(schema, records)
    if rejected:
        first = rejected[0]
        raise DataError(f"golden record {first.index} does not fit the schema: {first.reason}", where=first.field,
                        fix="the package is inconsistent: rebuild it")
    return ParityData(InputBatch(records, columns), origin, origin.count("golden"), golden_outputs, " + ".join(parts),
                      labels, notes)


def _valid(schema: IOSchema, records: list[dict[str, Any]], what: str, notes: list[str]
           ) -> tuple[list[dict[str, Any]], np.ndarray]:
    _columns, kept, rejected = encode_records(schema, records)
    if rejected:
        first = rejected[0]
        notes.append(f"{len(rejected)} of {len(records)} {what} left out: they do not fit the input schema "
                     f"(first: row {first.index}, field {first.field!r}: {first.reason})")
    return [records[i] for i in kept], np.asarray(kept, dtype=np.int64)


def input_batch(frame: Any, schema: IOSchema) -> InputBatch:
    """A feature DataFrame as the InputBatch every runner takes (records and columns)."""
    return InputBatch(records=records_from_frame(frame, schema), columns=frame_columns(frame, schema))
