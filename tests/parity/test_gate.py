"""The gate bites: `edgepack parity` passes on a package we build, fails (exit 1, with the artifact and
the failing metric named) on one whose model.onnx was tampered with (checksum fixed, so only parity can
catch it), passes a float16 variant within its profile, and reports a crashing runner instead of
hiding it. Expected outputs come from the original scikit-learn model."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import tamper
from edgepack.parity.runners import runners_for
from edgepack.parity.runners.scorer_cli import ScorerCliRunner
from edgepack.toolchain.cli import main

ONNX_RUNTIMES = "onnxruntime,onnx-reference"


def model_file(package: Path) -> Path:
    return package.parent / f"{package.parent.name}.joblib"


def parity(package: Path, *extra: str, tmp: Path, reference: bool = True) -> tuple[int, dict]:
    out = tmp / "report.json"
    args = ["parity", str(package), "--quiet", "--rows", "200", "--json", str(out), *extra]
    if reference:
        args += ["--reference", str(model_file(package))]
    code = main(args)
    return code, json.loads(out.read_text())


@pytest.fixture(scope="module")
def mlp_with_float16(built_packages, tmp_path_factory) -> Path:
    """mlp_clf's package plus an `onnx-float16` artifact (float16 weights) made by onnxconverter-common."""
    _model, src = built_packages("mlp_clf")
    dst = tamper.copy_with_model(src, tmp_path_factory.mktemp("f16") / "mlp_clf" / "package")
    tamper.set_artifact_bytes(dst, "onnx-float16", tamper.float16_copy(tamper.load_onnx(dst)),
                              file="model-float16.onnx", entry_changes={"precision": "float16"})
    return dst


def test_built_package_passes_with_every_report(built_packages, tmp_path):
    model, package = built_packages("logreg_binary")
    holdout = tmp_path / "holdout.parquet"
    model.holdout.to_parquet(holdout)
    junit, html = tmp_path / "parity.xml", tmp_path / "parity.html"
    code, report = parity(package, "--data", str(holdout), "--label-column", model.label, "--runtimes", ONNX_RUNTIMES,
                          "--junit", str(junit), "--html", str(html), tmp=tmp_path)
    assert code == 0, report
    assert report["passed"] and report["summary"]["fail"] == 0
    assert report["reference_check"]["status"] == "pass"
    rows = 128 + len(model.holdout)
    assert [(r["artifact"], r["runtime"], r["rows"]) for r in report["results"]] == [
        ("onnx", "onnxruntime", rows), ("onnx", "onnx-reference", rows)]
    metrics = report["results"][0]["metrics"]
    assert metrics["labelled_rows"] == len(model.holdout) and metrics["auc_change"] <= 1e-4
    # the AUC is the model's own on the holdout (hand-checked against scikit-learn's roc_auc_score)
    from sklearn.metrics import roc_auc_score

    X = model.holdout.drop(columns=[model.label])
    assert metrics["auc_reference"] == pytest.approx(roc_auc_score(model.holdout[model.label], model.model.predict_proba(X)[:, 1]))
    # JUnit: parses, one case per artifact x runtime in the parity suite
    suites = ET.parse(junit).getroot().findall("testsuite")
    cases = suites[0].findall("testcase")
    assert [c.get("name") for c in cases] == ["onnx x onnxruntime", "onnx x onnx-reference"]
    assert not suites[0].findall(".//failure")
    text = html.read_text()
    assert text.count("<svg") >= 2 and "http" not in text and "<script" not in text


def test_perturbed_coefficient_fails_and_names_artifact_and_metric(built_packages, tmp_path):
    _model, src = built_packages("logreg_binary")
    package = tamper.copy_with_model(src, tmp_path / "logreg_binary" / "package")

    def scale_first_weight(coefficients: list[float]) -> list[float]:
        half = len(coefficients) // 2  # binary: one row per class, mirrored
        coefficients[half] *= 1.05
        coefficients[0] = -coefficients[half]
        return coefficients

    tamper.edit_attribute(package, "LinearClassifier", "coefficients", scale_first_weight)
    junit = tmp_path / "parity.xml"
    code, report = parity(package, "--runtimes", ONNX_RUNTIMES, "--junit", str(junit), tmp=tmp_path)
    assert code == 1
    failed = [r for r in report["results"] if r["status"] == "fail"]
    assert {r["artifact"] for r in failed} == {"onnx"} and {r["runtime"] for r in failed} == {"onnxruntime", "onnx-reference"}
    assert "max_probability_error" in {f["metric"] for f in failed[0]["failures"]}
    assert failed[0]["summary"].startswith("onnx in onnxruntime fails: ") and "max_probability_error" in failed[0]["summary"]
    worst = failed[0]["worst_rows"][0]
    assert set(worst) >= {"input", "reference", "artifact", "error"} and worst["reference"] != worst["artifact"]
    failures = ET.parse(junit).getroot().findall(".//failure")
    assert len(failures) == 2 and "max_probability_error" in failures[0].get("message")


def test_moved_tree_threshold_fails_with_explanations(built_packages, tmp_path):
    _model, src = built_packages("random_forest_clf")
    package = tamper.copy_with_model(src, tmp_path / "random_forest_clf" / "package")
    # the first tree's root split moves by 0.75 (in the scaled feature's units)
    tamper.edit_attribute(package, "TreeEnsemble", "nodes_splits", lambda t: [t[0] + 0.75, *t[1:]])
    code, report = parity(package, "--runtimes", "onnxruntime", tmp=tmp_path)
    assert code == 1
    result = report["results"][0]
    assert result["artifact"] == "onnx" and result["status"] == "fail"
    assert result["explanations"], "a tree model's failure must come with explanations"
    assert all(e["row"] is not None and "not a rounding effect" in e["why"] for e in result["explanations"])
    first = result["explanations"][0]
    # with --reference, the preprocessed features carry the pipeline's names, not x[j]
    assert not first["nearest_split"]["feature"].startswith("x[")


def test_threshold_at_a_data_value_is_explained_as_rounding(built_packages, tmp_path):
    """Set the root threshold of a decision tree exactly onto the golden rows' smallest value above it:
    only rows with that value flip, and each is marked as lying within float32 rounding of the split."""
    from edgepack.parity import data as parity_data
    from edgepack.parity import explain
    from edgepack.runtime.package import Package

    _model, src = built_packages("decision_tree_clf")
    package = tamper.copy_package(src, tmp_path / "decision_tree_clf" / "package")
    onnx_model = tamper.load_onnx(package)
    node = tamper.node(onnx_model, "TreeEnsemble")
    thresholds = np.asarray(tamper.attribute(node, "nodes_splits"), dtype=np.float64)
    feature = tamper.attribute(node, "nodes_featureids")[0]
    opened = Package.open(package)
    inputs = parity_data.assemble(opened, with_reference=False)
    X = explain._tree_inputs(tamper.load_onnx(package), opened.artifact(), opened, inputs.batch,
                             np.arange(len(inputs.batch)), [node.input[0]])[0]
    column = X[:, feature]
    value = column[column > thresholds[0]].min()
    thresholds[0] = value
    tamper.set_attribute(node, "nodes_splits", [float(t) for t in thresholds])
    tamper.set_artifact_bytes(package, "onnx", onnx_model.SerializeToString())
    code, report = parity(package, "--runtimes", "onnxruntime", tmp=tmp_path, reference=False)
    assert code == 1
    result = report["results"][0]
    assert "golden vectors only" in " ".join(report["notes"])
    explained = {e["row"] for e in result["explanations"] if e["near_splits"]}
    flipped = set(np.flatnonzero(column == value).tolist())
    assert explained and explained <= flipped
    assert all("within float32 rounding" in e["why"] for e in result["explanations"] if e["row"] in explained)


def test_float16_variant_passes_within_its_profile(mlp_with_float16, tmp_path):
    code, report = parity(mlp_with_float16, "--runtimes", ONNX_RUNTIMES, tmp=tmp_path)
    assert code == 0, report
    f16 = [r for r in report["results"] if r["artifact"] == "onnx-float16"]
    assert len(f16) == 2 and all(r["status"] == "pass" and r["profile_name"] == "float16" for r in f16)
    # it is really reduced precision: float16 weights, not bit-identical to float32, yet within float16's 0.01
    assert 1e-5 < f16[0]["metrics"]["max_probability_error"] <= 0.01
    import onnx

    weights = onnx.load(str(mlp_with_float16 / "model-float16.onnx")).graph.initializer
    assert any(w.data_type == onnx.TensorProto.FLOAT16 for w in weights)


def test_tolerance_override_makes_float16_fail(mlp_with_float16, tmp_path):
    code, report = parity(mlp_with_float16, "--runtimes", "onnxruntime",
                          "--tolerance", "onnx-float16:max_probability_error=1e-6", tmp=tmp_path)
    assert code == 1
    f16 = next(r for r in report["results"] if r["artifact"] == "onnx-float16")
    assert f16["status"] == "fail" and f16["profile"]["max_probability_error"] == 1e-6
    # an output-level statistic from a JSON file: the 50 % quantile of the error is tiny, so this passes
    spec = tmp_path / "tolerance.json"
    spec.write_text(json.dumps({"onnx-float16": {"max_probability_error": 1.0,
                                                  "outputs": {"probabilities": {"statistic": "quantile", "q": 0.5, "atol": 0.01}}}}))
    code, report = parity(mlp_with_float16, "--runtimes", "onnxruntime", "--tolerance", str(spec), tmp=tmp_path)
    assert code == 0, report


def test_record_writes_results_into_the_manifest(mlp_with_float16, tmp_path):
    from edgepack.runtime.package import Package

    code, _ = parity(mlp_with_float16, "--runtimes", "onnxruntime", "--record", tmp=tmp_path)
    assert code == 0
    package = Package.open(mlp_with_float16)
    recorded = [e for e in package.manifest["parity"] if e["runtime"] == "onnxruntime" and e["data"].startswith("128 golden")]
    assert {e["artifact"] for e in recorded} == {"onnx", "onnx-float16"} and all(e["passed"] for e in recorded)
    for art in package.artifacts():
        package.artifact_bytes(art)  # checksums still valid
    assert main(["inspect", str(mlp_with_float16)]) == 0


def test_record_into_a_zipped_package(mlp_with_float16, tmp_path):
    from edgepack.converters.package_writer import zip_directory
    from edgepack.runtime.package import Package

    zipped = zip_directory(mlp_with_float16, tmp_path / "churn.edgepack")
    code, _ = parity(zipped, "--runtimes", "onnx-reference", "--record", tmp=tmp_path, reference=False)
    assert code == 0
    package = Package.open(zipped)
    assert {(e["artifact"], e["runtime"]) for e in package.manifest["parity"]} >= {("onnx", "onnx-reference"),
                                                                                   ("onnx-float16", "onnx-reference")}
    for art in package.artifacts():
        package.artifact_bytes(art)


def test_crashing_runner_is_reported_not_hidden(built_packages, tmp_path):
    _model, src = built_packages("logreg_binary")
    package = tamper.copy_with_model(src, tmp_path / "logreg_binary" / "package")
    tamper.set_artifact_bytes(package, "onnx", b"this is not an ONNX model")  # checksum fixed: it loads, then crashes
    junit = tmp_path / "parity.xml"
    code, report = parity(package, "--runtimes", ONNX_RUNTIMES, "--junit", str(junit), tmp=tmp_path)
    assert code == 1
    assert [r["status"] for r in report["results"]] == ["error", "error"]
    assert "not a well-formed ONNX model" in report["results"][0]["reason"]  # refused before onnxruntime
    assert report["results"][1]["reason"]
    assert len(ET.parse(junit).getroot().findall(".//error")) == 2


def test_unavailable_runtime_is_reported_and_strict_fails(built_packages, tmp_path, monkeypatch, capsys):
    from edgepack.parity.runners.onnx_reference import OnnxReferenceRunner

    _model, package = built_packages("logreg_binary")
    monkeypatch.setattr(OnnxReferenceRunner, "availability", classmethod(lambda cls: "onnx is not installed here"))
    code, report = parity(package, "--runtimes", ONNX_RUNTIMES, tmp=tmp_path, reference=False)
    assert code == 0
    assert report["results"][1]["status"] == "unavailable" and "not installed" in report["results"][1]["reason"]
    assert "unavailable" in capsys.readouterr().out
    code, _ = parity(package, "--runtimes", ONNX_RUNTIMES, "--strict", tmp=tmp_path, reference=False)
    assert code == 1


@pytest.mark.parametrize("args", [["--runtimes", "no-such-runtime"], ["--tolerance", "float32:nonsense=1"],
                                  ["--tolerance", "float32max=1"], ["--rows", "-1"], ["--data", "missing.csv"],
                                  ["--label-column", "churn"]],
                         ids=["unknown-runtime", "unknown-key", "bad-syntax", "negative-rows", "missing-holdout",
                              "label-without-data"])
def test_usage_errors_exit_2(built_packages, args, capsys):
    _model, package = built_packages("logreg_binary")
    assert main(["parity", str(package), "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


def test_help_has_an_example(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["parity", "--help"])
    assert exit_info.value.code == 0
    assert "edgepack parity build/churn --reference" in capsys.readouterr().out


@pytest.mark.skipif(ScorerCliRunner.availability() is not None, reason="the scorer CLI (issue 3) is not on this branch yet")
def test_scorer_cli_runner_agrees(built_packages, tmp_path):
    _model, package = built_packages("logreg_multiclass")
    assert "scorer-cli" in runners_for("onnx")
    code, report = parity(package, "--runtimes", "scorer-cli", tmp=tmp_path)
    assert code == 0, report
    assert report["results"][0]["status"] == "pass"


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed here")
def test_html_report_renders_offline_in_chromium(mlp_with_float16, tmp_path):
    html = tmp_path / "parity.html"
    code, _ = parity(mlp_with_float16, "--runtimes", "onnxruntime", "--html", str(html), tmp=tmp_path)
    assert code == 0
    proc = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=120, check=False)
    dom = proc.stdout
    # the browser parsed the inline SVG: one bar chart and one histogram per artifact x runtime
    assert dom.count("<svg") == 3 and "<rect" in dom and "Agreement per runtime" in dom


def test_artifact_no_runner_can_run_is_listed(built_packages, tmp_path, monkeypatch):
    import edgepack.parity.runners as runners

    # Core ML has runners now (coreml-spec); take them out of the table to keep a format nothing runs.
    monkeypatch.setattr(runners, "RUNNERS", [row for row in runners.RUNNERS if "coreml" not in row[1]])
    _model, src = built_packages("logreg_binary")
    package = tamper.copy_package(src, tmp_path / "package")
    tamper.set_artifact_bytes(package, "coreml", b"spec", file="model.mlmodel", entry_changes={"format": "coreml"})
    code, report = parity(package, "--runtimes", "onnxruntime", tmp=tmp_path, reference=False)
    assert code == 0
    coreml = next(r for r in report["results"] if r["artifact"] == "coreml")
    assert coreml["status"] == "unavailable" and "runs coreml artifacts" in coreml["reason"]


def test_a_package_never_grades_itself(built_packages, tmp_path):
    """A tampered artifact whose manifest loosens its own tolerance_profiles still fails the gate: the
    profiles come from the defaults and --tolerance; the manifest's apply only with --manifest-tolerances."""
    _model, src = built_packages("logreg_binary")
    package = tamper.copy_with_model(src, tmp_path / "logreg_binary" / "package")
    tamper.edit_attribute(package, "LinearClassifier", "coefficients", lambda w: [-v for v in w])  # a swapped model
    manifest = json.loads((package / "manifest.json").read_text())
    manifest["tolerance_profiles"]["float32"] = {"min_label_agreement": 0.0, "max_probability_error": 1.0,
                                                 "max_auc_change": 1.0}
    (package / "manifest.json").write_text(json.dumps(manifest))
    code, report = parity(package, "--runtimes", "onnxruntime", tmp=tmp_path)
    assert code == 1
    result = report["results"][0]
    assert result["status"] == "fail" and result["profile"]["max_probability_error"] == 1e-5
    assert any("never grades itself" in note for note in report["notes"])
    # asked for explicitly, the manifest's profile applies (and is recorded in the report) ...
    code, report = parity(package, "--runtimes", "onnxruntime", "--manifest-tolerances", tmp=tmp_path)
    assert code == 0 and report["results"][0]["profile"]["max_probability_error"] == 1.0
    # ... and the command line still wins over it
    code, _ = parity(package, "--runtimes", "onnxruntime", "--manifest-tolerances",
                     "--tolerance", "float32:max_probability_error=1e-5", tmp=tmp_path)
    assert code == 1


def test_relative_package_path_reaches_the_node_runner(built_packages, tmp_path, monkeypatch):
    """The Node CLI starts in web/: a relative package path must still name the user's package."""
    from edgepack.parity.runners.node_cli import node_availability

    if node_availability("onnxruntime-web"):
        pytest.skip(node_availability("onnxruntime-web"))
    _model, src = built_packages("logreg_binary")
    tamper.copy_package(src, tmp_path / "pkg")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "report.json"
    code = main(["parity", "pkg", "--quiet", "--runtimes", "ort-web-node", "--json", str(out)])
    report = json.loads(out.read_text())
    assert code == 0, report
    assert [r["status"] for r in report["results"]] == ["pass"]


def test_runner_module_that_cannot_load_is_unavailable(built_packages, tmp_path, monkeypatch):
    from edgepack.parity import runners

    _model, package = built_packages("logreg_binary")
    monkeypatch.setattr(runners, "RUNNERS", [*runners.RUNNERS, ("broken-runtime", ("onnx",), "no_such_module:Runner")])
    code, report = parity(package, "--runtimes", "onnxruntime,broken-runtime", tmp=tmp_path, reference=False)
    assert code == 0
    broken = next(r for r in report["results"] if r["runtime"] == "broken-runtime")
    assert broken["status"] == "unavailable" and "cannot be loaded" in broken["reason"]


def test_wrong_reference_model_shows_first(built_packages, mlp_with_float16, tmp_path):
    _model, logreg = built_packages("logreg_binary")
    out = tmp_path / "report.json"
    code = main(["parity", str(mlp_with_float16), "--quiet", "--rows", "50", "--runtimes", "onnxruntime",
                 "--reference", str(model_file(logreg)), "--json", str(out)])
    report = json.loads(out.read_text())
    assert code == 1
    assert any("not the file the package was built from" in n for n in report["notes"])
    assert report["reference_check"]["status"] == "fail"


def test_unusable_reference_model_is_a_model_error(mlp_with_float16, tmp_path, capsys):
    bad = tmp_path / "bad.joblib"
    bad.write_text("not a model")
    assert main(["parity", str(mlp_with_float16), "--quiet", "--reference", str(bad)]) == 5
    err = capsys.readouterr().err
    assert "cannot load the model file" in err and "Traceback" not in err
