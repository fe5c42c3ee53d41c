"""Spark ML pipelines reach the generated code too: targets c and js compile the Spark package's ONNX graph
(float64 arithmetic, TreeEnsemble with category sets), and the build checks them in gcc and Node against
Spark's own predictions on the sample (the reference). Expected values come from Spark."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
@pytest.mark.parametrize("family", ["logreg_multiclass", "gbt_clf", "random_forest_reg"])
def test_spark_packages_build_to_c_and_js(family, spark_models, tmp_path):
    from edgepack.toolchain.build import BuildOptions, build

    model = spark_models(family)
    result = build(BuildOptions(model=model.path, sample=model.sample, out=tmp_path / "package", label_column=model.label,
                                name=family, targets=["onnx", "c", "js"], quiet=True))
    manifest = json.loads((result.path / "manifest.json").read_text())
    checks = {c["artifact"]: c for c in manifest["parity"]}
    for fmt, runtime in (("c", "c-gcc"), ("js", "js-node")):
        assert checks[fmt]["runtime"] == runtime and checks[fmt]["passed"], checks[fmt]
