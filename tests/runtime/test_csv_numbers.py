"""CSV of numbers only: numpy's reader takes whole blocks, and anything it cannot take goes line by line.

Both paths must score the same records and reject the same ones, with the right line numbers, also
across block boundaries. Expected predictions come from the scikit-learn model.
"""

from __future__ import annotations

import numpy as np
from scorer_helpers import read_lines, run_scorer


def _rows(pkg, n):
    """n rows (the holdout's, repeated as needed) as records and CSV lines (about 15 bytes each)."""
    holdout = pkg.records(len(pkg.frame))
    records = [holdout[i % len(holdout)] for i in range(n)]
    return records, [",".join(str(r[f]) for f in pkg.features) for r in records]


def _assert_predicts(pkg, out, records):
    import pandas as pd

    probs = pkg.model.predict_proba(pd.DataFrame(records)[pkg.features])
    assert len(out) == len(records)
    got = np.array([[o["probabilities"]["0"], o["probabilities"]["1"]] for o in out])
    np.testing.assert_allclose(got, probs, atol=1e-5)
    assert [o["label"] for o in out] == [int(v) for v in pkg.model.classes_[probs.argmax(1)]]


def test_clean_blocks_with_crlf_score_every_row(numeric_package):
    records, rows = _rows(numeric_package, 1200)
    text = ",".join(numeric_package.features) + "\r\n" + "\r\n".join(rows) + "\r\n"
    # 4,096-byte blocks: the 1,200 rows arrive in several blocks, each read by numpy in one call
    result = run_scorer([numeric_package.path, "--format", "csv", "--batch-bytes", "4096"], text)
    assert result.returncode == 0, result.stderr
    _assert_predicts(numeric_package, read_lines(result.stdout), records)


def test_bad_lines_fall_back_and_are_named_across_blocks(numeric_package):
    records, rows = _rows(numeric_package, 1200)
    tenure, charges, calls = numeric_package.features
    bad = {
        30: ('"12",50.0,1', None),  # quoted cells: parsed by the csv module, then scored
        145: ("", None),  # a blank line is not a record
        260: ("3,,1", charges),  # empty cell, not nullable
        275: ("3,nan,1", charges),  # NaN refused by the schema
        390: ("3,50.0", None),  # a field short
        800: ("3,50.0,1,7", None),  # a field too many
        1110: ("3,5\xe9,1", charges),  # not a number (and not ASCII)
    }
    lines = [",".join(numeric_package.features)]
    kept = []
    for i, row in enumerate(rows):
        if i in bad:
            lines.append(bad[i][0])
        else:
            lines.append(row)
            kept.append(records[i])
    kept_quoted = list(kept)
    kept_quoted.insert(30, {tenure: 12, charges: 50.0, calls: 1})
    text = "\n".join(lines) + "\n"
    assert len(text) > 2 * 4096  # the bad lines sit in several blocks
    result = run_scorer([numeric_package.path, "--format", "csv", "--batch-bytes", "4096"], text)
    assert result.returncode == 3, result.stderr
    _assert_predicts(numeric_package, read_lines(result.stdout), kept_quoted)
    errors = read_lines(result.stderr)
    # line numbers count the header as line 1: row i is line i + 2
    assert [(e["line"], e["field"]) for e in errors] == [
        (i + 2, field) for i, (_, field) in sorted(bad.items()) if i not in (30, 145)]


def test_columns_in_another_order_than_the_schema(numeric_package):
    """The reader's matrix is the model's tensor only when the header is in schema order; otherwise its
    columns are rearranged (a wrong shortcut here would score every row with swapped features)."""
    records, _ = _rows(numeric_package, 50)
    order = list(reversed(numeric_package.features))
    text = ",".join(order) + "\n" + "".join(",".join(str(r[f]) for f in order) + "\n" for r in records)
    result = run_scorer([numeric_package.path, "--format", "csv"], text)
    assert result.returncode == 0, result.stderr
    _assert_predicts(numeric_package, read_lines(result.stdout), records)


def test_id_field_missing_from_the_header_gives_no_ids(numeric_package):
    """--id-field names a column the file does not have: every id is null, never another column's value."""
    records, rows = _rows(numeric_package, 20)
    text = ",".join(numeric_package.features) + "\n" + "\n".join(rows) + "\n"
    result = run_scorer([numeric_package.path, "--format", "csv", "--id-field", "customer_id"], text)
    assert result.returncode == 0, result.stderr
    out = read_lines(result.stdout)
    assert [o["id"] for o in out] == [None] * 20
    _assert_predicts(numeric_package, out, records)
