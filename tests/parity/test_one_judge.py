"""One judge: the build's check, variant selection, the parity comparator, the Spark engine's merged
summary and the device self-test reach the same verdict, in the same words, on the same measurements.

Each path runs for real on one small package's golden rows (onnxruntime, the sketch the Spark engine folds
partitions into, the device scorer). The profile's limit is then set exactly to the error they all measured
(the boundary: passes, since a limit is inclusive) and to the next float below it (fails).
"""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest
from edgepack.parity.compare import compare
from edgepack.parity.data import input_batch
from edgepack.parity.engines.sketch import Summary
from edgepack.parity.engines.spark import failures_of
from edgepack.parity.profiles import harness_profile
from edgepack.parity.runners import runner_class
from edgepack.runtime import Scorer
from edgepack.runtime.judge import Failure, Metrics, ToleranceProfile, judge
from edgepack.runtime.package import Package
from edgepack.runtime.schema import IOSchema
from edgepack.toolchain.check import check_artifact, failure_reason
from edgepack.toolchain.variants.select import CheckData, _check

LIMIT_KEY = {"classification": "max_probability_error", "regression": "max_value_error"}


def _golden(path):
    package = Package.open(path)
    schema = IOSchema.from_manifest(package.manifest)
    golden = package.golden()
    frame = pd.DataFrame(golden["records"], columns=schema.names)
    ref = {k: np.asarray(v) for k, v in golden["outputs"].items()}
    scale = float(package.manifest["outputs"].get("value_scale", 1.0)) or 1.0
    return package, schema, frame, ref, scale


def _every_path(path, manifest):
    """(passed, failures as recorded, reasons in words) from each path, for the default artifact."""
    package, schema, frame, ref, scale = _golden(path)
    entry = next(a for a in manifest["artifacts"] if a.get("default"))
    precision = entry.get("precision", "float32")
    task = schema.task
    key = "probabilities" if task == "classification" else "value"
    out: dict[str, tuple[bool, str]] = {}

    selftest = Scorer.load(path).selftest()
    out["device selftest"] = (selftest.passed, selftest.verdict.reasons())

    check = check_artifact(path, entry, frame, schema, ref, scale, "golden", manifest)
    out["build check"] = (check["passed"], "" if check["passed"] else failure_reason(check["metrics"], precision, manifest))

    data = CheckData(frame=frame, schema=schema, ref=ref, scale=scale, holdout=np.zeros(0, dtype=np.int64))
    reason = _check(path, entry, data, manifest)["reason"]
    out["variant selection"] = (reason == "", reason)

    with runner_class("onnxruntime")(package, package.artifact(entry["id"])) as runner:
        got = runner.predict(input_batch(frame, schema))
    profile = harness_profile(precision, manifest)
    comparison = compare(task, ref, got, profile, scale=scale)
    out["parity comparator"] = (comparison.passed, json.dumps(comparison.failures))

    summary = Summary()
    summary.add(task, ref[key], got[key])
    spark = failures_of(summary.metrics(task, len(schema.classes), scale), profile)
    out["spark engine"] = (not spark, json.dumps(spark))
    return out, selftest


@pytest.mark.parametrize("name", ["logreg_binary", "linear_regression"])
def test_every_path_gives_the_same_verdict_on_and_past_the_boundary(name, built_packages, tmp_path):
    _, built = built_packages(name)
    path = tmp_path / "package"
    shutil.copytree(built, path)
    manifest = json.loads((path / "manifest.json").read_text())
    precision = next(a for a in manifest["artifacts"] if a.get("default")).get("precision", "float32")
    task = IOSchema.from_manifest(manifest).task
    measured = Scorer.load(path).selftest()
    error = measured.max_error
    assert error > 0  # a real boundary, not 0 <= 0

    for limit, passed in ((error, True), (math.nextafter(error, -math.inf), False)):
        manifest["tolerance_profiles"][precision][LIMIT_KEY[task]] = limit
        (path / "manifest.json").write_text(json.dumps(manifest))
        verdicts, selftest = _every_path(path, manifest)
        assert {p: v[0] for p, v in verdicts.items()} == dict.fromkeys(verdicts, passed), (limit, verdicts)
        # The same broken limit, in the same words / the same recorded form, whichever path said it.
        expected = judge(Metrics(label_agreement=measured.label_agreement,
                                 max_probability_error=error if task == "classification" else None,
                                 max_scaled_error=None if task == "classification" else error),
                         ToleranceProfile.from_dict(manifest["tolerance_profiles"][precision]))
        assert expected.passed is passed and selftest.verdict == expected
        if not passed:
            words = expected.reasons()
            assert verdicts["build check"][1] == f"dropped: fails the {precision} profile ({words})"
            assert verdicts["variant selection"][1] == f"fails the {precision} profile on the sample rows: {words}"
            recorded = json.dumps([f.to_dict() for f in expected.failures])
            assert verdicts["parity comparator"][1] == recorded == verdicts["spark engine"][1]


def test_the_judge_by_hand():
    """Hand-worked cases: limits are inclusive, NaN and unmeasured metrics fail, missing keys are float32's."""
    strict = ToleranceProfile()
    assert judge(Metrics(label_agreement=1.0, max_probability_error=1e-5), strict).passed
    verdict = judge(Metrics(label_agreement=0.75, max_probability_error=0.5), ToleranceProfile.from_dict({}))
    assert [f.metric for f in verdict.failures] == ["label_agreement", "max_probability_error"]
    assert verdict.reasons() == "label agreement 0.7500 < 1.0; probability error 0.5 > 1e-05"
    assert not judge(Metrics(max_scaled_error=float("nan")), strict).passed
    assert not judge(Metrics(), strict).passed  # a regression result that measured nothing
    loose = ToleranceProfile.from_dict({"max_value_error": 0.1, "max_abs_error": 2.0, "outputs": {}})
    assert judge(Metrics(max_scaled_error=0.1, max_abs_error=2.0), loose).passed
    assert judge(Metrics(max_scaled_error=0.1, max_abs_error=2.5), loose).failures == (
        Failure("max_abs_error", 2.5, 2.0, "<="),)
    auc = judge(Metrics(label_agreement=1.0, max_probability_error=0.0, auc_change=2e-4), strict)
    assert [f.to_dict() for f in auc.failures] == [
        {"metric": "auc_change", "value": 2e-4, "limit": 1e-4, "check": "<=", "profile_key": "max_auc_change"}]
    assert ToleranceProfile.from_dict({"min_label_agreement": 1.0, "max_probability_error": 1e-5,
                                       "max_value_error": 1e-5}).to_dict() == {
        "min_label_agreement": 1.0, "max_probability_error": 1e-5, "max_value_error": 1e-5}


def test_a_precision_no_profile_knows_is_held_to_the_strictest():
    """A manifest's artifact precision picks its default profile; a made-up name must not pick a looser one
    (hand-worked: float32 is 100 % labels and 1e-5)."""
    from edgepack.runtime.judge import recorded_profile, recorded_tensor_profile

    made_up = recorded_profile("float8-lenient")
    assert made_up["min_label_agreement"] == 1.0 and made_up["max_probability_error"] == 1e-5
    assert recorded_profile("float64") == recorded_profile("float32")
    assert recorded_tensor_profile("float8-lenient")["max_abs_error"] == 1e-4
