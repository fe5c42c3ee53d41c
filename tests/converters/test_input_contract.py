"""The input contract (issue 19, item 2), the same in every scorer: fields the model does not use are
ignored by default and can be copied to the output (--keep-fields); --strict refuses them; a nullable
field left out is a missing value. Checked through `edgepack-score` (JSON lines and CSV), the Python
Scorer and `batch-score`; web/test/records.test.mjs checks web/ against the same rule book."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from edgepack.converters.sources.sample import records_from_frame
from edgepack.runtime.schema import IOSchema
from edgepack.runtime.scorer import Scorer
from edgepack.toolchain.cli import main


def _score(args, stdin: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "edgepack.runtime", *map(str, args)], input=stdin.encode(),
                          capture_output=True, timeout=120)


def _lines(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode().splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def churn(built_packages):
    model, package = built_packages("logreg_binary")
    schema = IOSchema.from_manifest(json.loads((package / "manifest.json").read_text()))
    nullable = next(f.name for f in schema.features if f.nullable)
    return model, package, schema, records_from_frame(model.holdout, schema)[:5], nullable


def test_extra_fields_are_ignored_and_kept_on_request(churn):
    """Was: 200 of 200 records with a customer_id rejected as "unknown field"."""
    _, package, _, records, _ = churn
    tagged = [{"customer_id": f"c{i}", "region": "north", **r} for i, r in enumerate(records)]
    plain = _score([package], "".join(json.dumps(r) + "\n" for r in records))
    result = _score([package, "--keep-fields", "customer_id,region"], "".join(json.dumps(r) + "\n" for r in tagged))
    assert result.returncode == 0, result.stderr
    out = _lines(result.stdout)
    assert [o["customer_id"] for o in out] == [f"c{i}" for i in range(len(records))]
    assert list(out[0])[:3] == ["customer_id", "region", "label"]
    assert [o["probabilities"] for o in out] == [o["probabilities"] for o in _lines(plain.stdout)]


def test_strict_refuses_fields_the_model_does_not_use(churn):
    _, package, _, records, _ = churn
    text = json.dumps({"customer_id": "c1", **records[0]}) + "\n" + json.dumps({"tag": 1, **records[1]}) + "\n"
    result = _score([package, "--strict", "--keep-fields", "customer_id"], text)
    assert result.returncode == 3
    assert len(_lines(result.stdout)) == 1
    (error,) = _lines(result.stderr)
    assert (error["line"], error["field"]) == (2, "tag") and "unknown field" in error["reason"]


def test_a_nullable_field_left_out_is_missing(churn):
    _, package, _, records, nullable = churn
    left_out = {k: v for k, v in records[0].items() if k != nullable}
    as_null = {**records[0], nullable: None}
    result = _score([package], json.dumps(left_out) + "\n" + json.dumps(as_null) + "\n")
    assert result.returncode == 0, result.stderr
    first, second = _lines(result.stdout)
    assert first["probabilities"] == second["probabilities"]
    assert Scorer.load(package).predict_records([left_out]) == Scorer.load(package).predict_records([as_null])


def test_csv_with_the_label_column_and_without_a_nullable_column(churn):
    """Was: a CSV still holding its label column refused as a whole (exit 6)."""
    model, package, schema, records, nullable = churn
    frame = model.holdout.head(5)  # with the label column
    csv_text = frame.drop(columns=[nullable]).to_csv(index=False)
    result = _score([package, "--format", "csv", "--keep-fields", model.label], csv_text)
    assert result.returncode == 0, result.stderr
    out = _lines(result.stdout)
    assert [o[model.label] for o in out] == [str(v) for v in frame[model.label]]
    want = Scorer.load(package).predict_records([{k: v for k, v in r.items() if k != nullable} for r in records])
    for got, expected in zip(out, want):
        assert got["probabilities"] == pytest.approx(expected["probabilities"], abs=1e-6)
    strict = _score([package, "--format", "csv", "--strict"], frame.to_csv(index=False))
    assert strict.returncode == 6 and b"unknown column(s) " + model.label.encode() in strict.stderr


def test_batch_score_keeps_columns_refuses_extras_when_strict_and_takes_absent_nullables(churn, tmp_path):
    model, package, schema, _, nullable = churn
    frame = model.holdout.head(20).reset_index(drop=True)
    frame["customer_id"] = [f"c{i}" for i in range(len(frame))]
    path = tmp_path / "in.parquet"
    frame.drop(columns=[nullable]).to_parquet(path)
    out = tmp_path / "out.parquet"
    code = main(["batch-score", str(package), "--input", str(path), "--output", str(out), "--id-column", "customer_id",
                 "--keep-fields", model.label])
    assert code == 0
    scores = pd.read_parquet(out)
    assert list(scores.columns[:2]) == ["customer_id", model.label]
    assert scores[model.label].tolist() == frame[model.label].tolist()
    want = Scorer.load(package).score(records_from_frame(frame.assign(**{nullable: None}), schema))[1]
    got = scores[["probability_0", "probability_1"]].to_numpy(dtype=float)
    assert np.abs(got - [[w["probabilities"]["0"], w["probabilities"]["1"]] for w in want]).max() <= 1e-6
    strict = main(["batch-score", str(package), "--input", str(path), "--output", str(tmp_path / "s.parquet"), "--strict"])
    assert strict == 6


def test_python_scorer_ignores_extra_fields_unless_strict(churn):
    from edgepack.runtime.errors import RecordError

    _, package, _, records, _ = churn
    scorer = Scorer.load(package)
    tagged = {"customer_id": "c1", **records[0]}
    assert scorer.predict_records([tagged]) == scorer.predict_records([records[0]])
    with pytest.raises(RecordError, match="unknown field"):
        scorer.predict_records([tagged], strict=True)
    kept, _, rejected = scorer.score([tagged], frozenset({"customer_id"}), strict=True)
    assert kept == [0] and not rejected
