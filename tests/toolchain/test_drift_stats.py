"""The drift figures against scipy and scikit-learn on the same binned data (issue 20, item 4)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as ss
from edgepack.toolchain.drift import performance, stats
from scipy.spatial.distance import jensenshannon

CASES = [
    ([25, 15, 20, 21, 19, 22, 18, 22, 18, 20], [20, 20, 20, 20, 20, 20, 20, 20, 20, 20]),
    ([55, 70, 38, 27, 10], [0, 10, 80, 100, 10]),
    ([98, 31, 31, 0, 0], [98, 31, 31, 40, 0]),  # a category unseen at build time, as the device counts it
    ([5, 0, 7, 300, 2], [1, 1, 1, 1, 500]),
]


@pytest.mark.parametrize(("ref", "cur"), CASES)
def test_js_and_chi_square_match_scipy(ref, cur):
    assert stats.js_distance(ref, cur) == pytest.approx(jensenshannon(ref, cur, base=2), abs=1e-12)
    table = np.array([ref, cur])
    table = table[:, table.sum(axis=0) > 0]
    expected = ss.chi2_contingency(table, correction=False)
    stat, dof, p = stats.chi_square(ref, cur)
    assert (stat, dof) == (pytest.approx(expected.statistic, rel=1e-12), expected.dof)
    assert p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize(("ref", "cur"), CASES[:2] + CASES[3:])
def test_ks_matches_scipy_on_the_binned_values(ref, cur):
    # Each record stands at its bin's index: scipy's two-sample KS statistic on those values is the binned D.
    a, b = np.repeat(np.arange(len(ref)), ref), np.repeat(np.arange(len(cur)), cur)
    d, p = stats.ks_binned(ref, cur)
    assert d == pytest.approx(ss.ks_2samp(a, b).statistic, abs=1e-12)
    en = len(a) * len(b) / (len(a) + len(b))
    assert p == pytest.approx(ss.kstwobign.sf(math.sqrt(en) * d), rel=1e-9, abs=1e-300)


def test_psi_worked_by_hand():
    # shares 0.5/0.5 vs 0.25/0.75: (0.25-0.5) ln(0.5) + (0.75-0.5) ln(1.5)
    assert stats.psi([50, 50], [25, 75]) == pytest.approx(-0.25 * math.log(0.5) + 0.25 * math.log(1.5))
    assert stats.psi([10, 10], [10, 10]) == 0.0
    # an empty bin on one side is floored, so a new bin gives a large but finite PSI
    assert 0.5 < stats.psi([100, 0], [50, 50]) < math.inf
    assert stats.psi([0, 0], [1, 1]) is None


@pytest.mark.parametrize("x", [0.05, 0.3, 0.8, 1.0, 1.7, 4.0])
def test_kolmogorov_tail_matches_scipy(x):
    assert stats.kolmogorov_sf(x) == pytest.approx(ss.kstwobign.sf(x), rel=1e-9, abs=1e-300)


@pytest.mark.parametrize(("x", "dof"), [(0.2, 1), (3.0, 4), (30.0, 9), (250.0, 3), (5.0, 40)])
def test_chi_square_tail_matches_scipy(x, dof):
    assert stats.chi2_sf(x, dof) == pytest.approx(ss.chi2.sf(x, dof), rel=1e-9, abs=1e-300)


def test_auroc_and_average_precision_match_scikit_learn():
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(3)
    y = rng.random(400) < 0.3
    scores = np.round(np.clip(y * 0.3 + rng.random(400) * 0.8, 0, 1), 2)  # rounded: many ties
    assert performance.auroc(scores, y) == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
    assert performance.average_precision(scores, y) == pytest.approx(average_precision_score(y, scores), abs=1e-12)
    probs = np.c_[1 - scores, scores]
    out = performance.classification_performance(probs, y.astype(int))
    lo, hi = out["auroc_ci"]
    assert lo < out["auroc"] < hi
    assert out["accuracy"] == pytest.approx(np.mean((scores > 0.5) == y))
    assert performance.auroc(scores, np.zeros(400, dtype=bool)) is None
