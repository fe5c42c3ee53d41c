"""Output lines for regression and for multiclass string labels, checked against scikit-learn."""

from __future__ import annotations

import numpy as np
from scorer_helpers import jsonl, read_lines, run_scorer


def _records(zoo_model, rows):
    frame = zoo_model.holdout.drop(columns=[zoo_model.label]).head(rows)
    out = []
    for rec in frame.to_dict(orient="records"):
        out.append({k: (None if isinstance(v, float) and v != v else (v.item() if hasattr(v, "item") else v))
                    for k, v in rec.items()})
    return frame, out


def test_regression_lines_carry_the_value(built_packages):
    model, path = built_packages("ridge")
    frame, records = _records(model, 25)
    for env in ({}, {"EDGEPACK_NO_ORJSON": "1"}):
        result = run_scorer([path, "--format", "jsonl"], jsonl(records), env=env)
        assert result.returncode == 0, result.stderr
        lines = read_lines(result.stdout)
        assert all(set(line) == {"value", "package", "version"} for line in lines)
        np.testing.assert_allclose([line["value"] for line in lines], model.model.predict(frame), rtol=1e-5, atol=1e-4)


def test_multiclass_string_labels(built_packages):
    model, path = built_packages("logreg_multiclass")
    frame, records = _records(model, 25)
    result = run_scorer([path], jsonl(records))
    assert result.returncode == 0, result.stderr
    lines = read_lines(result.stdout)
    classes = [str(c) for c in model.model.classes_]
    assert [line["label"] for line in lines] == list(model.model.predict(frame))
    got = np.array([[line["probabilities"][c] for c in classes] for line in lines])
    np.testing.assert_allclose(got, model.model.predict_proba(frame), atol=1e-5)
