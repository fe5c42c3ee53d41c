"""The mergeable metric summaries of the distributed parity engine: merged pieces equal one pass over all
rows; quantiles never understate; the AUC from score histograms matches the rank formula (hand-checked)."""

from __future__ import annotations

import numpy as np
from edgepack.parity.engines.sketch import Summary, auc_from_histograms, histogram_quantile, score_histogram
from edgepack.parity.metrics import classification_metrics, regression_metrics


def _probs(rng, n):
    p = rng.random(n)
    return np.stack([1 - p, p], axis=1)


def test_merged_pieces_equal_one_pass_and_the_single_machine_metrics():
    rng = np.random.default_rng(0)
    ref = _probs(rng, 1000)
    got = ref + rng.normal(0, 1e-6, ref.shape)
    got[17] = got[17][::-1]  # one flipped row
    labels = rng.integers(0, 2, 1000)
    whole = Summary()
    whole.add("classification", ref, got, labels)
    merged = Summary()
    for part in np.array_split(np.arange(1000), 7):
        piece = Summary()
        piece.add("classification", ref[part], got[part], labels[part])
        merged.merge(Summary.from_row(piece.to_row()))
    a, b = whole.metrics("classification", 2, 1.0), merged.metrics("classification", 2, 1.0)
    mean_a, mean_b = a.pop("mean_probability_error"), b.pop("mean_probability_error")
    assert a == b and np.isclose(mean_a, mean_b, rtol=1e-12)  # sums differ only in rounding order
    single = classification_metrics(ref, got)
    assert a["label_agreement"] == single["label_agreement"]
    assert a["disagreements"] == single["disagreements"] >= 1
    assert a["max_probability_error"] == single["max_probability_error"]
    assert np.isclose(mean_a, single["mean_probability_error"])


def test_regression_metrics_match_the_single_machine_ones():
    rng = np.random.default_rng(1)
    ref = rng.normal(100, 20, 500)
    got = ref + rng.normal(0, 1e-3, 500)
    summary = Summary()
    summary.add("regression", ref, got)
    mine, single = summary.metrics("regression", 0, 20.0), regression_metrics(ref, got, 20.0)
    for key in ("max_abs_error", "max_rel_error", "max_scaled_error"):
        assert mine[key] == single[key]
    assert np.isclose(mine["mean_abs_error"], single["mean_abs_error"])


def test_quantiles_are_upper_bounds_within_one_bin():
    rng = np.random.default_rng(2)
    errors = 10 ** rng.uniform(-12, -3, 10_000)
    summary = Summary()
    summary.add("regression", np.zeros(10_000), errors)
    for q in (0.5, 0.9, 0.99):
        exact = np.quantile(errors, q)
        sketch = summary.metrics("regression", 0, 1.0)[f"error_q{q:g}"]
        assert exact <= sketch <= exact * 10 ** 0.125 * 1.0000001
    assert histogram_quantile(np.zeros(5, dtype=np.int64), 0.5) == 0.0


def test_auc_from_histograms_by_hand():
    # positives score 0.9, 0.6; negatives 0.1, 0.6 (a tie with a positive): AUC = (2 + 1 + 0.5) / 4
    pos, neg = score_histogram(np.array([0.9, 0.6])), score_histogram(np.array([0.1, 0.6]))
    assert auc_from_histograms(pos, neg) == 3.5 / 4
    assert np.isnan(auc_from_histograms(pos, np.zeros_like(neg)))
