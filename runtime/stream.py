"""Score a stream of records (JSON lines or CSV with a header) into prediction lines and error lines.

`score_stream(scorer, source, sink, errors, options)` is what `edgepack-score` runs on stdin/stdout and
what the watch folder runs on each file. Input is read in micro-batches of whatever has arrived (up to
`batch_bytes`), validated in one vectorised pass (runtime/batch.py), scored in one onnxruntime call and
written in order; with `line_buffered` each record is scored and flushed as soon as its line arrives.

A rejected record becomes one error line `{"line": n, "field": f, "reason": r}` (plus "id" when the
record has one); it never stops the others. Line numbers count physical input lines from 1 (a CSV's
header is line 1).
"""

from __future__ import annotations

import csv
import io
import operator
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, TextIO

import numpy as np

from .batch import BatchValidator, Checked
from .errors import DataError, RecordError
from .jsonlines import dumps, parse_line, parse_lines
from .output import PredictionFormatter
from .scorer import Scorer

FORMATS = ("jsonl", "csv")
_COMMAS = operator.methodcaller("count", ",")
DEFAULT_BATCH_BYTES = 1 << 20


@dataclass(frozen=True)
class StreamOptions:
    format: str = "jsonl"
    id_field: str | None = None
    line_buffered: bool = False
    batch_bytes: int = DEFAULT_BATCH_BYTES


@dataclass
class StreamCounts:
    scored: int = 0
    rejected: int = 0


class _Batch:
    """Records of one micro-batch: parsed values (or cells), their line numbers and ids."""

    def __init__(self) -> None:
        self.line_numbers: list[int] = []
        self.ids: list[Any] = []
        self.rejected: list[tuple[int, RecordError, Any]] = []  # found before validation (unparsable lines)


class StreamScorer:
    """Scores micro-batches for one scorer and writes predictions and errors in input order."""

    def __init__(self, scorer: Scorer, sink: BinaryIO, errors: TextIO, options: StreamOptions) -> None:
        if options.format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}")
        self.scorer = scorer
        self.sink = sink
        self.errors = errors
        self.options = options
        extra = frozenset({options.id_field}) if options.id_field else frozenset()
        self.validator = BatchValidator(scorer.schema, extra)
        self.formatter = PredictionFormatter(scorer.package.name, scorer.package.version, scorer.schema.classes,
                                             scorer.schema.task, with_id=options.id_field is not None)
        self.counts = StreamCounts()
        self._csv: _CsvLayout | None = None

    # -- the loop ---------------------------------------------------------------------------------
    def run(self, source: BinaryIO) -> StreamCounts:
        """Read `source` to its end. Raises DataError for a CSV header that does not match the model."""
        if self.options.line_buffered:
            for number, line in enumerate(source, 1):
                self.feed(line.rstrip(b"\r\n"), number, 1)
                self.flush()
        else:
            for block, first, count in _micro_batches(source, self.options.batch_bytes):
                self.feed(block, first, count)
                self.flush()
        self.flush()
        return self.counts

    def flush(self) -> None:
        self.sink.flush()
        self.errors.flush()

    def feed(self, block: bytes, first_line: int, count: int) -> None:
        """Score a block of `count` complete physical lines (newline-separated, none at the end) numbered
        from `first_line`, and write their results."""
        if self.options.format == "csv":
            if self._csv is None:
                header, newline, block = block.partition(b"\n")
                self._csv = _CsvLayout(header.rstrip(b"\r"), self.validator, self.options.id_field, first_line)
                if not newline:
                    return
                first_line, count = first_line + 1, count - 1
            self._csv_batch(block, first_line, count)
        else:
            self._jsonl_batch(_split_lines(block), first_line)

    # -- JSON lines -------------------------------------------------------------------------------
    def _jsonl_batch(self, lines: list[bytes], first: int) -> None:
        batch = _Batch()
        records = parse_lines(lines)
        if records is not None:
            batch.line_numbers = list(range(first, first + len(lines)))
        else:
            records = []
            for number, line in enumerate(lines, first):
                if not line.strip():
                    continue  # blank lines separate nothing and are not records
                try:
                    records.append(parse_line(line))
                    batch.line_numbers.append(number)
                except UnicodeDecodeError:
                    batch.rejected.append((number, RecordError("the line is not valid UTF-8"), None))
                except (ValueError, RecursionError) as exc:
                    batch.rejected.append((number, RecordError(f"not a JSON object: {exc}"), None))
        if self.options.id_field is not None:
            key = self.options.id_field
            batch.ids = [r.get(key) if isinstance(r, dict) else None for r in records]
        checked = self.validator.records(records)
        self._finish(batch, checked, lambda i: records[i])

    # -- CSV --------------------------------------------------------------------------------------
    def _csv_batch(self, block: bytes, first: int, count: int) -> None:
        assert self._csv is not None
        batch = _Batch()
        cells = self._csv.columns(block, first, count, batch)
        if self.options.id_field is not None:
            batch.ids = list(cells.pop())
        checked = self.validator.cells(cells)
        self._finish(batch, checked, lambda i: self.validator.record_from_cells([c[i] for c in cells]))

    # -- shared tail ------------------------------------------------------------------------------
    def _finish(self, batch: _Batch, checked: Checked, record_at: Any) -> None:
        bad_positions = np.flatnonzero(checked.bad).tolist()
        rejected = list(batch.rejected)
        for i in bad_positions:
            ident = batch.ids[i] if batch.ids else None
            rejected.append((batch.line_numbers[i], self.validator.reason(record_at(i)), ident))
        good = len(batch.line_numbers) - len(bad_positions)
        if good:
            raw = self.scorer.run_columns(checked.good_columns())
            ids = None
            if batch.ids:
                ids = batch.ids if not bad_positions else [v for v, b in zip(batch.ids, checked.bad) if not b]
            self.sink.write(self.formatter.text(raw, ids).encode("utf-8"))
            self.counts.scored += good
        if rejected:
            rejected.sort(key=lambda r: r[0])
            self.errors.write("".join(_error_line(n, err, ident, self.options.id_field) for n, err, ident in rejected))
            self.counts.rejected += len(rejected)


def _error_line(number: int, err: RecordError, ident: Any, id_field: str | None) -> str:
    entry: dict[str, Any] = {"line": number, "field": err.field, "reason": err.reason}
    if id_field is not None and ident is not None:
        entry["id"] = ident
    return dumps(entry) + "\n"


def _micro_batches(source: BinaryIO, batch_bytes: int) -> Iterator[tuple[bytes, int, int]]:
    """Blocks of complete lines (what has arrived, at most about `batch_bytes`; newline-separated, none at
    the end), each with the number of its first line and its count of lines."""
    read = getattr(source, "read1", source.read)
    pending = b""
    number = 1
    while True:
        chunk = read(batch_bytes)
        if not chunk:
            break
        data = pending + chunk if pending else chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            pending = data
            continue
        pending = data[cut + 1:]
        block = data[:cut]
        count = _newlines(block) + 1
        yield block, number, count
        number += count
    if pending.strip():
        yield pending, number, _newlines(pending) + 1


def _newlines(block: bytes) -> int:
    # numpy counts a byte value about 5x faster than bytes.count
    return int(np.count_nonzero(np.frombuffer(block, dtype=np.uint8) == 10))


def _split_lines(block: bytes) -> list[bytes]:
    lines = block.split(b"\n")
    return [ln.rstrip(b"\r") for ln in lines] if b"\r" in block else lines


class _CsvLayout:
    """The header of a CSV stream: where each feature (and the id) sits, checked against the schema."""

    def __init__(self, header_line: bytes, validator: BatchValidator, id_field: str | None, line: int) -> None:
        try:
            header = next(csv.reader([header_line.decode("utf-8-sig")]))
        except (UnicodeDecodeError, StopIteration, csv.Error) as exc:
            raise DataError(f"cannot read the CSV header: {exc}", where=f"line {line}",
                            fix="the first line must name the columns") from exc
        header = [h.strip() for h in header]
        names = validator.names
        missing = [n for n in names if n not in header]
        allowed = set(names) | ({id_field} if id_field else set())
        unknown = [h for h in header if h not in allowed]
        if missing or unknown or len(set(header)) != len(header):
            parts = []
            if missing:
                parts.append(f"missing column(s) {', '.join(missing)}")
            if unknown:
                parts.append(f"unknown column(s) {', '.join(unknown)}")
            if len(set(header)) != len(header):
                parts.append("repeated column names")
            raise DataError("the CSV header does not match the model's inputs: " + "; ".join(parts),
                            where=f"line {line}",
                            fix=f"the header must name exactly: {', '.join(names)}"
                                + (f" (and the id column {id_field})" if id_field else ""))
        self.width = len(header)
        self.positions = [header.index(n) for n in names]
        # Plain numbers (not bool words, not categories) can be parsed by numpy's C reader in one call.
        self.numeric_slots = {k for k, rule in enumerate(validator.rules) if rule.feat.type in ("float", "int")}
        # Every column a plain-number feature: the raw lines go straight to numpy's reader (no decode, split
        # or per-line field count; the reader checks the count and the row total is checked after it).
        self.all_numbers = len(self.numeric_slots) == len(names) == self.width
        if id_field:
            self.positions.append(header.index(id_field) if id_field in header else -1)

    def columns(self, block: bytes, first: int, count: int, batch: _Batch) -> list[Any]:
        """Per feature (schema order, then the id column when asked) the cells of the well-formed rows of
        a block of lines: a list of strings, or for numeric features of a clean batch a float64 array
        parsed by numpy."""
        if self.all_numbers:
            numbers = _read_numbers(io.BytesIO(block))
            # numpy's reader skips blank lines: a row total that differs sends the block down the slow path
            if numbers is not None and numbers.shape == (count, self.width):
                batch.line_numbers = list(range(first, first + count))
                return [numbers[:, p] if p >= 0 else [None] * count for p in self.positions]  # -1: no id column
        lines = _split_lines(block)
        width = self.width
        try:
            text = b"\n".join(lines).decode("utf-8")
        except UnicodeDecodeError:
            text = '"'  # some line is not UTF-8: go line by line to name it
        if '"' not in text and b"" not in lines:
            str_lines = text.split("\n")
            # Every line must have exactly `width` fields; a total count alone could hide a shifted row.
            if set(map(_COMMAS, str_lines)) == {width - 1}:
                batch.line_numbers = list(range(first, first + len(lines)))
                return self._clean_columns(text, str_lines)
        rows: list[list[str]] = []
        for number, line in enumerate(lines, first):
            if not line.strip():
                continue
            try:
                raw = line.decode("utf-8")
            except UnicodeDecodeError:
                batch.rejected.append((number, RecordError("the line is not valid UTF-8"), None))
                continue
            fields = next(csv.reader([raw])) if '"' in raw else raw.split(",")
            if len(fields) != width:
                batch.rejected.append((number, RecordError(f"expected {width} comma-separated fields, found {len(fields)}"), None))
                continue
            rows.append(fields)
            batch.line_numbers.append(number)
        return [[r[p] for r in rows] if p >= 0 else [None] * len(rows) for p in self.positions]

    def _clean_columns(self, text: str, lines: list[str]) -> list[Any]:
        count = len(lines)
        columns: list[Any] = [None] * len(self.positions)
        numeric = [(k, p) for k, p in enumerate(self.positions) if p >= 0 and k in self.numeric_slots]
        # A block of numbers only was offered to the reader whole (columns()), and it refused: not again.
        block = _read_numbers(lines, [p for _, p in numeric]) if numeric and not self.all_numbers else None
        if block is not None:
            for j, (k, _) in enumerate(numeric):
                columns[k] = block[:, j]
        if any(c is None for c in columns):
            flat = text.replace("\n", ",").split(",")
            for k, p in enumerate(self.positions):
                if columns[k] is None:
                    columns[k] = flat[p::self.width] if p >= 0 else [None] * count
        return columns


def _read_numbers(source: Any, usecols: list[int] | None = None) -> np.ndarray | None:
    """Comma-separated plain numbers (a binary buffer, or a list of text lines) as a float64 matrix by
    numpy's C reader, or None when any line is something else (a quote, an empty or non-numeric cell, a
    different field count, bytes that are not ASCII): the caller then goes cell by cell, which names the
    culprit. A whole block is best given as one buffer: splitting 50,000 lines costs more than the reader
    spends finding them."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.loadtxt(source, delimiter=",", dtype=np.float64, usecols=usecols, ndmin=2, comments=None,
                              encoding="latin-1")
    except (ValueError, UnicodeDecodeError):
        return None
