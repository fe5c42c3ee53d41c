"""The vectorised validator rejects exactly the records the per-record rule book rejects.

Records are mutated at random (missing, unknown, wrong type, NaN, infinity, fractions, unknown
categories) and each batch's verdict is compared with `check_record` on every record alone.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from edgepack.runtime.batch import BatchValidator
from edgepack.runtime.errors import RecordError
from edgepack.runtime.records import check_record
from edgepack.runtime.schema import Feature, IOSchema

SCHEMA = IOSchema((
    Feature("age", "int"),
    Feature("income", "float", nullable=True),
    Feature("score", "float"),
    Feature("member", "bool"),
    Feature("plan", "category", categories=("basic", "pro"), unknown="error"),
    Feature("region", "category", categories=("n", "s"), unknown="ignore"),
), task="classification", classes=(0, 1))
NUMERIC = IOSchema(SCHEMA.features[:4], task="regression")

ODD_VALUES = [None, float("nan"), float("inf"), -float("inf"), "7", "x", True, False, 2.5, 0, 1, 10 ** 400, [], {},
              "basic", "gold", ""]


def _good(rng: random.Random, schema: IOSchema) -> dict:
    values = {"age": rng.randint(0, 90), "income": rng.choice([None, rng.uniform(0, 1e5)]), "score": rng.gauss(0, 1),
              "member": rng.choice([True, False, 0, 1]), "plan": rng.choice(["basic", "pro"]),
              "region": rng.choice(["n", "s", "w"])}
    return {f.name: values[f.name] for f in schema.features}


def _mutate(rng: random.Random, record: dict) -> object:
    kind = rng.randrange(6)
    if kind == 0:
        record.pop(rng.choice(list(record)))
    elif kind == 1:
        record["bogus"] = 1
    elif kind == 2:
        return rng.choice([[1, 2], "text", 3, None])
    else:
        record[rng.choice(list(record))] = rng.choice(ODD_VALUES)
    return record


def _verdict(schema: IOSchema, record: object, extra: frozenset, strict: bool) -> bool:
    try:
        check_record(schema, record, extra, strict)
    except (RecordError, OverflowError):
        return True
    return False


@pytest.mark.parametrize("strict", [False, True], ids=["lenient", "strict"])
@pytest.mark.parametrize("schema", [SCHEMA, NUMERIC], ids=["mixed", "numbers-only"])
@pytest.mark.parametrize("bad_share", [0.0, 0.02, 0.5])
def test_batch_verdicts_equal_per_record_verdicts(schema, bad_share, strict):
    rng = random.Random(hash((len(schema.features), bad_share, strict)) & 0xFFFF)
    extra = frozenset({"id"})
    validator = BatchValidator(schema, extra, strict=strict)
    for _ in range(40):
        batch = []
        for i in range(rng.randint(0, 60)):
            record = {"id": i, **_good(rng, schema)} if rng.random() < 0.5 else _good(rng, schema)
            batch.append(_mutate(rng, record) if rng.random() < bad_share else record)
        checked = validator.records(batch)
        expected = [_verdict(schema, r, extra, strict) for r in batch]
        assert checked.bad.tolist() == expected
        for i in np.flatnonzero(checked.bad):
            assert validator.reason(batch[i]).reason  # a reason from the rule book for each
        good = checked.good_columns()
        assert all(len(col) == expected.count(False) for col in good.values())


def test_csv_cells_follow_the_same_rules():
    validator = BatchValidator(SCHEMA)
    rows = [
        ["3", "", "0.5", "true", "pro", "w"],  # good: empty nullable income, unknown region is ignored
        ["3.5", "1", "0.5", "0", "pro", "n"],  # fraction in an int
        ["3", "1", "", "1", "pro", "n"],  # empty where not nullable
        ["3", "1", "x", "1", "pro", "n"],  # text in a number
        ["3", "1", "inf", "1", "pro", "n"],  # infinity
        ["3", "1", "1", "yes", "pro", "n"],  # not a boolean
        ["3", "1", "1", "1", "gold", "n"],  # unknown category the model refuses
        ["3", "nan", "1", "FALSE", "basic", "s"],  # nan = missing, nullable here
    ]
    checked = validator.cells([list(col) for col in zip(*rows)])
    assert checked.bad.tolist() == [False, True, True, True, True, True, True, False]
    fields = [validator.reason(validator.record_from_cells(r)).field for r, b in zip(rows, checked.bad) if b]
    assert fields == ["age", "score", "score", "score", "member", "plan"]
    good = checked.good_columns()
    assert good["income"][0] != good["income"][0] and good["member"].tolist() == [1.0, 0.0]


def test_an_id_field_that_is_also_a_feature():
    validator = BatchValidator(NUMERIC, frozenset({"age"}), strict=True)
    records = [{"age": 3, "income": None, "score": 0.5, "member": True}, {"age": 4, "income": 1.0, "member": True}]
    assert validator.records(records).bad.tolist() == [False, True]


@pytest.mark.parametrize("strict", [False, True])
def test_the_input_contract(strict):
    """Fields the model does not use are ignored (refused with strict); a nullable feature left out is
    missing; any other feature left out is refused."""
    validator = BatchValidator(NUMERIC, strict=strict)
    records = [{"age": 3, "score": 0.5, "member": True},  # income (nullable) left out: missing
               {"age": 3, "income": 2.0, "score": 0.5, "member": True, "customer_id": "c1"},  # an extra field
               {"age": 3, "income": 2.0, "member": True}]  # score left out
    checked = validator.records(records)
    assert checked.bad.tolist() == [False, strict, True]
    assert np.isnan(checked.columns["income"][0])
    assert validator.reason(records[2]).reason == "missing field"
    if strict:
        err = validator.reason(records[1])
        assert (err.field, err.reason) == ("customer_id", "unknown field: the model has no such input (--strict)")


def test_a_dead_schemas_names_never_reach_a_new_one():
    """Regression: field names were cached by id(schema); a garbage-collected schema's id is reused by the
    next one, which then judged records by the dead schema's names (2,000 of 2,000 valid records refused
    as "unknown field")."""
    import gc

    refused = 0
    for i in range(2000):
        schema = IOSchema((Feature(f"f{i}", "float"),), task="regression")
        try:
            check_record(schema, {f"f{i}": 1.0}, strict=True)
        except RecordError:
            refused += 1
        del schema
        if i % 100 == 0:
            gc.collect()
    assert refused == 0
