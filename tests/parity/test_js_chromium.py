"""The `js-chromium` runner: the generated model.mjs imported by the demo page in headless Chromium
(`edgepack serve` + web/bin/browser-score.mjs, edgepack-web's js backend) predicts what scikit-learn
predicts on held-out rows; a flipped byte is refused and a changed constant (checksums updated, so only
the numbers can tell) fails `edgepack parity`."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import tamper
import zoo
from edgepack.converters.sources.sample import frame_columns, records_from_frame
from edgepack.parity.runners import RUNNERS, runner_class, runners_for
from edgepack.parity.runners.base import InputBatch
from edgepack.runtime.errors import PackageError
from edgepack.runtime.package import Package
from edgepack.runtime.schema import IOSchema
from edgepack.toolchain.build import BuildOptions, build
from edgepack.toolchain.cli import main as edgepack

FAMILY = "decision_tree_clf"  # small: one tree, with the churn preprocessing (scaler, one-hot)


@pytest.fixture(scope="module")
def js_package(tmp_path_factory) -> tuple[zoo.ZooModel, Path]:
    model = zoo.get(FAMILY)
    root = tmp_path_factory.mktemp("js-chromium")
    model_path, sample_path = zoo.save(model, root)
    result = build(BuildOptions(model=model_path, sample=sample_path, out=root / "package", label_column=model.label,
                                name=FAMILY, targets=["onnx", "js"], quiet=True))
    return model, result.path


def test_the_row_follows_js_node():
    names = [row[0] for row in RUNNERS]
    assert names.index("js-chromium") == names.index("js-node") + 1
    assert runners_for("js") == ["js-node", "js-chromium"]  # the build keeps checking js with js-node
    assert runner_class("js-chromium").availability() is None, runner_class("js-chromium").availability()


def _break_constant(path: Path, tmp_path: Path) -> Path:
    """A copy whose first long decimal constant of model.mjs is changed to 1e9, its checksums updated."""
    copy = tamper.copy_package(path, tmp_path / "broken")
    text = (copy / "model.mjs").read_text()
    match = re.search(r"(?<![\w.])(\d+\.\d{6,})", text)
    assert match, "no constant to break"
    tamper.set_file_bytes(copy, "model.mjs", (text[: match.start()] + "1e9" + text[match.end():]).encode())
    return copy


@pytest.mark.slow
def test_js_in_chromium_equals_sklearn_and_a_broken_module_is_caught(js_package, tmp_path):
    model, path = js_package
    package = Package.open(path)
    schema = IOSchema.from_manifest(package.manifest)
    holdout = model.holdout.drop(columns=[model.label])
    batch = InputBatch(records_from_frame(holdout, schema), frame_columns(holdout, schema))
    with runner_class("js-chromium")(package, package.artifact("js", format="js")) as runner:
        got = runner.predict(batch)
        info = runner.describe()
    assert info["name"] == "js-chromium" and "edgepack-web (js)" in info["runtime"]
    want = model.model.predict_proba(holdout)
    assert np.abs(got["probabilities"] - want).max() <= 1e-12
    labels = np.asarray(package.manifest["outputs"]["classes"], dtype=object)[np.argmax(got["probabilities"], axis=1)]
    assert list(labels) == list(model.model.predict(holdout))

    flipped = Package.open(tamper.flipped_copy(path, tmp_path / "flipped", "model.mjs"))
    with pytest.raises(PackageError, match="failed its checksum"):
        with runner_class("js-chromium")(flipped, flipped.artifact("js", format="js")) as runner:
            runner.predict(batch)

    assert edgepack(["parity", str(_break_constant(path, tmp_path)), "--runtimes", "js-chromium"]) == 1
    assert edgepack(["parity", str(path), "--runtimes", "js-chromium"]) == 0
