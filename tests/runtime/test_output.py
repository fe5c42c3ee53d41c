"""Prediction lines: every line valid JSON carrying exactly its row's values, whatever the names hold."""

from __future__ import annotations

import json

import numpy as np
from edgepack.runtime.output import PredictionFormatter


def _lines(text: str) -> list[str]:
    assert text.endswith("\n")
    return text[:-1].split("\n")  # JSON escapes newlines inside strings; U+2028 is not a line break here


def test_names_with_percent_quotes_and_line_separators_stay_plain_text():
    fmt = PredictionFormatter('50% "off" %s', "1%d", ["no %s", "yes\u2028"], "classification", with_id=True)
    probs = np.array([[0.25, 0.75], [0.9, 0.1], [0.5, 0.5]], dtype=np.float32)
    ids = ["a\u2028b", 7, None]
    lines = _lines(fmt.text({"probabilities": probs}, [ids]))
    assert len(lines) == 3
    rows = [json.loads(line) for line in lines]
    assert [r["id"] for r in rows] == ids
    assert [r["label"] for r in rows] == ["yes\u2028", "no %s", "no %s"]  # first class on a tie
    assert rows[0]["probabilities"] == {"no %s": 0.25, "yes\u2028": 0.75}
    assert {(r["package"], r["version"]) for r in rows} == {('50% "off" %s', "1%d")}


def test_regression_values_round_trip_and_non_finite_become_null():
    fmt = PredictionFormatter("reg", "2", [], "regression", with_id=False)
    values = np.array([1.5, -2.25e-7, 123456.789])
    rows = [json.loads(line) for line in _lines(fmt.text({"value": values}))]
    assert [r["value"] for r in rows] == values.tolist()
    broken = [json.loads(line) for line in _lines(fmt.text({"value": np.array([1.0, np.nan])}))]
    assert [r["value"] for r in broken] == [1.0, None]
