"""`edgepack drift` end to end (issue 20): a package built with a labelled holdout as reference, streams
scored by edgepack-score --stats; an unshifted stream raises no alert, a shifted one does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from edgepack.toolchain.cli import main

NUMERIC = ["tenure_months", "monthly_charges", "support_calls"]
CATEGORICAL = ["contract", "internet_service"]


@pytest.fixture(scope="module")
def monitored(tmp_path_factory):
    """A small churn package (reference: a labelled holdout), and stats of a plain and a shifted stream."""
    import joblib
    import zoo
    from edgepack.toolchain.build import BuildOptions, build
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = zoo.churn_frame(900, seed=11)
    cols = NUMERIC + CATEGORICAL
    model = Pipeline([("prep", ColumnTransformer([("n", StandardScaler(), NUMERIC),
                                                  ("c", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)])),
                      ("model", LogisticRegression(max_iter=300))])
    train, reference, stream = frame.iloc[:400], frame.iloc[400:650], frame.iloc[650:].reset_index(drop=True)
    model.fit(train[cols], train["churn"])
    root = tmp_path_factory.mktemp("drift")
    joblib.dump(model, root / "m.joblib")
    train[cols + ["churn"]].to_csv(root / "sample.csv", index=False)
    reference[cols + ["churn"]].to_csv(root / "reference.csv", index=False)
    build(BuildOptions(model=root / "m.joblib", sample=root / "sample.csv", out=root / "package", label_column="churn",
                       name="mini", quiet=True, reference_data=root / "reference.csv"))
    shifted = stream.copy()
    shifted["monthly_charges"] = shifted["monthly_charges"] * 1.3  # prices up
    shifted.loc[::4, "contract"] = "three-year"  # a contract type the model never saw
    for name, data in (("plain", stream), ("shifted", shifted)):
        records = [{"id": i, **{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}}
                   for i, r in enumerate(data[cols].to_dict(orient="records"))]
        done = subprocess.run([sys.executable, "-m", "edgepack.runtime", str(root / "package"), "--id-field", "id",
                               "--stats", str(root / name), "--stats-device", f"gw-{name}", "--quiet"],
                              input="".join(json.dumps(r) + "\n" for r in records).encode(), capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr
        (root / f"{name}.predictions.jsonl").write_bytes(done.stdout)
    stream[["churn"]].rename_axis("id").reset_index().to_csv(root / "labels.csv", index=False)
    return root


def test_unshifted_stream_raises_no_alert(monitored, capsys):
    code = main(["drift", str(monitored / "package"), "--stats", str(monitored / "plain"),
                 "--labels", str(monitored / "labels.csv"), "--predictions", str(monitored / "plain.predictions.jsonl")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "no alert" in out and "AUROC" in out


def test_shifted_stream_alerts_on_the_shifted_features(monitored, capsys, tmp_path):
    code = main(["drift", str(monitored / "package"), "--stats", str(monitored / "plain"), str(monitored / "shifted"),
                 "--by", "device", "--json", str(tmp_path / "r.json"), "--html", str(tmp_path / "r.html")])
    assert code == 1
    report = json.loads((tmp_path / "r.json").read_text())
    fired = {(a["alert"], a["where"]) for g in report["groups"] if g["key"] == "gw-shifted" for a in g["alerts"]}
    assert ("psi>0.2", "monthly_charges") in fired and ("unseen>0.01", "contract") in fired
    quiet = [g for g in report["groups"] if g["key"] == "gw-plain"][0]
    assert quiet["alerts"] == []
    contract = next(f for f in report["total"]["features"] if f["name"] == "contract")
    assert contract["unseen_names"] == {"three-year": 63}
    html = (tmp_path / "r.html").read_text()
    assert "<svg" in html and "http" not in html.replace("http-equiv", "")  # self-contained
    assert "ALERT psi>0.2 on monthly_charges (device gw-shifted)" in capsys.readouterr().out


def test_alert_thresholds_and_hostile_input(monitored, tmp_path, capsys):
    args = ["drift", str(monitored / "package"), "--stats", str(monitored / "plain")]
    assert main(args + ["--alert", "psi>0.000001"]) == 1  # a threshold anything crosses
    assert main(args + ["--alert", "psi>>1"]) == 2
    assert main(args + ["--labels", str(monitored / "labels.csv")]) == 2  # labels need the predictions
    (tmp_path / "junk.stats.json").write_text("{not json")
    assert main(["drift", str(monitored / "package"), "--stats", str(tmp_path)]) == 6
    window = json.loads(next((monitored / "plain").glob("*.stats.json")).read_text())
    window["package"]["profile_sha256"] = "0" * 64  # counted for another package's bins
    (tmp_path / "junk.stats.json").write_text(json.dumps(window))
    assert main(["drift", str(monitored / "package"), "--stats", str(tmp_path)]) == 6
    err = capsys.readouterr().err
    assert "another reference profile" in err and "Traceback" not in err


def test_labelled_performance_matches_scikit_learn(monitored, tmp_path):
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    assert main(["drift", str(monitored / "package"), "--stats", str(monitored / "plain"), "--labels",
                 str(monitored / "labels.csv"), "--predictions", str(monitored / "plain.predictions.jsonl"),
                 "--json", str(tmp_path / "r.json")]) == 0
    current = json.loads((tmp_path / "r.json").read_text())["total"]["performance"]["current"]
    labels = pd.read_csv(monitored / "labels.csv")["churn"].astype(int)
    preds = [json.loads(line)["probabilities"]["1"] for line in (monitored / "plain.predictions.jsonl").read_text().splitlines()]
    assert current["auroc"] == pytest.approx(roc_auc_score(labels, preds), abs=1e-12)
    assert current["rows"] == len(labels)


def test_build_writes_a_valid_manifest_entry(monitored):
    from edgepack.converters.package_writer import validate_manifest

    manifest = json.loads((Path(monitored) / "package" / "manifest.json").read_text())
    validate_manifest(manifest)
    profile = json.loads((Path(monitored) / "package" / manifest["reference_profile"]["file"]).read_text())
    assert profile["source"] == "reference.csv" and profile["rows"] == 250
    assert 0.5 < profile["performance"]["auroc"] <= 1


def test_by_day_groups_windows_by_their_start_date(monitored, tmp_path):
    window = json.loads(next((monitored / "plain").glob("*.stats.json")).read_text())
    for day in ("2026-11-29", "2026-11-30"):
        (tmp_path / f"{day}.stats.json").write_text(json.dumps({**window, "start": f"{day}T10:00:00Z"}))
    assert main(["drift", str(monitored / "package"), "--stats", str(tmp_path), "--by", "day",
                 "--json", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert [g["key"] for g in report["groups"]] == ["2026-11-29", "2026-11-30"]
    assert report["total"]["summary"]["records"] == 2 * window["records"]  # merged exactly
    assert [t["key"] for t in report["timeline"]] == ["2026-11-29", "2026-11-30"]


def test_regression_package_profile_stats_and_drift(built_packages, tmp_path, capsys):
    from edgepack.runtime import Scorer
    from edgepack.runtime.stats import StatsCollector

    model, path = built_packages("ridge")
    profile = json.loads((path / "profile.json").read_text())
    assert "value" in profile["outputs"] and {"mae", "rmse"} <= set(profile["performance"])
    scorer = Scorer.load(path)
    records = [{k: (None if v != v else (v.item() if hasattr(v, "item") else v)) for k, v in r.items()}
               for r in model.holdout.drop(columns=model.label).to_dict(orient="records")]
    stats = StatsCollector(scorer.package, tmp_path / "w")
    scorer.score(records, stats=stats)
    stats.close()
    assert main(["drift", str(path), "--stats", str(tmp_path / "w"), "--json", str(tmp_path / "r.json")]) in (0, 1)
    report = json.loads((tmp_path / "r.json").read_text())
    (value,) = report["total"]["outputs"]
    assert value["name"] == "value" and value["rows"] == len(records) - report["total"]["summary"]["rejected"]


def test_labels_that_do_not_fit_are_refused_with_a_reason(monitored, tmp_path, capsys):
    base = ["drift", str(monitored / "package"), "--stats", str(monitored / "plain")]
    (tmp_path / "labels.csv").write_text("customer,churn\n1,0\n")
    assert main(base + ["--labels", str(tmp_path / "labels.csv"), "--predictions",
                        str(monitored / "plain.predictions.jsonl")]) == 6
    assert "id column 'id'" in capsys.readouterr().err
    (tmp_path / "preds.jsonl").write_text('{"label": 1}\n')
    assert main(base + ["--labels", str(monitored / "labels.csv"), "--predictions", str(tmp_path / "preds.jsonl")]) == 6
    err = capsys.readouterr().err
    assert "preds.jsonl:1" in err and "Traceback" not in err


def test_inspect_verifies_the_profile_and_shows_it(monitored, tmp_path, capsys):
    import shutil

    assert main(["inspect", str(monitored / "package")]) == 0
    out = capsys.readouterr().out
    assert "drift reference: 250 rows of reference.csv" in out and "verified: 3 files" in out
    copy = tmp_path / "pkg"
    shutil.copytree(monitored / "package", copy)
    (copy / "profile.json").write_text((copy / "profile.json").read_text().replace('"bins": 10', '"bins": 11'))
    assert main(["inspect", str(copy)]) == 4
    assert "reference profile" in capsys.readouterr().err


@pytest.mark.slow
def test_the_spark_engine_gives_the_same_report(monitored, tmp_path):
    """--engine spark merges the windows and joins the labels in Spark; every figure equals the one-machine
    report's (windows sum exactly), and the alerts are the same."""
    from edgepack.converters.sources import spark_session

    reason = spark_session.availability()
    if reason:
        pytest.skip(reason)
    reports = {}
    for engine in ("local", "spark"):
        code = main(["drift", str(monitored / "package"), "--stats", str(monitored / "plain"), str(monitored / "shifted"),
                     "--labels", str(monitored / "labels.csv"), "--predictions", str(monitored / "plain.predictions.jsonl"),
                     "--by", "device", "--engine", engine, "--json", str(tmp_path / f"{engine}.json")])
        reports[engine] = (code, json.loads((tmp_path / f"{engine}.json").read_text()))
    (code_local, local), (code_spark, spark) = reports["local"], reports["spark"]
    assert code_local == code_spark == 1  # the shifted device alerts
    for key in ("total", "groups", "alerted"):
        assert spark[key] == local[key], key
