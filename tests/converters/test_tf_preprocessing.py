"""Preprocessing rules of the TensorFlow lowering for issue 18's transformers (FunctionTransformer with numpy
ufuncs, TargetEncoder, SplineTransformer), checked directly: the columns they give, run as the float32 graph,
against the fitted transformer's own transform on real data (breast cancer, diabetes). Packages built from
them: tests/converters/test_transformer_steps.py."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import tabular_zoo
from edgepack.runtime.errors import ModelError


def _graph_output(step, frame, categories: dict[str, list[str]] | None = None) -> np.ndarray:
    """transform_columns for `step` over raw columns of `frame`, run as the float32 graph (eager)."""
    import tensorflow as tf
    from edgepack.converters.lowering.columns import Column, transform_columns, transformed_tensor

    categories = categories or {}
    names = list(frame.columns)
    schema = SimpleNamespace(features=[SimpleNamespace(categories=categories.get(n)) for n in names])
    raw = [Column(i, "category" if n in categories else "number") for i, n in enumerate(names)]
    x = np.stack([np.array([categories[n].index(v) if v in categories[n] else -1 for v in frame[n]], np.float32)
                  if n in categories else frame[n].to_numpy(np.float32) for n in names], axis=1)
    return transformed_tensor(tf, tf.constant(x), transform_columns(step, raw, schema)).numpy().astype(np.float64)


@pytest.mark.parametrize("func", ["log1p", "sqrt", "log", "absolute"])
def test_function_transformer_ufuncs(func):
    from sklearn.preprocessing import FunctionTransformer

    train, holdout = tabular_zoo.real_frame("breast_cancer")
    frame = holdout.drop(columns=[tabular_zoo.LABEL]).iloc[:, :8]  # NaN cells included: they stay NaN
    step = FunctionTransformer(getattr(np, func)).fit(frame)
    want = step.transform(frame).to_numpy(dtype=np.float64)
    got = _graph_output(step, frame)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.nanmax(np.abs(got - want) / np.maximum(np.abs(want), 1.0)) <= 1e-6


def test_function_transformer_of_a_python_function_is_refused_by_name():
    from sklearn.preprocessing import FunctionTransformer

    train, _ = tabular_zoo.real_frame("diabetes")
    frame = train.drop(columns=[tabular_zoo.LABEL])
    step = FunctionTransformer(lambda v: v * 2).fit(frame)
    with pytest.raises(ModelError, match=r"FunctionTransformer\(<lambda>\) is not supported in TFLite/TF.js"):
        _graph_output(step, frame)


@pytest.mark.parametrize("target", ["continuous", "binary", "multiclass"])
def test_target_encoder_with_an_unseen_category(target):
    from sklearn.preprocessing import TargetEncoder

    train, holdout = tabular_zoo.real_frame("diabetes", categorical=True)  # holdout: "unrecorded" unseen
    y = {"continuous": train[tabular_zoo.LABEL], "binary": (train[tabular_zoo.LABEL] > 140).astype(int),
         "multiclass": np.digitize(train[tabular_zoo.LABEL], [100, 180])}[target]
    step = TargetEncoder(random_state=0).fit(train[["sex"]], y)
    want = step.transform(holdout[["sex"]])
    got = _graph_output(step, holdout[["sex"]], {"sex": ["female", "male"]})
    assert "unrecorded" in set(holdout["sex"]) and got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max())


@pytest.mark.parametrize("extrapolation", ["constant", "linear", "continue"])
@pytest.mark.parametrize("include_bias", [True, False])
def test_spline_transformer(extrapolation, include_bias):
    """Held-out diabetes rows (some beyond the training range) with missing cells as zeros."""
    from sklearn.preprocessing import SplineTransformer

    train, holdout = tabular_zoo.real_frame("diabetes")
    columns = ["age", "bmi", "bp", "s5"]
    step = SplineTransformer(n_knots=4, degree=3, extrapolation=extrapolation, include_bias=include_bias,
                             handle_missing="zeros").fit(train[columns])
    frame = holdout[columns].copy()
    frame.iloc[0] = train[columns].max() * 1.5  # beyond the knots on both sides
    frame.iloc[1] = train[columns].min() * 1.5
    want = step.transform(frame)
    got = _graph_output(step, frame)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-5


@pytest.mark.parametrize("vectorizer", ["TfidfVectorizer", "CountVectorizer"])
def test_text_is_refused_with_the_reason(vectorizer):
    import pandas as pd
    from sklearn.feature_extraction import text

    frame = pd.DataFrame({"note": ["late payment again", "paid on time", "late"]})
    step = getattr(text, vectorizer)().fit(frame["note"])
    with pytest.raises(ModelError, match=f"{vectorizer} is not supported in TFLite/TF.js: it tokenises string input"):
        _graph_output(step, frame, {"note": list(frame["note"])})
