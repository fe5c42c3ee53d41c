"""The comparator and the tolerance grammar on hand-worked cases (numbers worked out by hand in comments)."""

from __future__ import annotations

import numpy as np
import pytest
from edgepack.parity.compare import compare, roc_auc
from edgepack.parity.profiles import (
    DEFAULT_PROFILES,
    harness_profile,
    load_overrides,
    parse_override,
    profile_for,
)

STRICT = DEFAULT_PROFILES["float32"]


def test_classification_metrics_and_failures():
    ref = {"probabilities": np.array([[0.9, 0.1], [0.4, 0.6]])}
    got = {"probabilities": np.array([[0.9, 0.1], [0.6, 0.4]])}
    result = compare("classification", ref, got, STRICT)
    # row 1 flips (0.6 -> 0.4): agreement 1/2, largest error |0.6 - 0.4| = 0.2
    assert result.metrics["label_agreement"] == 0.5 and result.metrics["max_probability_error"] == pytest.approx(0.2)
    assert [f["metric"] for f in result.failures] == ["label_agreement", "max_probability_error"]
    assert result.disagreeing.tolist() == [1] and result.row_error.tolist() == pytest.approx([0.0, 0.2])


def test_nan_output_fails():
    ref = {"probabilities": np.array([[0.5, 0.5]])}
    result = compare("classification", ref, {"probabilities": np.array([[np.nan, np.nan]])}, STRICT)
    assert not result.passed and result.metrics["max_probability_error"] == float("inf")


def test_regression_uses_scale_and_optional_keys():
    ref, got = {"value": np.array([10.0, 20.0])}, {"value": np.array([10.0, 20.5])}
    # |20.5 - 20| = 0.5; scaled by 100 -> 0.005; relative 0.5 / 20 = 0.025
    assert compare("regression", ref, got, {"max_value_error": 0.01}, scale=100.0).passed
    result = compare("regression", ref, got, {"max_value_error": 0.01, "max_rel_error": 0.02}, scale=100.0)
    assert [f["metric"] for f in result.failures] == ["max_rel_error"]
    assert result.metrics["max_rel_error"] == pytest.approx(0.025)


def test_wrong_shape_is_a_value_error():
    with pytest.raises(ValueError, match="shape"):
        compare("regression", {"value": np.zeros(3)}, {"value": np.zeros(2)}, STRICT)


@pytest.mark.parametrize("spec, passes", [
    ({"atol": 0.1, "rtol": 0.02}, True),     # element 0 within atol (0.05), element 1 within rtol (0.01)
    ({"atol": 0.1, "rtol": 0.005}, False),   # element 1: abs 1.0 > 0.1 and rel 0.01 > 0.005
    ({"statistic": "max", "atol": 1.0}, True),       # max abs error 1.0
    ({"statistic": "mean", "atol": 0.5}, False),     # mean abs error 0.525
    ({"statistic": "mean", "rtol": 0.031}, True),    # mean rel error (0.05 + 0.01) / 2 = 0.03
    ({"statistic": "quantile", "q": 0.0, "atol": 0.051}, True),  # smallest abs error 0.05
], ids=["elementwise-pass", "elementwise-fail", "max", "mean-abs", "mean-rel", "quantile"])
def test_output_tolerance_grammar(spec, passes):
    ref, got = {"value": np.array([1.0, 100.0])}, {"value": np.array([1.05, 101.0])}
    profile = {"max_value_error": 1e9, "outputs": {"value": spec}}
    assert compare("regression", ref, got, profile).passed is passes


def test_roc_auc_by_hand():
    # pairs (positive, negative): (0.35 vs 0.1) win, (0.35 vs 0.4) lose, (0.8 vs both) win: 3 of 4
    assert roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([False, False, True, True])) == 0.75
    assert roc_auc(np.array([0.5, 0.5]), np.array([False, True])) == 0.5  # a tie counts half
    assert np.isnan(roc_auc(np.array([0.5]), np.array([True])))


def test_auc_change_checked_only_with_labels():
    ref = {"probabilities": np.array([[0.9, 0.1], [0.6, 0.4], [0.65, 0.35], [0.2, 0.8]])}
    got = {"probabilities": np.array([[0.9, 0.1], [0.6, 0.4], [0.55, 0.45], [0.2, 0.8]])}
    labels = np.array([0, 0, 1, 1])
    result = compare("classification", ref, got, {"max_probability_error": 1.0, "min_label_agreement": 0.0,
                                                  "max_auc_change": 0.1}, labels=labels)
    # reference scores 0.1, 0.4, 0.35, 0.8 give 0.75; the artifact's 0.45 beats 0.4 too: 1.0
    assert result.metrics["auc_reference"] == 0.75 and result.metrics["auc_artifact"] == 1.0
    assert [f["metric"] for f in result.failures] == ["auc_change"]


def test_profile_for_keeps_working_and_manifest_wins():
    assert profile_for("float32") == {"min_label_agreement": 1.0, "max_probability_error": 1e-5, "max_value_error": 1e-5}
    manifest = {"tolerance_profiles": {"float16": {"min_label_agreement": 0.9, "max_probability_error": 0.05}}}
    assert profile_for("float16", manifest)["max_probability_error"] == 0.05


def test_overrides_precision_then_artifact():
    overrides = load_overrides(["float16:max_probability_error=0.03",
                                "onnx-float16:probabilities.statistic=quantile,probabilities.q=0.99,probabilities.atol=1e-3"])
    profile = harness_profile("float16", None, overrides, "onnx-float16")
    assert profile["max_probability_error"] == 0.03 and profile["min_label_agreement"] == 0.995
    assert profile["outputs"] == {"probabilities": {"statistic": "quantile", "q": 0.99, "atol": 1e-3}}
    assert "outputs" not in harness_profile("float16", None, overrides, "tflite-float16")


@pytest.mark.parametrize("text, message", [
    ("float32", "expected PRECISION:KEY=VALUE"), ("float32:max_probability_error", "expected KEY=VALUE"),
    ("float32:speed=1", "unknown tolerance key"), ("float32:max_probability_error=lots", "needs a number"),
    ("float32:max_probability_error=-1", ">= 0"), ("float32:value.statistic=median", "statistic must be one of"),
    ("float32:value.colour=1", "unknown output tolerance field"),
])
def test_override_errors_are_readable(text, message):
    with pytest.raises(ValueError, match=message):
        parse_override(text)
