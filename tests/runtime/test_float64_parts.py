"""The float64-parts input encoding (contract 2): hand-worked splits, the same ones web/test/records.test.mjs
checks in JavaScript, and the order of the triples (what a tree artifact's lexicographic comparison relies on)."""

from __future__ import annotations

import math

import numpy as np
from edgepack.runtime.records import float64_parts, tensors_for
from edgepack.runtime.schema import IOSchema

# x = 1 + 2^-24 + 2^-50 + 2^-52 rounds up to the float32 1 + 2^-23; the rest, -2^-24 + 1.25 * 2^-50, rounds to
# -2^-24 (float32 steps are 2^-48 there); 1.25 * 2^-50 is left.
X = 1 + 2.0**-24 + 2.0**-50 + 2.0**-52
X_PARTS = [1 + 2.0**-23, -(2.0**-24), 2.0**-50 + 2.0**-52]
F32_MAX = float(np.finfo(np.float32).max)


def test_hand_worked_splits():
    got = float64_parts(np.array([X, -X, 1e300, -1e300]))
    assert got.dtype == np.float32 and got.shape == (4, 3)
    assert got.astype(np.float64).tolist() == [X_PARTS, [-v for v in X_PARTS], [F32_MAX, 0, 0], [-F32_MAX, 0, 0]]
    assert np.isnan(float64_parts(np.array([np.nan]))).all()


def test_the_parts_sum_to_the_double_and_order_like_it():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=500) * 10.0 ** rng.integers(-20, 30, 500), [1.0, -1.0]])
    # neighbours one double step apart, and zero (exact down to about 1e-29: float32's smallest step)
    x = np.sort(np.concatenate([x, np.nextafter(x, np.inf), [0.0]]))
    parts = float64_parts(x).astype(np.float64)
    assert [math.fsum(p) for p in parts] == x.tolist()  # fsum: the exact sum, rounded once
    keys = [tuple(p) for p in parts]
    assert all(a <= b for a, b in zip(keys, keys[1:])) and len(set(keys)) == len(set(x.tolist()))


def test_a_parts_tensor_is_n_by_f_by_3_with_category_indices():
    schema = IOSchema.from_manifest({"model": {"task": "regression"}, "outputs": {}, "inputs": {"features": [
        {"name": "x", "type": "float", "nullable": True}, {"name": "c", "type": "category", "categories": ["a", "b"]}]}})
    columns = {"x": np.array([X, np.nan]), "c": np.array(["b", "zz"], dtype=object)}
    feeds = tensors_for([{"name": "p", "features": ["x", "c"], "dtype": "float64-parts"}], columns, schema)
    assert feeds["p"].shape == (2, 2, 3) and feeds["p"].dtype == np.float32
    assert feeds["p"][0].astype(np.float64).tolist() == [X_PARTS, [1, 0, 0]]
    assert np.isnan(feeds["p"][1, 0]).all() and feeds["p"][1, 1].tolist() == [-1, 0, 0]
