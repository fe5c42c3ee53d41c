"""Generated rows follow the schema: types, observed ranges, categories with unseen ones only where the
model ignores them, missing values only where the model accepts them; seeded."""

from __future__ import annotations

import numpy as np
from edgepack.parity.data import UNSEEN_CATEGORY, generate
from edgepack.runtime.records import encode_records
from edgepack.runtime.schema import Feature, IOSchema

SCHEMA = IOSchema(features=(
    Feature("age", "int", min=18, max=90, mean=40.0, std=12.0),
    Feature("income", "float", nullable=True, missing_rate=0.2, min=0.0, max=1e5),
    Feature("plan", "category", categories=("basic", "plus"), unknown="ignore", frequencies={"basic": 0.9, "plus": 0.1}),
    Feature("region", "category", categories=("n", "s"), unknown="error"),
    Feature("member", "bool"),
), task="classification", classes=(0, 1))


def test_generated_rows_respect_the_schema():
    rows = generate(SCHEMA, 2000, seed=1)
    ages = [r["age"] for r in rows]
    assert all(isinstance(a, int) and 18 <= a <= 90 for a in ages)
    incomes = [r["income"] for r in rows]
    missing = sum(v is None for v in incomes) / len(rows)
    assert 0.15 < missing < 0.25
    assert all(0.0 <= v <= 1e5 for v in incomes if v is not None)
    plans = [r["plan"] for r in rows]
    assert 0 < plans.count(UNSEEN_CATEGORY) < 0.06 * len(rows)
    assert plans.count("basic") > 5 * plans.count("plus")
    assert {r["region"] for r in rows} == {"n", "s"}
    assert {type(r["member"]) for r in rows} == {bool}
    _columns, kept, rejected = encode_records(SCHEMA, rows)
    assert not rejected and len(kept) == len(rows)


def test_generation_is_seeded():
    assert generate(SCHEMA, 50, seed=3) == generate(SCHEMA, 50, seed=3)
    assert generate(SCHEMA, 50, seed=3) != generate(SCHEMA, 50, seed=4)


def test_nullable_feature_without_observed_missing_still_gets_some():
    schema = IOSchema(features=(Feature("x", "float", nullable=True, min=0.0, max=1.0),), task="regression")
    values = np.array([r["x"] is None for r in generate(schema, 3000, seed=0)])
    assert 0.003 < values.mean() < 0.02
