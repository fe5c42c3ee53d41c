"""The Python API: Scorer.load, predict(records), predict_array(X), checked against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from edgepack.runtime import RecordError, Scorer


@pytest.fixture(scope="module")
def scorer(strict_package):
    return Scorer.load(strict_package.path)


def _expected(pkg, rows):
    import pandas as pd

    return pkg.model.predict_proba(pd.DataFrame(pkg.records(rows)))


def test_predict_records_matches_scikit_learn(strict_package, scorer):
    out = scorer.predict_records(strict_package.records(20))
    want = _expected(strict_package, 20)
    got = np.array([[o["probabilities"]["0"], o["probabilities"]["1"]] for o in out])
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert [o["label"] for o in out] == list(strict_package.model.classes_[want.argmax(1)])


def test_predict_raises_on_a_bad_record(strict_package, scorer):
    records = strict_package.records(3)
    records[1] = {**records[1], "contract": "weekly"}
    with pytest.raises(RecordError) as info:
        scorer.predict(records)
    assert info.value.field == "contract" and info.value.record == 1


def test_predict_array_strings_indices_and_columns(strict_package, scorer):
    records = strict_package.records(12)
    names = scorer.schema.names
    want = _expected(strict_package, 12)
    as_objects = np.array([[r[n] for n in names] for r in records], dtype=object)
    np.testing.assert_allclose(scorer.predict_array(as_objects)["probabilities"], want, atol=1e-5)
    np.testing.assert_allclose(scorer.predict_array(as_objects[3])["probabilities"], want[3:4], atol=1e-5)
    # Contract 2: in a numeric array a category is its index in the manifest's categories.
    index = {f.name: {c: i for i, c in enumerate(f.categories)} for f in scorer.schema.features if f.categories}
    as_numbers = np.array([[index[n][r[n]] if n in index else r[n] for n in names] for r in records], dtype=np.float64)
    np.testing.assert_allclose(scorer.predict_array(as_numbers)["probabilities"], want, atol=1e-5)
    columns = {n: as_objects[:, j] if n in index else as_numbers[:, j] for j, n in enumerate(names)}
    np.testing.assert_allclose(scorer.predict_array(columns)["probabilities"], want, atol=1e-5)
    labels = scorer.labels_from(scorer.predict_array(as_numbers)["probabilities"])
    assert labels == list(strict_package.model.predict(__import__("pandas").DataFrame(records)))


def test_predict_array_one_row_in_every_shape(strict_package, scorer):
    """One row takes the preallocated-buffer path: a 1-D row, a [1, F] array, a plain list, coded numbers."""
    records = strict_package.records(6)
    names = scorer.schema.names
    want = _expected(strict_package, 6)
    index = {f.name: {c: i for i, c in enumerate(f.categories)} for f in scorer.schema.features if f.categories}
    for i, record in enumerate(records):
        row = [record[n] for n in names]
        coded = [index[n][record[n]] if n in index else record[n] for n in names]
        for X in (np.array(row, dtype=object), np.array([row], dtype=object), [row],
                  np.array([coded], dtype=np.float64)):
            got = scorer.predict_array(X)["probabilities"]
            assert got.shape == (1, 2)
            np.testing.assert_allclose(got, want[i:i + 1], atol=1e-5)


def test_predict_array_one_row_from_many_threads(strict_package, scorer):
    """Each thread writes its own input buffers: concurrent calls never see another call's row."""
    from concurrent.futures import ThreadPoolExecutor

    records = strict_package.records(40)
    names = scorer.schema.names
    want = _expected(strict_package, 40)
    rows = [np.array([r[n] for n in names], dtype=object) for r in records]

    def score(i: int) -> np.ndarray:
        return np.concatenate([scorer.predict_array(rows[i])["probabilities"] for _ in range(50)])

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(score, range(40)))
    for i, got in enumerate(results):
        np.testing.assert_allclose(got, np.repeat(want[i:i + 1], 50, axis=0), atol=1e-5)


def test_predict_and_predict_proba_take_every_input_form_like_scikit_learn(strict_package, scorer):
    """DataFrame, array in schema order, one dict, a dict of columns, a list of records: the same
    numpy answers, equal to scikit-learn's predict / predict_proba on the same rows."""
    import pandas as pd

    records = strict_package.records(15)
    frame = pd.DataFrame(records)
    want_proba = strict_package.model.predict_proba(frame)
    want_labels = strict_package.model.predict(frame)
    array = np.array([[r[n] for n in scorer.schema.names] for r in records], dtype=object)
    columns = {n: [r[n] for r in records] for n in scorer.schema.names}
    for form in (frame, array, columns, records):
        np.testing.assert_allclose(scorer.predict_proba(form), want_proba, atol=1e-5)
        assert scorer.predict(form).tolist() == want_labels.tolist()
    assert scorer.predict(records[0]).tolist() == want_labels[:1].tolist()
    assert list(scorer.classes_) == list(strict_package.model.classes_)
    assert scorer.predict_records(frame.iloc[:2]) == scorer.predict_records(records[:2])


def test_a_frame_with_extra_columns_is_scored_and_nan_is_a_missing_value(strict_package, scorer):
    """Columns the model does not use are ignored (the input contract); NaN is a missing value, refused
    here because tenure_months is not nullable in this package, with the row and field named."""
    import pandas as pd

    records = strict_package.records(4)
    frame = pd.DataFrame(records).assign(customer_id=range(4))
    np.testing.assert_array_equal(scorer.predict_proba(frame), scorer.predict_proba(records))
    frame.loc[1, "tenure_months"] = np.nan
    with pytest.raises(RecordError) as info:
        scorer.predict(frame)
    assert info.value.field == "tenure_months" and info.value.record == 1


def test_an_array_of_the_wrong_width_and_a_string_are_usage_errors(scorer):
    from edgepack.runtime import UsageError

    with pytest.raises(UsageError, match="schema order"):
        scorer.predict(np.zeros((2, len(scorer.schema.names) + 1)))
    with pytest.raises(UsageError):
        scorer.predict("records.jsonl")
