"""Shift statistics of binned counts: reference counts against current counts over the same bins.

- PSI (population stability index): sum over bins of (q - p) ln(q / p), shares floored at PSI_FLOOR so
  that a bin empty on one side gives a large finite term, as PSI is usually computed.
- Jensen-Shannon distance, base 2 (0 same, 1 disjoint): scipy.spatial.distance.jensenshannon(p, q, base=2).
- chi-square test of homogeneity on the 2 x k table (bins empty on both sides dropped): the statistic,
  degrees of freedom and p-value of scipy.stats.chi2_contingency(correction=False).
- KS-style test for ordered bins: D = max |F_ref - F_cur| over bin boundaries, p from the asymptotic
  Kolmogorov distribution at sqrt(n m / (n + m)) D (scipy.stats.kstwobign.sf). Binning can only hide
  differences, so D is a lower bound of the KS statistic of the raw values.

Implemented with numpy and math alone; tests/toolchain/test_drift_stats.py checks each against scipy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

PSI_FLOOR = 1e-4


def _shares(counts: Any) -> np.ndarray:
    c = np.asarray(counts, dtype=np.float64)
    total = c.sum()
    return c / total if total > 0 else c


def psi(ref: Any, cur: Any) -> float | None:
    """Population stability index of current counts against reference counts; None when a side is empty."""
    r, c = np.asarray(ref, dtype=np.float64), np.asarray(cur, dtype=np.float64)
    if r.sum() <= 0 or c.sum() <= 0:
        return None
    p = np.maximum(_shares(r), PSI_FLOOR)
    q = np.maximum(_shares(c), PSI_FLOOR)
    return float(np.sum((q - p) * np.log(q / p)))


def js_distance(ref: Any, cur: Any) -> float | None:
    """Jensen-Shannon distance (base 2) of the two count vectors' distributions."""
    r, c = np.asarray(ref, dtype=np.float64), np.asarray(cur, dtype=np.float64)
    if r.sum() <= 0 or c.sum() <= 0:
        return None
    p, q = _shares(r), _shares(c)
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    return math.sqrt(max((kl(p) + kl(q)) / 2, 0.0))


def chi_square(ref: Any, cur: Any) -> tuple[float, int, float] | None:
    """(statistic, degrees of freedom, p-value) of the 2 x k homogeneity test; None when a side is empty
    or fewer than two bins hold anything."""
    table = np.vstack([np.asarray(ref, dtype=np.float64), np.asarray(cur, dtype=np.float64)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) <= 0).any():
        return None
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    stat = float(np.sum((table - expected) ** 2 / expected))
    dof = table.shape[1] - 1
    return stat, dof, chi2_sf(stat, dof)


def ks_binned(ref: Any, cur: Any) -> tuple[float, float] | None:
    """(D, p-value) of the KS-style test on ordered bins; None when a side is empty."""
    r, c = np.asarray(ref, dtype=np.float64), np.asarray(cur, dtype=np.float64)
    n, m = r.sum(), c.sum()
    if n <= 0 or m <= 0:
        return None
    d = float(np.max(np.abs(np.cumsum(r) / n - np.cumsum(c) / m)))
    return d, kolmogorov_sf(math.sqrt(n * m / (n + m)) * d)


# -- distribution tails (what scipy.special would give; kept here so the toolchain needs no scipy) ----------
def kolmogorov_sf(x: float) -> float:
    """P(K > x) for the Kolmogorov distribution (scipy.stats.kstwobign.sf)."""
    if x <= 0:
        return 1.0
    if x < 1.0:  # the theta-function form converges fast for small x
        s = sum(math.exp(-((2 * k - 1) ** 2) * math.pi ** 2 / (8 * x * x)) for k in range(1, 12))
        return 1.0 - math.sqrt(2 * math.pi) / x * s
    s = sum((-1) ** (k - 1) * math.exp(-2 * k * k * x * x) for k in range(1, 101))
    return max(0.0, min(1.0, 2 * s))


def chi2_sf(x: float, dof: int) -> float:
    """P(X > x) for a chi-square with `dof` degrees of freedom: the regularized upper incomplete gamma
    Q(dof/2, x/2), by its series below a + 1 and its continued fraction above (Numerical Recipes 6.2)."""
    if x <= 0:
        return 1.0
    a, z = dof / 2.0, x / 2.0
    log_front = a * math.log(z) - z - math.lgamma(a)
    if z < a + 1:
        term = total = 1.0 / a
        ap = a
        for _ in range(1000):
            ap += 1
            term *= z / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    tiny = 1e-300
    b = z + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return min(1.0, math.exp(log_front) * h)
