"""The device scorer runs a tabular package's TFLite artifact (`edgepack-score --artifact tflite`, issue 17
item 8) in ai-edge-litert, the optional `tflite` extra: the same output lines and exit codes as with the
ONNX artifact, probabilities within the float32 profile of the source model's. A TFLite entry whose input
binding is broken (features in the wrong order) is caught by selftest; without the extra, a clear error."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")
pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def churn_tflite(tmp_path_factory):
    """A churn-like package (numbers and categories, one-hot inside the model) built to ONNX and TFLite."""
    import joblib
    import zoo
    from edgepack.toolchain.build import BuildOptions, build
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric, categorical = ["tenure_months", "monthly_charges", "support_calls"], ["contract", "internet_service"]
    frame = zoo.churn_frame(300, seed=11)
    model = Pipeline([("prepare", ColumnTransformer([("num", StandardScaler(), numeric),
                                                     ("cat", OneHotEncoder(handle_unknown="ignore"), categorical)])),
                      ("model", LogisticRegression(max_iter=300))])
    train, holdout = frame.iloc[:200], frame.iloc[200:].reset_index(drop=True)
    model.fit(train[numeric + categorical], train["churn"])
    root = tmp_path_factory.mktemp("tflite_tabular")
    joblib.dump(model, root / "churn.joblib")
    train[numeric + categorical + ["churn"]].to_csv(root / "sample.csv", index=False)
    build(BuildOptions(model=root / "churn.joblib", sample=root / "sample.csv", out=root / "package",
                       label_column="churn", name="churn", version="3", targets=["onnx", "tflite"],
                       target_options={"tflite": {"variants": "float32"}}, quiet=True))
    records = [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
               for r in holdout[numeric + categorical].to_dict(orient="records")]
    return root, model, holdout[numeric + categorical], records


def _score(package, text, *flags, env=None):
    return subprocess.run([sys.executable, "-m", "edgepack.runtime", str(package), *flags], input=text,
                          capture_output=True, text=True, timeout=300, env=env)


def test_tflite_lines_agree_with_the_source_model_and_the_onnx_artifact(churn_tflite):
    from edgepack.runtime.judge import profile_of

    root, model, frame, records = churn_tflite
    bad = [{**records[0], "tenure_months": "x"}, {k: v for k, v in records[1].items() if k != "contract"}]
    text = "".join(json.dumps(r) + "\n" for r in records[:40] + bad + records[40:])
    tfl = _score(root / "package", text, "--artifact", "tflite")
    onnx = _score(root / "package", text, "--artifact", "onnx")
    assert (tfl.returncode, onnx.returncode) == (3, 3), tfl.stderr
    assert tfl.stderr == onnx.stderr and tfl.stderr.count("\n") == 3  # two rejections and the summary
    lines = [json.loads(line) for line in tfl.stdout.splitlines()]
    assert len(lines) == len(records)
    assert [list(line) for line in lines] == [list(line) for line in json.loads("[" + ",".join(onnx.stdout.splitlines()) + "]")]
    expected = model.predict_proba(frame)  # the source model, not the code under test
    got = np.array([[line["probabilities"][str(c)] for c in model.classes_] for line in lines])
    profile = profile_of("float32")
    assert np.max(np.abs(got - expected)) <= profile.max_probability_error
    agreement = np.mean([line["label"] for line in lines] == model.predict(frame))
    assert agreement >= profile.min_label_agreement


def test_selftest_passes_and_catches_a_broken_binding(churn_tflite, tmp_path):
    root, *_ = churn_tflite
    ok = subprocess.run([sys.executable, "-m", "edgepack.runtime", "selftest", str(root / "package"),
                         "--artifact", "tflite"], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0 and ok.stdout.endswith("PASS\n") and "artifact tflite" in ok.stdout, ok.stdout + ok.stderr
    broken = tmp_path / "broken"
    shutil.copytree(root / "package", broken)
    manifest = json.loads((broken / "manifest.json").read_text())
    entry = next(a for a in manifest["artifacts"] if a["id"] == "tflite")
    entry["inputs"][0]["features"] = entry["inputs"][0]["features"][::-1]  # columns fed in the wrong order
    (broken / "manifest.json").write_text(json.dumps(manifest))
    bad = subprocess.run([sys.executable, "-m", "edgepack.runtime", "selftest", str(broken), "--artifact", "tflite"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and "FAIL" in bad.stdout, bad.stdout + bad.stderr


def test_without_the_tflite_extra_a_clear_error_and_exit_4(churn_tflite, tmp_path):
    import os

    root, _, _, records = churn_tflite
    hide = tmp_path / "hide" / "ai_edge_litert"
    hide.mkdir(parents=True)
    (hide / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "hide")}
    result = _score(root / "package", json.dumps(records[0]) + "\n", "--artifact", "tflite", env=env)
    assert result.returncode == 4 and result.stdout == ""
    assert "needs ai-edge-litert, which is not installed" in result.stderr
    assert "pip install 'edgepack[tflite]'" in result.stderr and "Traceback" not in result.stderr
