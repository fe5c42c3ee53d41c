"""`edgepack build -o OUT` never loses the user's files (issue 15 item 1): `-o DIR` used to delete
everything in DIR (shutil.rmtree), exit 0, and `-o .` emptied the working folder, then failed with a
traceback. Now a non-empty OUT is refused unless it holds an edgepack package (whose own files alone are
replaced) or --force is given (converters/package_destination.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import zoo
from edgepack.converters.package_writer import write_package
from edgepack.runtime import Package
from edgepack.runtime.errors import UsageError

EDGEPACK = [sys.executable, "-m", "edgepack.toolchain.cli"]


def _build(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*EDGEPACK, "build", *args], capture_output=True, text=True, timeout=600, cwd=cwd)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A user's project folder: the model, its sample and a README, as issue 15 found it."""
    zm = zoo.get("logreg_binary")
    zoo.save(zm, tmp_path)
    (tmp_path / "README.md").write_text("my notes\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "raw.csv").write_text("a,b\n1,2\n")
    return tmp_path


def _model_args(project: Path) -> list[str]:
    model = next(p for p in project.iterdir() if p.suffix == ".joblib")
    sample = next(p for p in project.iterdir() if p.suffix == ".csv")
    return [str(model), "--sample", str(sample), "--label-column", zoo.get("logreg_binary").label, "-q"]


@pytest.mark.parametrize("out", [".", "{project}"])
def test_a_folder_with_other_files_is_refused_and_left_as_it_was(project, out):
    before = _snapshot(project)
    result = _build(project, *_model_args(project), "-o", out.format(project=project))
    assert result.returncode == 2, result.stderr
    assert "not empty and holds no edgepack package" in result.stderr and "--force" in result.stderr
    assert _snapshot(project) == before


def test_force_writes_beside_the_files_then_a_rebuild_replaces_only_the_package(project):
    before = _snapshot(project)
    result = _build(project, *_model_args(project), "-o", ".", "--force")
    assert result.returncode == 0, result.stderr
    after = _snapshot(project)
    assert {k: after[k] for k in before} == before  # every file still there, unchanged
    assert Package.open(project).version == "1" and not [p for p in project.iterdir() if p.name.startswith(".")]
    # The folder now holds a package: a rebuild needs no --force, replaces the package, keeps the rest.
    result = _build(project, *_model_args(project), "-o", ".", "--version", "2")
    assert result.returncode == 0, result.stderr
    after = _snapshot(project)
    assert {k: after[k] for k in before} == before and Package.open(project).version == "2"


# -- write_package directly: fast, and the cases a CLI run cannot set up -----------------------------------
@pytest.fixture(scope="module")
def parts(built_packages) -> tuple[dict, dict[str, bytes]]:
    """(manifest, files) of a real package, to write again with variations."""
    _, path = built_packages("logreg_binary")
    files = {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}
    return json.loads(files.pop("manifest.json")), files


def _with_extra(manifest: dict, files: dict[str, bytes], name: str, data: bytes) -> tuple[dict, dict[str, bytes]]:
    """The package plus one more artifact file (listed in the manifest, as a target's extra file would be)."""
    import hashlib

    manifest = json.loads(json.dumps(manifest))
    art = manifest["artifacts"][0]
    art["files"] = [{"file": art["file"], "sha256": art["sha256"], "size": art["size"]},
                    {"file": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}]
    return manifest, {**files, name: data}


def test_an_earlier_package_alone_is_swapped_whole(parts, tmp_path):
    manifest, files = parts
    out = tmp_path / "pkg"
    write_package(out, *_with_extra(manifest, files, "extra/old.bin", b"old"))
    (out / "extra" / "empty").mkdir()  # an empty folder is nobody's file
    inode = out.stat().st_ino
    write_package(out, manifest, files)
    assert sorted(_snapshot(out)) == sorted([*files, "manifest.json"])  # old.bin (the package's) is gone
    assert not (out / "extra").exists() and out.stat().st_ino != inode  # a new folder, swapped in at once
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkg"]  # nothing left beside it
    Package.open(out)


def test_an_earlier_package_with_user_files_is_replaced_file_by_file(parts, tmp_path):
    manifest, files = parts
    out = tmp_path / "pkg"
    write_package(out, *_with_extra(manifest, files, "extra/old.bin", b"old"))
    (out / "extra" / "mine.txt").write_text("mine")
    (out / "golden.json.bak").write_text("mine too")
    write_package(out, manifest, files)
    snap = _snapshot(out)
    assert snap["extra/mine.txt"] == b"mine" and snap["golden.json.bak"] == b"mine too"
    assert "extra/old.bin" not in snap and not [p for p in out.iterdir() if p.name.startswith(".")]
    Package.open(out)


def test_files_the_manifest_names_but_does_not_own_are_never_removed(parts, tmp_path):
    """A manifest naming a user's file (with another checksum) or a file outside the folder does not make
    them the package's: they are neither deleted nor silently replaced."""
    manifest, files = parts
    out = tmp_path / "pkg"
    out.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_text("outside")
    hostile, hostile_files = _with_extra(manifest, files, "thesis.txt", b"what the manifest claims")
    hostile["artifacts"][0]["files"].append({"file": "../outside.txt", "sha256": __import__("hashlib").sha256(
        b"outside").hexdigest(), "size": 7})
    for name, data in {**hostile_files, "manifest.json": json.dumps(hostile).encode()}.items():
        (out / name).write_bytes(data)
    (out / "thesis.txt").write_text("the user's thesis")  # same name, other bytes: not the package's
    write_package(out, manifest, files)
    assert (out / "thesis.txt").read_text() == "the user's thesis" and outside.read_text() == "outside"
    with pytest.raises(UsageError, match="thesis.txt"):  # a new package that would overwrite it is refused
        write_package(out, *_with_extra(manifest, files, "thesis.txt", b"new"))
    assert (out / "thesis.txt").read_text() == "the user's thesis"


def test_single_file_form_replaces_only_a_package(parts, tmp_path):
    manifest, files = parts
    target = tmp_path / "model.edgepack"
    target.write_text("a file that happens to have the name")
    with pytest.raises(UsageError, match="not an edgepack package"):
        write_package(target, manifest, files)
    assert target.read_text() == "a file that happens to have the name"
    write_package(target, manifest, files, force=True)
    assert "manifest.json" in zipfile.ZipFile(target).namelist()
    write_package(target, manifest, files)  # an earlier package: replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.edgepack"]  # no temporary left beside it
    folder = tmp_path / "folder.edgepack"
    folder.mkdir()
    with pytest.raises(UsageError):
        write_package(folder, manifest, files, force=True)


def test_a_file_where_a_folder_is_wanted_is_refused_even_with_force(parts, tmp_path):
    manifest, files = parts
    (tmp_path / "out").write_text("mine")
    with pytest.raises(UsageError, match="is a file"):
        write_package(tmp_path / "out", manifest, files, force=True)
    assert (tmp_path / "out").read_text() == "mine"


def test_an_empty_working_folder_takes_the_package(parts, tmp_path, monkeypatch):
    manifest, files = parts
    monkeypatch.chdir(tmp_path)
    write_package(Path("."), manifest, files)
    assert Package.open(".").name and os.getcwd() == str(tmp_path)
