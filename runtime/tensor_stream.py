"""Score JSON lines for a tensor package: one object per line, {input name: nested array, ...}; one output
line per record in input order: {"label", "top_k": [{"class", "probability"}]} for a classifier, else
{output name: nested array}. A rejected record becomes one error line {"line", "field", "reason"}, as
for tabular packages (runtime/stream.py). Records are scored in batches bounded by count and bytes, so
a stream of images stays within the same memory budget as a stream of rows.
"""

from __future__ import annotations

import json
from typing import IO, Any, BinaryIO

from .errors import RecordError
from .stream import StreamCounts

BATCH_RECORDS = 32
BATCH_BYTES = 4 << 20


def score_stream(scorer: Any, source: BinaryIO, out: IO[bytes], errors: IO[str], id_field: str | None = None,
                 line_buffered: bool = False) -> StreamCounts:
    """Read JSON lines from `source`, write prediction lines to `out` and error lines to `errors`."""
    counts = StreamCounts()
    pending: list[tuple[int, bytes]] = []
    size = 0
    limit = 1 if line_buffered else BATCH_RECORDS
    for number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        pending.append((number, line))
        size += len(line)
        if len(pending) >= limit or size >= BATCH_BYTES:
            _flush(scorer, pending, out, errors, id_field, counts, line_buffered)
            pending, size = [], 0
    if pending:
        _flush(scorer, pending, out, errors, id_field, counts, line_buffered)
    return counts


def _flush(scorer: Any, lines: list[tuple[int, bytes]], out: IO[bytes], errors: IO[str], id_field: str | None,
           counts: StreamCounts, line_buffered: bool) -> None:
    records: list[Any] = []
    numbers: list[int] = []
    idents: list[Any] = []
    failed: list[tuple[int, RecordError, Any]] = []
    for number, line in lines:
        try:
            record = json.loads(line)
        except (ValueError, UnicodeDecodeError) as exc:
            failed.append((number, RecordError(f"not valid JSON: {exc}"), None))
            continue
        ident = record.pop(id_field, None) if isinstance(record, dict) and id_field else None
        records.append(record)
        numbers.append(number)
        idents.append(ident)
    good, rows, rejected = scorer.score(records)
    for err in rejected:
        index = err.record if err.record is not None else 0
        failed.append((numbers[index], err, idents[index]))
    for number, err, ident in sorted(failed, key=lambda f: f[0]):  # error lines in input order
        _error(errors, number, err, ident, id_field, counts)
    text = []
    for index, row in zip(good, rows):
        if id_field is not None and idents[index] is not None:
            row = {"id": idents[index], **row}
        text.append(json.dumps(row, allow_nan=False) + "\n")
    out.write("".join(text).encode())
    counts.scored += len(rows)
    if line_buffered:
        out.flush()


def _error(errors: IO[str], number: int, err: RecordError, ident: Any, id_field: str | None, counts: StreamCounts) -> None:
    entry: dict[str, Any] = {"line": number, "field": err.field, "reason": err.reason}
    if id_field is not None and ident is not None:
        entry["id"] = ident
    errors.write(json.dumps(entry) + "\n")
    counts.rejected += 1


def score_npy(scorer: Any, source: BinaryIO, out: IO[bytes], errors: IO[str]) -> StreamCounts:
    """A `.npy` file (watch mode): one array [N, ...] for a package with one input, scored in batches.
    Its rows become output lines 1..N; a file that is not a numeric array of the input's shape is
    rejected whole, as one error line. Never unpickles (allow_pickle=False)."""
    import numpy as np

    counts = StreamCounts()
    if len(scorer.inputs) != 1:
        _error(errors, 1, RecordError(f"a .npy file feeds one input; this model takes {len(scorer.inputs)}"), None, None, counts)
        return counts
    spec = scorer.inputs[0]
    try:
        array = np.load(source, mmap_mode=None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        _error(errors, 1, RecordError(f"not a readable .npy array: {exc}", field=spec.name), None, None, counts)
        return counts
    try:
        for start in range(0, max(len(array), 1) if array.ndim else 1, BATCH_RECORDS):
            batch = array[start:start + BATCH_RECORDS] if array.ndim else array
            rows = scorer.format(scorer.predict({spec.name: batch}))
            out.write("".join(json.dumps(r, allow_nan=False) + "\n" for r in rows).encode())
            counts.scored += len(rows)
    except RecordError as err:
        _error(errors, 1, RecordError(f"the array does not fit the input: {err.reason}", field=spec.name), None, None, counts)
    return counts
