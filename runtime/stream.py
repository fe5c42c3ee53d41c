"""Score a stream of records (JSON lines or CSV with a header) into prediction lines and error lines.

`score_stream(scorer, source, sink, errors, options)` is what `edgepack-score` runs on stdin/stdout and
what the watch folder runs on each file. Input is read in micro-batches of whatever has arrived (up to
`batch_bytes`), validated in one vectorised pass (runtime/batch.py), scored in one onnxruntime call and
written in order; with `line_buffered` each record is scored and flushed as soon as its line arrives.

A rejected record becomes one error line `{"line": n, "field": f, "reason": r}` (plus "id" when the
record has one); it never stops the others. Line numbers count physical input lines from 1 (a CSV's
header is line 1; a CSV record whose quoted field spans lines has the number of its first line).

The input contract (runtime/records.py): fields the model does not use are ignored (`strict` refuses them);
`keep_fields` are copied from each record into its prediction line; a nullable feature left out is missing.

Limits (docs/cli.md, "Limits"): a line (a CSV record) longer than `max_line_bytes` is rejected with a
reason and skipped without being held in memory; the rest of the input is scored. With the default
limits (1 MiB lines, 1 MiB micro-batches) `edgepack-score` stays well under a 256 MiB device budget
whatever it is fed. A UTF-8 byte-order mark at the start of the input is skipped (JSON lines and CSV).
"""

from __future__ import annotations

import csv
import io
import operator
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

import numpy as np

from .batch import BatchValidator, Checked
from .errors import DataError, RecordError
from .jsonlines import NotTextError, dumps, parse_line, parse_lines
from .output import PredictionFormatter
from .scorer import Scorer

if TYPE_CHECKING:
    from .stats import StatsCollector

FORMATS = ("jsonl", "csv")
_COMMAS = operator.methodcaller("count", ",")
DEFAULT_BATCH_BYTES = 1 << 20
DEFAULT_MAX_LINE_BYTES = 1 << 20
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class StreamOptions:
    format: str = "jsonl"
    id_field: str | None = None
    line_buffered: bool = False
    batch_bytes: int = DEFAULT_BATCH_BYTES
    strict: bool = False  # refuse fields the model does not use (other than the id and kept fields)
    keep_fields: tuple[str, ...] = ()  # copied from each record into its prediction line
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES  # a longer line (or CSV record) is rejected, not read

    @property
    def carried(self) -> tuple[str, ...]:
        """Fields copied into the output: the id first (as "id"), then the kept fields."""
        return ((self.id_field,) if self.id_field is not None else ()) + self.keep_fields


@dataclass
class StreamCounts:
    scored: int = 0
    rejected: int = 0


class _Batch:
    """Records of one micro-batch: parsed values (or cells), their line numbers and ids."""

    def __init__(self) -> None:
        self.line_numbers: list[int] = []
        self.carried: list[list[Any]] = []  # per carried field (id, kept fields) its value in each record
        self.rejected: list[tuple[int, RecordError, Any]] = []  # found before validation (unparsable lines)


class StreamScorer:
    """Scores micro-batches for one scorer and writes predictions and errors in input order."""

    def __init__(self, scorer: Scorer, sink: BinaryIO, errors: TextIO, options: StreamOptions,
                 stats: StatsCollector | None = None) -> None:
        if options.format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}")
        self.scorer = scorer
        self.sink = sink
        self.errors = errors
        self.options = options
        self.validator = BatchValidator(scorer.schema, frozenset(options.carried), strict=options.strict)
        self.formatter = PredictionFormatter(scorer.package.name, scorer.package.version, scorer.schema.classes,
                                             scorer.schema.task, with_id=options.id_field is not None,
                                             keep=options.keep_fields)
        self.counts = StreamCounts()
        self.stats = stats  # runtime/stats.py: counts each batch in the package's reference bins
        self._csv: _CsvLayout | None = None
        self._csv_tail: list[tuple[int, bytes]] | None = None  # lines of a CSV record whose quote is still open

    # -- the loop ---------------------------------------------------------------------------------
    def run(self, source: BinaryIO) -> StreamCounts:
        """Read `source` to its end. Raises DataError for a CSV header that does not match the model."""
        limit = self.options.max_line_bytes
        blocks = _bounded_lines(source, limit) if self.options.line_buffered else \
            _micro_batches(source, self.options.batch_bytes, limit)
        for block, first, count in blocks:
            if block is None:
                self._reject(first, RecordError(f"the line is longer than {limit} bytes (--max-line-bytes): skipped"))
            else:
                self.feed(block, first, count)
            self.flush()
        if self._csv_tail is not None:  # the input ended inside a quoted field
            batch = _Batch()
            tail, self._csv_tail = self._csv_tail, None
            assert self._csv is not None
            cells = self._csv.columns_of(self._csv_records(tail, final=True), batch)
            self._csv_finish(batch, cells)
        self.flush()
        return self.counts

    def _reject(self, number: int, err: RecordError) -> None:
        self.errors.write(_error_line(number, err, None, self.options.id_field))
        self.counts.rejected += 1

    def flush(self) -> None:
        self.sink.flush()
        self.errors.flush()

    def feed(self, block: bytes, first_line: int, count: int) -> None:
        """Score a block of `count` complete physical lines (newline-separated, none at the end) numbered
        from `first_line`, and write their results."""
        if first_line == 1 and block.startswith(BOM):
            block = block[len(BOM):]
        if self.options.format == "csv":
            if self._csv is None:
                header, newline, block = block.partition(b"\n")
                self._csv = _CsvLayout(header.rstrip(b"\r"), self.validator, self.options, first_line)
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
                except NotTextError as exc:
                    batch.rejected.append((number, RecordError(str(exc)), None))
                except (ValueError, RecursionError) as exc:
                    batch.rejected.append((number, RecordError(f"not a JSON object: {exc}"), None))
        for key in self.options.carried:
            batch.carried.append([r.get(key) if isinstance(r, dict) else None for r in records])
        checked = self.validator.records(records)
        self._finish(batch, checked, lambda i: records[i])

    # -- CSV --------------------------------------------------------------------------------------
    def _csv_batch(self, block: bytes, first: int, count: int) -> None:
        assert self._csv is not None
        batch = _Batch()
        if self._csv_tail is not None or b'"' in block:
            lines = list(enumerate(_split_lines(block), first))
            if self._csv_tail is not None:
                lines, self._csv_tail = self._csv_tail + lines, None
            cells = self._csv.columns_of(self._csv_records(lines, final=False), batch)
        else:
            cells = self._csv.columns(block, first, count, batch)
        self._csv_finish(batch, cells)

    def _csv_finish(self, batch: _Batch, cells: list[Any]) -> None:
        carried = len(self.options.carried)
        if carried:
            batch.carried = [list(c) for c in cells[-carried:]]
            del cells[-carried:]
        checked = self.validator.cells(cells)
        self._finish(batch, checked, lambda i: self.validator.record_from_cells([c[i] for c in cells]))

    def _csv_records(self, lines: list[tuple[int, bytes]], final: bool) -> list[tuple[int, bytes]]:
        """Numbered lines joined into CSV records: a newline inside a quoted field belongs to the field, when
        the quote closes within max_line_bytes and the joined record has the header's field count. A
        record still open at the block's end waits for the next block (unless `final`). Otherwise the
        line with the stray quote is a record alone (and refused), and the next line starts afresh: one
        unmatched quote never swallows the good records after it."""
        assert self._csv is not None
        limit, width = self.options.max_line_bytes, self._csv.width
        records: list[tuple[int, bytes]] = []
        i = 0
        while i < len(lines):
            number, line = lines[i]
            quotes = line.count(b'"')
            if quotes % 2 == 0:
                records.append((number, line))
                i += 1
                continue
            j, size = i + 1, len(line)
            while j < len(lines) and quotes % 2 and size <= limit:
                quotes += lines[j][1].count(b'"')
                size += len(lines[j][1]) + 1
                j += 1
            if quotes % 2 == 0 and size <= limit:
                joined = b"\n".join(line for _, line in lines[i:j])
                if _csv_width(joined) == width:
                    records.append((number, joined))
                    i = j
                    continue
            elif quotes % 2 and j == len(lines) and size <= limit and not final:
                self._csv_tail = lines[i:]
                break
            records.append((number, line))
            i += 1
        return records

    # -- shared tail ------------------------------------------------------------------------------
    def _finish(self, batch: _Batch, checked: Checked, record_at: Any) -> None:
        bad_positions = np.flatnonzero(checked.bad).tolist()
        rejected = list(batch.rejected)
        ids = batch.carried[0] if self.options.id_field is not None and batch.carried else None
        for i in bad_positions:
            rejected.append((batch.line_numbers[i], self.validator.reason(record_at(i)), ids[i] if ids else None))
        good = len(batch.line_numbers) - len(bad_positions)
        columns = raw = None
        if good:
            columns = checked.good_columns()
            raw = self.scorer.run_columns(columns)
            carried = batch.carried
            if carried and bad_positions:
                keep = (~checked.bad).tolist()
                carried = [[v for v, k in zip(column, keep) if k] for column in carried]
            self.sink.write(self.formatter.text(raw, carried or None).encode("utf-8"))
            self.counts.scored += good
        if rejected:
            rejected.sort(key=lambda r: r[0])
            self.errors.write("".join(_error_line(n, err, ident, self.options.id_field) for n, err, ident in rejected))
            self.counts.rejected += len(rejected)
        if self.stats is not None:
            self.stats.observe(columns, raw, [err.field for _, err, _ in rejected])


def _error_line(number: int, err: RecordError, ident: Any, id_field: str | None) -> str:
    entry: dict[str, Any] = {"line": number, "field": err.field, "reason": err.reason}
    if id_field is not None and ident is not None:
        entry["id"] = ident
    return dumps(entry) + "\n"


def _micro_batches(source: BinaryIO, batch_bytes: int, max_line: int = DEFAULT_MAX_LINE_BYTES
                   ) -> Iterator[tuple[bytes | None, int, int]]:
    """Blocks of complete lines (what has arrived, at most about `batch_bytes`; newline-separated, none at
    the end), each with the number of its first line and its count of lines. A line longer than
    `max_line` comes out as (None, its number, 1) and its bytes are dropped as they arrive: memory stays
    bounded by `batch_bytes + max_line` whatever the input holds."""
    read = getattr(source, "read1", source.read)
    pending = b""
    number = 1
    skipping = False  # inside a line already reported as too long
    while True:
        chunk = read(batch_bytes)
        if not chunk:
            break
        if skipping:
            end = chunk.find(b"\n")
            if end < 0:
                continue
            chunk, skipping, number = chunk[end + 1:], False, number + 1
        data = pending + chunk if pending else chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            pending = data
        else:
            pending = data[cut + 1:]
            block = data[:cut]
            yield from _without_long_lines(block, number, max_line)
            number += _newlines(block) + 1
        if len(pending) > max_line:
            yield None, number, 1
            pending, skipping = b"", True
    if pending.strip():
        yield from _without_long_lines(pending, number, max_line)


def _without_long_lines(block: bytes, first: int, max_line: int) -> Iterator[tuple[bytes | None, int, int]]:
    """The block as it is when no line in it can exceed `max_line`; else cut around the lines that do."""
    if len(block) <= max_line:
        yield block, first, _newlines(block) + 1
        return
    ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [len(block)]))
    long = np.flatnonzero(stops - starts > max_line).tolist()
    if not long:
        yield block, first, len(starts)
        return
    done = 0  # index of the first line not yet given out
    for k in long:
        if k > done:
            yield block[starts[done]:stops[k - 1]], first + done, k - done
        yield None, first + k, 1
        done = k + 1
    if done < len(starts):
        yield block[starts[done]:], first + done, len(starts) - done


def _bounded_lines(source: BinaryIO, max_line: int) -> Iterator[tuple[bytes | None, int, int]]:
    """Line by line (--line-buffered), each read with a bound: a longer line comes out as (None, n, 1)."""
    number = 0
    while True:
        line = source.readline(max_line + 2)  # the line, its \r\n, and one byte to notice a longer one
        if not line:
            return
        number += 1
        if len(line.rstrip(b"\r\n")) <= max_line and (line.endswith(b"\n") or len(line) <= max_line):
            yield line.rstrip(b"\r\n"), number, 1
            continue
        yield None, number, 1
        while line and not line.endswith(b"\n"):  # drop the rest of the long line as it comes
            line = source.readline(max_line + 2)


def _csv_width(record: bytes) -> int:
    """How many fields a CSV record holds; -1 when it is not UTF-8, not CSV, or more than one record (a
    quote inside an unquoted field is literal, so a newline after it still ends the record)."""
    try:
        rows = list(csv.reader([record.decode("utf-8")]))
    except (UnicodeDecodeError, csv.Error):
        return -1
    return len(rows[0]) if len(rows) == 1 else -1


def _newlines(block: bytes) -> int:
    # numpy counts a byte value about 5x faster than bytes.count
    return int(np.count_nonzero(np.frombuffer(block, dtype=np.uint8) == 10))


def _split_lines(block: bytes) -> list[bytes]:
    lines = block.split(b"\n")
    return [ln.rstrip(b"\r") for ln in lines] if b"\r" in block else lines


class _CsvLayout:
    """The header of a CSV stream: where each feature (and each carried field) sits, checked against the
    schema by the input contract: columns the model does not use are ignored (refused when strict), a
    nullable feature's column may be absent (its cells are missing)."""

    def __init__(self, header_line: bytes, validator: BatchValidator, options: StreamOptions, line: int) -> None:
        try:
            header = next(csv.reader([header_line.decode("utf-8-sig")]))
        except (UnicodeDecodeError, StopIteration, csv.Error) as exc:
            raise DataError(f"cannot read the CSV header: {exc}", where=f"line {line}",
                            fix="the first line must name the columns") from exc
        header = [h.strip() for h in header]
        names = validator.names
        nullable = {r.name for r in validator.rules if r.feat.nullable}
        missing = [n for n in names if n not in header and n not in nullable]
        allowed = set(names) | set(options.carried)
        unknown = [h for h in header if h not in allowed] if options.strict else []
        if missing or unknown or len(set(header)) != len(header):
            parts = []
            if missing:
                parts.append(f"missing column(s) {', '.join(missing)}")
            if unknown:
                parts.append(f"unknown column(s) {', '.join(unknown)} (--strict)")
            if len(set(header)) != len(header):
                parts.append("repeated column names")
            carried = ", ".join(options.carried)
            raise DataError("the CSV header does not match the model's inputs: " + "; ".join(parts),
                            where=f"line {line}",
                            fix=f"the header must name: {', '.join(names)}"
                                + (f" (and the copied column(s) {carried})" if carried else "")
                                + (" and nothing else" if options.strict else ""))
        self.width = len(header)
        self.positions = [header.index(n) if n in header else -1 for n in names]
        self.n_features = len(names)
        # Plain numbers (not bool words, not categories) can be parsed by numpy's C reader in one call.
        self.numeric_slots = {k for k, rule in enumerate(validator.rules)
                              if rule.feat.type in ("float", "int") and self.positions[k] >= 0}
        # Every column a plain-number feature: the raw lines go straight to numpy's reader (no decode, split
        # or per-line field count; the reader checks the count and the row total is checked after it).
        self.all_numbers = len(self.numeric_slots) == len(names) == self.width
        self.positions += [header.index(f) if f in header else -1 for f in options.carried]

    def _absent(self, k: int, count: int) -> list[Any]:
        """Cells of a column the header lacks: empty (missing) for a feature, null for a carried field."""
        return [""] * count if k < self.n_features else [None] * count

    def columns(self, block: bytes, first: int, count: int, batch: _Batch) -> list[Any]:
        """Per feature (schema order, then the id column when asked) the cells of the well-formed rows of
        a block of lines: a list of strings, or for numeric features of a clean batch a float64 array
        parsed by numpy."""
        if self.all_numbers:
            numbers = _read_numbers(io.BytesIO(block))
            # numpy's reader skips blank lines: a row total that differs sends the block down the slow path
            if numbers is not None and numbers.shape == (count, self.width):
                batch.line_numbers = list(range(first, first + count))
                return [numbers[:, p] if p >= 0 else self._absent(k, count) for k, p in enumerate(self.positions)]
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
        return self.columns_of(list(enumerate(lines, first)), batch)

    def columns_of(self, records: list[tuple[int, bytes]], batch: _Batch) -> list[Any]:
        """The cells of numbered CSV records (a record may span lines inside quotes), one by one: a record
        that is not UTF-8 or has another field count than the header is rejected with its reason."""
        rows: list[list[str]] = []
        width = self.width
        for number, line in records:
            if not line.strip():
                continue
            try:
                raw = line.decode("utf-8")
            except UnicodeDecodeError:
                batch.rejected.append((number, RecordError("the line is not valid UTF-8"), None))
                continue
            try:
                fields = next(csv.reader([raw])) if '"' in raw else raw.split(",")
            except csv.Error as exc:
                batch.rejected.append((number, RecordError(f"not a CSV record: {exc}"), None))
                continue
            if len(fields) != width:
                batch.rejected.append((number, RecordError(f"expected {width} comma-separated fields, found {len(fields)}"), None))
                continue
            rows.append(fields)
            batch.line_numbers.append(number)
        return [[r[p] for r in rows] if p >= 0 else self._absent(k, len(rows)) for k, p in enumerate(self.positions)]

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
                    columns[k] = flat[p::self.width] if p >= 0 else self._absent(k, count)
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
