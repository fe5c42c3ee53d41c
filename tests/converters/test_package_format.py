"""Package format v1: schema-valid manifest, checksums, golden vectors, directory and zip forms."""

from __future__ import annotations

import hashlib
import json
import zipfile

import jsonschema
import pytest
from edgepack.converters.package_writer import schema_path, zip_directory
from edgepack.runtime import Package, PackageError, Scorer


@pytest.fixture(scope="module")
def churn(built_packages):
    return built_packages("gradient_boosting_clf")


def test_manifest_validates_against_committed_schema(churn):
    _, path = churn
    manifest = json.loads((path / "manifest.json").read_text())
    schema = json.loads(schema_path().read_text())
    jsonschema.validate(manifest, schema)
    assert manifest["format_version"] == 1
    bad = dict(manifest, format_version=2)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_checksums_match_files(churn):
    _, path = churn
    manifest = json.loads((path / "manifest.json").read_text())
    for art in manifest["artifacts"]:
        data = (path / art["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == art["sha256"]
        assert len(data) == art["size"]
    assert hashlib.sha256((path / "golden.json").read_bytes()).hexdigest() == manifest["golden"]["sha256"]


def test_input_schema_records_types_categories_ranges(churn):
    model, path = churn
    features = {f["name"]: f for f in json.loads((path / "manifest.json").read_text())["inputs"]["features"]}
    assert features["contract"]["type"] == "category"
    assert features["contract"]["categories"] == sorted(model.sample["contract"].unique())
    assert features["contract"]["unknown"] == "ignore"  # OneHotEncoder(handle_unknown="ignore")
    assert features["tenure_months"]["type"] == "int"
    assert features["monthly_charges"]["min"] == pytest.approx(model.sample["monthly_charges"].min())
    assert features["monthly_charges"]["max"] == pytest.approx(model.sample["monthly_charges"].max())
    assert features["total_charges"]["missing_rate"] == pytest.approx(model.sample["total_charges"].isna().mean())
    assert features["total_charges"]["nullable"] is True


def test_golden_vectors_hold_the_models_own_outputs(churn):
    model, path = churn
    golden = json.loads((path / "golden.json").read_text())
    assert len(golden["records"]) >= 64
    import pandas as pd

    frame = pd.DataFrame(golden["records"])[list(model.model.feature_names_in_)]
    frame = frame.astype({c: float for c in frame.columns if c not in ("contract", "internet_service", "payment_method")})
    want = model.model.predict_proba(frame)
    assert abs(want - pd.DataFrame(golden["outputs"]["probabilities"]).to_numpy()).max() < 1e-12


def test_zip_form_is_readable_and_scores_like_the_directory(churn, tmp_path):
    _, path = churn
    zipped = zip_directory(path, tmp_path / "model.edgepack")
    a, b = Scorer.load(path), Scorer.load(zipped)
    records = json.loads((path / "golden.json").read_text())["records"][:10]
    assert a.predict_records(records) == b.predict_records(records)
    assert b.selftest().passed


def test_tampered_artifact_is_refused(churn, tmp_path):
    import shutil

    _, path = churn
    copy = tmp_path / "pkg"
    shutil.copytree(path, copy)
    data = bytearray((copy / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(PackageError, match="checksum"):
        Scorer.load(copy)


def _copy_with_manifest(path, tmp_path, edit):
    """A copy of the package at `path` whose manifest went through `edit(manifest)`."""
    import shutil

    copy = tmp_path / "pkg"
    shutil.copytree(path, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    edit(manifest)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


def test_unknown_format_version_is_refused(churn, tmp_path):
    copy = _copy_with_manifest(churn[1], tmp_path, lambda m: m.update(format_version=99))
    with pytest.raises(PackageError, match="format version 99"):
        Package.open(copy)


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/passwd", "a/../../b"])
def test_zip_with_escaping_paths_is_refused(churn, tmp_path, name):
    _, path = churn
    bad = tmp_path / "bad.edgepack"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("manifest.json", (path / "manifest.json").read_text())
        zf.writestr(name, "x")
    with pytest.raises(PackageError, match="unsafe path"):
        Package.open(bad)


def test_zip_bomb_is_refused(churn, tmp_path):
    _, path = churn
    bomb = tmp_path / "bomb.edgepack"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", (path / "manifest.json").read_text())
        zf.writestr("model.onnx", b"\0" * (64 << 20))  # 64 MiB of zeros compresses ~1000:1
    with pytest.raises(PackageError, match="zip bomb"):
        Package.open(bomb)


def test_directory_package_whose_artifact_links_outside_is_refused(churn, tmp_path):
    """A symlink inside a package directory must not reach a file outside it."""
    import shutil

    _, path = churn
    copy = tmp_path / "pkg"
    shutil.copytree(path, copy)
    outside = tmp_path / "outside.onnx"
    outside.write_bytes((copy / "model.onnx").read_bytes())  # same bytes: only the location is wrong
    (copy / "model.onnx").unlink()
    (copy / "model.onnx").symlink_to(outside)
    with pytest.raises(PackageError, match="resolves outside the package"):
        Scorer.load(copy)
    assert "model.onnx" in Package.open(copy).file_names()  # listed, but never read


@pytest.mark.parametrize("name", ["../model.onnx", "/etc/passwd", "sub/../../model.onnx", "C:/model.onnx"])
def test_directory_package_with_an_escaping_artifact_path_is_refused(churn, tmp_path, name):
    copy = _copy_with_manifest(churn[1], tmp_path, lambda m: m["artifacts"][0].update(file=name))
    with pytest.raises(PackageError, match="unsafe path"):
        Package.open(copy)


def test_dot_segments_inside_the_package_are_harmless(churn, tmp_path):
    copy = _copy_with_manifest(churn[1], tmp_path, lambda m: m["artifacts"][0].update(file="./" + m["artifacts"][0]["file"]))
    assert Scorer.load(copy).selftest().passed
