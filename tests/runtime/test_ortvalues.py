"""predict_array's one-record path: inputs as OrtValues read in place, categories as cached OrtValues
from a hand-encoded ONNX model. The model must be valid ONNX, and the path must score exactly what the
scikit-learn model and the general path score, for every category and for a category it cannot hold."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from edgepack.runtime import Scorer
from edgepack.runtime.ortvalues import strings_model


@pytest.fixture(scope="module")
def scorer(strict_package):
    return Scorer.load(strict_package.path)


def test_hand_encoded_model_is_valid_onnx_and_returns_its_strings():
    values = ["month-to-month", "", "fibre \u00e9\u2028", "x" * 300]
    data = strings_model(values)
    model = onnx.load_from_string(data)
    onnx.checker.check_model(model, full_check=True)
    assert [o.name for o in model.graph.output] == ["v0", "v1", "v2", "v3"]
    outputs = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {})
    assert [o.shape for o in outputs] == [(1, 1)] * 4
    assert [o[0, 0] for o in outputs] == values


def test_every_category_scores_as_scikit_learn_does(strict_package, scorer):
    import pandas as pd

    assert scorer._row_session is not None  # the fast path is what this test is about
    base = strict_package.records(1)[0]
    rows = []
    for feat in scorer.schema.features:
        for category in feat.categories or ():
            rows.append({**base, feat.name: category})
    names = scorer.schema.names
    want = strict_package.model.predict_proba(pd.DataFrame(rows)[names])
    for record, expected in zip(rows, want):
        got = scorer.predict_array(np.array([record[n] for n in names], dtype=object))["probabilities"]
        np.testing.assert_allclose(got[0], expected, atol=1e-5)
    assert scorer._row_feeds is not None  # ... and it was taken


def test_a_category_the_manifest_does_not_list_takes_the_general_path(strict_package, scorer):
    """The cache cannot hold "weekly": the row goes the slicing way, and the graph itself judges it (this
    package's one-hot encoder refuses unknown categories: onnxruntime's error, not a lookup error)."""
    names = scorer.schema.names
    record = {**strict_package.records(1)[0], "contract": "weekly"}
    row = np.array([record[n] for n in names], dtype=object)
    with pytest.raises(Exception, match="Unknown Category") as one:
        scorer.predict_array(row)
    with pytest.raises(Exception, match="Unknown Category") as two:
        scorer.predict_array(np.stack([row, row]))
    assert type(one.value) is type(two.value)
