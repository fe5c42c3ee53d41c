"""The hostile packages of issue 15, each through every consumer: `Scorer.load` (+ selftest), `edgepack
inspect`, `edgepack-score` and `edgepack-score selftest` all end in exit 4 with a one-line reason naming
what is wrong, never a traceback, and nothing is read from outside the package."""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hostile
import pytest
from edgepack.runtime import Scorer
from edgepack.runtime.package import MANIFEST_LIMIT_ENV, Package, sha256_bytes


@pytest.fixture(scope="module")
def source(built_packages) -> Path:
    return built_packages("logreg_binary")[1]


def _manifest_change(change: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    def apply(package: Path) -> None:
        manifest = hostile.read_manifest(package)
        change(manifest)
        hostile.write_manifest(package, manifest)
    return apply


def _set(path: str, value: Any) -> Callable[[Path], None]:
    """Set a dotted path (`artifacts.0.size`) of the manifest to `value`."""
    def change(manifest: dict[str, Any]) -> None:
        *head, last = path.split(".")
        target: Any = manifest
        for key in head:
            target = target[int(key)] if isinstance(target, list) else target[key]
        target[int(last) if isinstance(target, list) else last] = value
    return _manifest_change(change)


def _delete(path: str) -> Callable[[Path], None]:
    def change(manifest: dict[str, Any]) -> None:
        *head, last = path.split(".")
        target: Any = manifest
        for key in head:
            target = target[int(key)] if isinstance(target, list) else target[key]
        del target[last]
    return _manifest_change(change)


def _deep_nesting(package: Path) -> None:
    text = (package / "manifest.json").read_text()
    depth = 100_000
    (package / "manifest.json").write_text(text.rstrip()[:-1] + ', "extra": ' + "[" * depth + "]" * depth + "}")


def _symlink_model_out(package: Path) -> None:
    (package / "model.onnx").unlink()
    (package / "model.onnx").symlink_to("/etc/passwd")


def _flip_byte(package: Path) -> None:
    data = bytearray((package / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0x01
    (package / "model.onnx").write_bytes(bytes(data))


def _golden_altered(package: Path) -> None:
    golden = json.loads((package / "golden.json").read_text())
    golden["outputs"]["probabilities"][0] = [0.5, 0.5]
    (package / "golden.json").write_text(json.dumps(golden))


CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "artifacts-not-objects": (_set("artifacts", [5]), "artifacts[0]: expected an object"),
    "file-a-number": (_set("artifacts.0.file", 5), "artifacts[0].file: expected a string"),
    "size-a-word": (_set("artifacts.0.size", "big"), "artifacts[0].size: expected an integer"),
    "inputs-empty-object": (_set("inputs", {}), "inputs: lacks 'features'"),
    "artifact-without-inputs": (_delete("artifacts.0.inputs"), "artifacts[0]: lacks 'inputs'"),
    "artifact-with-no-input-tensors": (_set("artifacts.0.inputs", []), "needs at least one input tensor"),
    "tensor-naming-no-feature": (_set("artifacts.0.inputs.0.features", ["nobody"]), "'nobody' is not an input feature"),
    "tensor-renamed": (_set("artifacts.0.inputs.0.name", "renamed"), "are not the model's"),
    "deep-nesting": (_deep_nesting, "nests too deeply"),
    "format-version-true": (_set("format_version", True), "unknown package format version true (a boolean)"),
    "format-version-1.0": (_set("format_version", 1.0), "unknown package format version 1.0 (a number)"),
    "format-version-text": (_set("format_version", "1"), "unknown package format version \"1\" (a string)"),
    "no-classes": (_set("outputs.classes", []), "must list its classes"),
    "nan-tolerance": (_set("tolerance_profiles.float32.max_probability_error", float("nan")), "finite number"),
    "golden-outside": (_set("golden.file", "../../etc/passwd"), "'..' is refused"),
    "golden-absolute": (_set("golden.file", "/etc/passwd"), "absolute paths are refused"),
    "golden-missing": (lambda p: (p / "golden.json").unlink(), "missing file 'golden.json'"),
    "golden-altered": (_golden_altered, "golden vectors 'golden.json' failed their checksum"),
    "model-symlink-out": (_symlink_model_out, "resolves outside the package"),
    "flipped-byte": (_flip_byte, "failed its checksum"),
}


# Seen only when onnxruntime loads the graph, which inspect does not do (it reads and verifies files).
NEEDS_THE_GRAPH = {"tensor-renamed"}


@pytest.mark.parametrize("case", list(CASES))
def test_every_consumer_refuses_with_one_line(source, tmp_path, case):
    how, words = CASES[case]
    package = hostile.copy_package(source, tmp_path / "pkg")
    how(package)
    hostile.assert_refused(hostile.api(package), "", words)
    if case not in NEEDS_THE_GRAPH:
        hostile.assert_refused(hostile.inspect(package), "edgepack inspect: error:", words)
    hostile.assert_refused(hostile.selftest(package), "edgepack-score: error:", words)


@pytest.mark.parametrize("case", ["size-a-word", "deep-nesting", "golden-outside", "golden-altered", "model-symlink-out"])
def test_the_scorer_process_refuses_with_one_line(source, tmp_path, case):
    how, words = CASES[case]
    package = hostile.copy_package(source, tmp_path / "pkg")
    how(package)
    outcome = hostile.score(package, b'{"x": 1}\n')
    hostile.assert_refused(outcome, "edgepack-score: error:", words)


def test_renamed_classes_fail_the_selftest_with_a_reason(source, tmp_path):
    package = hostile.copy_package(source, tmp_path / "pkg")
    _set("outputs.classes", ["no", "yes"])(package)
    hostile.assert_refused(hostile.selftest(package), "edgepack-score: error:", "label 0 is not one of the manifest's classes")
    hostile.assert_refused(hostile.api(package), "", "not one of the manifest's classes")


def test_inspect_says_what_it_verified(source):
    import contextlib
    import io

    from edgepack.toolchain.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["inspect", str(source)]) == 0
    # model.onnx, golden.json and profile.json (the drift reference profile): every file the manifest lists
    listed = {"model.onnx", "golden.json", "profile.json"}
    assert {f.name for f in Path(source).iterdir()} >= listed
    assert f"verified: {len(listed)} files match their sha256 and size, all inside the package" in out.getvalue()


def test_manifest_size_limit_is_configurable(source, tmp_path, monkeypatch):
    package = hostile.copy_package(source, tmp_path / "pkg")
    size = (package / "manifest.json").stat().st_size
    monkeypatch.setenv(MANIFEST_LIMIT_ENV, str(size - 1))
    hostile.assert_refused(hostile.api(package), "", f"larger than the limit of {size - 1} bytes")
    hostile.assert_refused(hostile.score(package, env={MANIFEST_LIMIT_ENV: str(size - 1)}), "edgepack-score: error:",
                           MANIFEST_LIMIT_ENV)
    monkeypatch.setenv(MANIFEST_LIMIT_ENV, str(size))
    assert hostile.api(package).code == 0
    monkeypatch.delenv(MANIFEST_LIMIT_ENV)
    assert Package.open(package, max_manifest_bytes=size).name == "logreg_binary"
    with pytest.raises(Exception, match="larger than the limit"):
        Package.open(package, max_manifest_bytes=100)


def _zip(package: Path, out: Path, extra: list[tuple[str, bytes]] = ()) -> Path:
    with zipfile.ZipFile(out, "w") as zf:
        for path in sorted(package.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(package).as_posix())
        for name, data in extra:
            zf.writestr(name, data)
    return out


def test_zip_with_two_entries_of_one_name_is_refused(source, tmp_path):
    import warnings

    good = _zip(source, tmp_path / "good.edgepack")
    assert hostile.api(good).code == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name it is asked to write
        twice = _zip(source, tmp_path / "twice.edgepack", [("model.onnx", b"a second model.onnx")])
    hostile.assert_refused(hostile.api(twice), "", "two entries named 'model.onnx'")
    hostile.assert_refused(hostile.inspect(twice), "edgepack inspect: error:", "two entries named")
    hostile.assert_refused(hostile.score(twice), "edgepack-score: error:", "two entries named")


def _external_model(data_name: str) -> bytes:
    """A tiny Add graph whose initializer keeps its bytes in an external file named `data_name`."""
    import onnx
    from onnx import TensorProto, helper

    weight = TensorProto()
    weight.name, weight.data_type = "w", TensorProto.FLOAT
    weight.dims.extend([1])
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", data_name), ("length", "4")):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g", [x], [y], [weight])
    return onnx.helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _with_artifact(package: Path, data: bytes) -> None:
    (package / "model.onnx").write_bytes(data)
    manifest = hostile.read_manifest(package)
    manifest["artifacts"][0].update(sha256=sha256_bytes(data), size=len(data))
    hostile.write_manifest(package, manifest)


def test_onnx_external_data_is_refused_before_onnxruntime(source, tmp_path, monkeypatch):
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"\x00\x00\x80\x3f")  # 1.0f: would be added to every prediction
    monkeypatch.chdir(tmp_path)  # onnxruntime reads external data relative to the working directory
    package = hostile.copy_package(source, tmp_path / "pkg")
    _with_artifact(package, _external_model("secret.txt"))
    for outcome, prefix in ((hostile.api(package), ""), (hostile.inspect(package), "edgepack inspect: error:"),
                            (hostile.selftest(package), "edgepack-score: error:")):
        hostile.assert_refused(outcome, prefix, "external data ('location  secret.txt')")


def test_external_data_anywhere_in_the_graph_is_found():
    """Initializers, Constant attributes, subgraphs and functions: the walker reaches every TensorProto."""
    import onnx
    from edgepack.runtime.errors import PackageError
    from edgepack.runtime.onnx_check import check_self_contained
    from onnx import TensorProto, helper

    def external(name: str) -> TensorProto:
        t = TensorProto()
        t.name, t.data_type = name, TensorProto.FLOAT
        t.dims.extend([1])
        t.data_location = TensorProto.EXTERNAL
        return t

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    constant = helper.make_node("Constant", [], ["c"], value=external("c"))
    inner = helper.make_graph([constant, helper.make_node("Identity", ["c"], ["y"])], "inner", [], [y])
    cond = helper.make_tensor_value_info("b", TensorProto.BOOL, [])
    branchy = helper.make_node("If", ["b"], ["y"], then_branch=inner, else_branch=inner)
    models = {
        "constant": helper.make_graph([constant, helper.make_node("Add", ["x", "c"], ["y"])], "g", [x], [y]),
        "subgraph": helper.make_graph([branchy], "g", [cond], [y]),
    }
    for name, graph in models.items():
        data = helper.make_model(graph).SerializeToString()
        with pytest.raises(PackageError, match="external"):
            check_self_contained(data, name)
    fn = onnx.helper.make_function("local", "f", ["a"], ["b"], [constant], [helper.make_opsetid("", 17)])
    model = helper.make_model(helper.make_graph([], "g", [x], [y]), functions=[fn])
    with pytest.raises(PackageError, match="external"):
        check_self_contained(model.SerializeToString(), "function")
    with pytest.raises(PackageError, match="not a well-formed ONNX model"):
        check_self_contained(b"\x3a\xff\xff\xff\x0f", "truncated")


def test_symlink_inside_the_package_is_allowed(source, tmp_path):
    package = hostile.copy_package(source, tmp_path / "pkg")
    os.rename(package / "model.onnx", package / "real.onnx")
    (package / "model.onnx").symlink_to("real.onnx")
    assert hostile.inspect(package).code == 0


def test_the_limit_is_in_the_scorers_help():
    from edgepack.runtime.cli import EXIT_CODES
    from edgepack.runtime.package import GOLDEN_LIMIT_ENV, MAX_GOLDEN_BYTES, MAX_MANIFEST_BYTES

    assert f"{MANIFEST_LIMIT_ENV}  refuse a larger manifest.json before parsing it (default {MAX_MANIFEST_BYTES}" in EXIT_CODES
    assert f"{GOLDEN_LIMIT_ENV}    selftest: refuse larger golden vectors before parsing them (default {MAX_GOLDEN_BYTES})" \
        in EXIT_CODES


def test_golden_size_limit_applies_to_parsing_not_to_loading(source, tmp_path, monkeypatch):
    from edgepack.runtime.package import GOLDEN_LIMIT_ENV

    zipped = _zip(source, tmp_path / "pkg.edgepack")
    for package in (source, zipped):
        monkeypatch.setenv(GOLDEN_LIMIT_ENV, "1000")
        Scorer.load(package)  # the load checks golden.json's sha256 streamed, whatever its size
        hostile.assert_refused(hostile.selftest(package), "edgepack-score: error:", GOLDEN_LIMIT_ENV)
        monkeypatch.delenv(GOLDEN_LIMIT_ENV)
        assert hostile.selftest(package).code == 0


def test_a_file_list_entry_of_the_wrong_type_is_refused(source, tmp_path):
    package = hostile.copy_package(source, tmp_path / "pkg")
    _set("artifacts.0.files", [{"file": 5, "sha256": "0" * 64, "size": 1}])(package)
    for outcome, prefix in ((hostile.api(package), ""), (hostile.inspect(package), "edgepack inspect: error:")):
        hostile.assert_refused(outcome, prefix, "artifacts[0].files[0].file: expected a string, got 5 (an integer)")
