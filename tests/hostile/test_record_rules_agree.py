"""One set of record rules: the device scorer (CLI and Python), `batch-score` and the Spark engines take the
same bad records and give the same verdicts, in the same words (issue 14, item 4).

Each case is one column of a churn table given values of a type or range the model refuses (a Parquet
column has one type, so each case is its own table). The same rows go to every path: as Parquet to
batch-score, as JSON lines to `edgepack-score`, as records to `Scorer.score`, and as the pandas frame a
Spark executor receives (Arrow -> pandas) to the Spark engines' validation.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from edgepack.converters.sources.sample import records_from_frame, validate_frame
from edgepack.runtime.schema import IOSchema
from edgepack.runtime.scorer import Scorer
from edgepack.toolchain.cli import main
from hostile_helpers import json_lines, run_scorer

CASES = {
    # a float feature given booleans: the device refuses JSON's `true`; batch-score and Spark took it as 1.0
    "bool-for-float": ("monthly_charges", [True, False, True, False]),
    # an int feature given fractions, infinity and NaN (nullable here: the model imputes)
    "fraction-for-int": ("tenure_months", [2.5, math.inf, float("nan"), 3.0]),
    # numbers as text
    "text-for-number": ("support_calls", ["3", "x", None, "1_000"]),
    # a category missing (never nullable in v1), and one the model ignores
    "category": ("contract", [None, "month-to-month", "gold", "two-year"]),
}


def _table(model, column, values):
    frame = model.holdout.drop(columns=[model.label]).head(len(values)).reset_index(drop=True)
    frame[column] = pd.Series(values, dtype=object if any(isinstance(v, str) for v in values) else None)
    return frame


def _device_verdicts_cli(package, records):
    text = "".join(json.dumps(r) + "\n" for r in records)  # NaN/Infinity literals, as Python writes them
    result = run_scorer([package], text)
    assert result.returncode in (0, 3), result.stderr
    verdicts = [None] * len(records)
    for line in json_lines(result.stderr):
        verdicts[line["line"] - 1] = f"{line['field']}: {line['reason']}" if line["field"] else line["reason"]
    return verdicts


def _device_verdicts_python(package, records):
    _, _, rejected = Scorer.load(package).score(records)
    verdicts = [None] * len(records)
    for r in rejected:
        verdicts[r.index] = f"{r.field}: {r.reason}" if r.field else r.reason
    return verdicts


def _batch_score_verdicts(package, frame, tmp_path):
    path, out = tmp_path / "in.parquet", tmp_path / "out.parquet"
    frame.to_parquet(path)
    code = main(["batch-score", str(package), "--input", str(path), "--output", str(out)])
    assert code in (0, 3)
    return [None if pd.isna(e) else e for e in pd.read_parquet(out)["error"]]


def _spark_executor_verdicts(package, frame, tmp_path):
    """What a Spark executor's mapInPandas receives is Arrow turned into pandas: the same round trip."""
    import pyarrow as pa

    schema = IOSchema.from_manifest(json.loads((package / "manifest.json").read_text()))
    arrived = pa.Table.from_pandas(frame, preserve_index=False).to_pandas()
    _, errors = validate_frame(schema, arrived)
    return list(errors)


@pytest.mark.parametrize("case", list(CASES))
def test_every_path_gives_the_same_verdicts(built_packages, tmp_path, case):
    model, package = built_packages("logreg_binary")
    column, values = CASES[case]
    frame = _table(model, column, values)
    schema = IOSchema.from_manifest(json.loads((package / "manifest.json").read_text()))
    records = records_from_frame(frame, schema)
    device = _device_verdicts_cli(package, records)
    assert any(device), "the case must hold at least one record the device refuses"
    assert _device_verdicts_python(package, records) == device
    assert _batch_score_verdicts(package, frame, tmp_path) == device
    assert _spark_executor_verdicts(package, frame, tmp_path) == device


def test_a_boolean_for_a_float_feature_is_refused_everywhere(built_packages, tmp_path):
    model, package = built_packages("logreg_binary")
    frame = _table(model, "monthly_charges", [True, False])
    verdicts = _batch_score_verdicts(package, frame, tmp_path)
    assert verdicts == ["monthly_charges: expected a number, got boolean True",
                        "monthly_charges: expected a number, got boolean False"]


def test_a_table_row_becomes_the_record_a_device_would_get(built_packages):
    model, package = built_packages("logreg_binary")
    schema = IOSchema.from_manifest(json.loads((package / "manifest.json").read_text()))
    frame = _table(model, "monthly_charges", [True, np.nan])
    frame["tenure_months"] = [np.int64(3), 2.5]
    frame["contract"] = ["one-year", pd.NA]
    first, second = records_from_frame(frame, schema)
    assert first["monthly_charges"] is True and type(first["tenure_months"]) is int
    assert second["monthly_charges"] is None and second["tenure_months"] == 2.5 and second["contract"] is None
