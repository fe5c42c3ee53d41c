"""Metadata in every artifact (issue 19 item 5): what an IDE or model viewer shows, read back with each
format's own library from a package built with --author/--license/--description."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import pytest
import zoo


def _build(tmp_path, targets):
    model, sample = zoo.save(zoo.get("logreg_binary"), tmp_path)
    out = tmp_path / "package"
    done = subprocess.run([sys.executable, "-m", "edgepack.toolchain.cli", "build", str(model), "--sample", str(sample),
                           "--label-column", "churn", "--targets", targets, "--name", "churn", "--version", "3",
                           "--author", "Data Team <data@example.com>", "--license", "CC-BY-4.0",
                           "--description", "Which customers will leave", "-o", str(out), "-q"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return out, json.loads((out / "manifest.json").read_text())


def test_onnx_and_coreml_carry_name_version_author_license_inputs_and_classes(tmp_path):
    import onnx
    from coremltools.proto import Model_pb2

    out, manifest = _build(tmp_path, "onnx,coreml")
    assert manifest["model"]["author"] == "Data Team <data@example.com>" and manifest["model"]["license"] == "CC-BY-4.0"
    model = onnx.load(out / "model.onnx")
    props = {p.key: p.value for p in model.metadata_props}
    assert model.producer_name == "edgepack" and model.producer_version == metadata.version("edgepack")
    assert model.model_version == 3 and model.doc_string == "Which customers will leave"
    assert props["author"] == "Data Team <data@example.com>" and props["license"] == "CC-BY-4.0"
    assert props["edgepack.name"] == "churn" and json.loads(props["edgepack.classes"]) == [0, 1]
    assert [f["name"] for f in json.loads(props["edgepack.inputs"])] == [f["name"] for f in manifest["inputs"]["features"]]
    domains = [o.domain for o in model.opset_import]
    assert len(domains) == len(set(domains)), "each opset import listed once"

    spec = Model_pb2.Model()
    spec.ParseFromString((out / "model.mlmodel").read_bytes())
    meta = spec.description.metadata
    assert (meta.author, meta.license, meta.versionString) == ("Data Team <data@example.com>", "CC-BY-4.0", "3")
    assert meta.shortDescription == "Which customers will leave" and meta.userDefined["edgepack.name"] == "churn"
    described = {d.name: d.shortDescription for d in spec.description.input}
    assert described and all(described.values())
    assert described["contract"].startswith("contract: category (")


@pytest.mark.slow
def test_tfjs_model_json_carries_user_defined_metadata(tmp_path):
    out, manifest = _build(tmp_path, "onnx,tfjs")
    tfjs = next(a for a in manifest["artifacts"] if a["format"] == "tfjs")
    model_json = json.loads((out / tfjs["file"]).read_text())
    assert model_json["userDefinedMetadata"]["edgepack"]["license"] == "CC-BY-4.0"
