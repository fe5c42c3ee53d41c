"""Signed packages: `edgepack keygen`/`sign` on the toolchain side, `edgepack-score --trust` and
`Scorer.load(trust=...)` on the device. The expected outcomes are hand-worked: a package signed by a
trusted key loads; unsigned, foreign-signed, altered-after-signing packages are refused with exit 4."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from edgepack.runtime import PackageError, Scorer, UsageError
from edgepack.runtime.errors import EXIT_OK, EXIT_PACKAGE, EXIT_USAGE
from edgepack.runtime.package import sha256_bytes
from edgepack.toolchain.cli import main as edgepack

SCORE = [sys.executable, "-m", "edgepack.runtime"]


@pytest.fixture
def package(numeric_package, tmp_path) -> Path:
    copy = tmp_path / "package"
    shutil.copytree(numeric_package.path, copy)
    return copy


@pytest.fixture
def keys(tmp_path) -> dict[str, Path]:
    assert edgepack(["keygen", str(tmp_path / "keys" / "release")]) == EXIT_OK
    assert edgepack(["keygen", str(tmp_path / "other" / "intruder")]) == EXIT_OK
    return {"release": tmp_path / "keys" / "release", "intruder": tmp_path / "other" / "intruder"}


def _score(package: Path, trust: Path, record: dict) -> subprocess.CompletedProcess:
    return subprocess.run([*SCORE, str(package), "--trust", str(trust)], input=json.dumps(record) + "\n",
                          capture_output=True, text=True, timeout=120)


def test_keygen_writes_a_private_key_only_its_owner_reads_and_never_overwrites(keys, capsys):
    private = keys["release"]
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.with_name("release.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    before = private.read_bytes()
    assert edgepack(["keygen", str(private)]) == EXIT_USAGE
    assert "already exists" in capsys.readouterr().err
    assert private.read_bytes() == before


def test_a_package_signed_by_a_trusted_key_scores(package, keys, numeric_package):
    assert edgepack(["sign", str(package), "--key", str(keys["release"])]) == EXIT_OK
    record = numeric_package.records(1)[0]
    done = _score(package, keys["release"].with_name("release.pub"), record)
    assert done.returncode == EXIT_OK, done.stderr
    assert json.loads(done.stdout)["label"] in (0, 1)
    # a directory of trusted keys works the same
    assert _score(package, keys["release"].parent, record).returncode == EXIT_OK


def test_unsigned_and_foreign_signed_packages_are_refused(package, keys, numeric_package):
    record = numeric_package.records(1)[0]
    trusted = keys["release"].with_name("release.pub")
    unsigned = _score(package, trusted, record)
    assert unsigned.returncode == EXIT_PACKAGE and "not signed" in unsigned.stderr
    assert "Traceback" not in unsigned.stderr and unsigned.stdout == ""
    assert edgepack(["sign", str(package), "--key", str(keys["intruder"])]) == EXIT_OK
    foreign = _score(package, trusted, record)
    assert foreign.returncode == EXIT_PACKAGE and "no signature by a trusted key" in foreign.stderr


def _rewrite_consistently(package: Path) -> None:
    """Change golden.json and its checksum in the manifest: the package matches its own manifest again, so
    only the signature can tell."""
    golden = json.loads((package / "golden.json").read_text())
    golden["outputs"]["probabilities"][0] = [0.5, 0.5]
    data = (json.dumps(golden) + "\n").encode()
    (package / "golden.json").write_bytes(data)
    manifest = json.loads((package / "manifest.json").read_text())
    manifest["golden"]["sha256"] = sha256_bytes(data)
    (package / "manifest.json").write_text(json.dumps(manifest, indent=2))


def test_a_package_altered_after_signing_is_refused(package, keys, numeric_package):
    assert edgepack(["sign", str(package), "--key", str(keys["release"])]) == EXIT_OK
    _rewrite_consistently(package)
    Scorer.load(package)  # its own checksums pass: without a trust set it would be used
    with pytest.raises(PackageError, match="does not match the signed contents"):
        Scorer.load(package, trust=keys["release"].with_name("release.pub"))
    done = _score(package, keys["release"].with_name("release.pub"), numeric_package.records(1)[0])
    assert done.returncode == EXIT_PACKAGE


def test_manifest_edit_after_signing_is_refused(package, keys):
    assert edgepack(["sign", str(package), "--key", str(keys["release"])]) == EXIT_OK
    manifest = json.loads((package / "manifest.json").read_text())
    manifest["outputs"]["classes"] = list(reversed(manifest["outputs"]["classes"]))
    (package / "manifest.json").write_text(json.dumps(manifest, indent=2))
    with pytest.raises(PackageError, match="does not match the signed contents"):
        Scorer.load(package, trust=keys["release"].parent)


def test_several_signatures_and_a_zipped_package(package, keys, tmp_path):
    from edgepack.converters.package_writer import zip_directory

    zipped = zip_directory(package, tmp_path / "model.edgepack")
    assert edgepack(["sign", str(zipped), "--key", str(keys["intruder"])]) == EXIT_OK
    assert edgepack(["sign", str(zipped), "--key", str(keys["release"])]) == EXIT_OK
    assert edgepack(["sign", str(zipped), "--key", str(keys["release"])]) == EXIT_OK  # renewed, not doubled
    with zipfile.ZipFile(zipped) as zf:
        names = zf.namelist()
        signatures = json.loads(zf.read("signatures.json"))["signatures"]
    assert names.count("signatures.json") == 1 and len(signatures) == 2
    scorer = Scorer.load(zipped, trust=keys["release"].with_name("release.pub"))
    assert scorer.selftest().passed


def test_a_package_that_does_not_match_its_manifest_is_never_signed(package, keys, capsys):
    (package / "golden.json").write_text("{}\n")
    assert edgepack(["sign", str(package), "--key", str(keys["release"])]) == EXIT_PACKAGE
    assert not (package / "signatures.json").exists()


def test_bad_trust_arguments_are_usage_errors(package, keys, tmp_path):
    with pytest.raises(UsageError, match="no trusted key"):
        Scorer.load(package, trust=tmp_path / "nowhere.pub")
    with pytest.raises(UsageError, match="not a PEM public key"):
        Scorer.load(package, trust=keys["release"])  # the private key passed by mistake
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match="no public key"):
        Scorer.load(package, trust=empty)


def test_without_the_signing_extra_the_device_says_what_to_install(package, keys, numeric_package):
    code = ("import sys; sys.modules['cryptography'] = None\n"
            "from edgepack.runtime.cli import main\n"
            f"sys.argv = ['edgepack-score', {str(package)!r}, '--trust', {str(keys['release'].parent)!r}]\n"
            "sys.exit(main())")
    done = subprocess.run([sys.executable, "-c", code], input="", capture_output=True, text=True, timeout=120,
                          env={**os.environ})
    assert done.returncode == EXIT_USAGE, done.stderr
    assert "edgepack[signing]" in done.stderr and "Traceback" not in done.stderr


def test_inspect_shows_and_checks_signatures(package, keys, capsys):
    assert edgepack(["inspect", str(package)]) == EXIT_OK
    assert "signatures: none (unsigned)" in capsys.readouterr().out
    assert edgepack(["inspect", str(package), "--trust", str(keys["release"].with_name("release.pub"))]) == EXIT_PACKAGE
    assert "not signed" in capsys.readouterr().err
    assert edgepack(["sign", str(package), "--key", str(keys["release"])]) == EXIT_OK
    capsys.readouterr()
    assert edgepack(["inspect", str(package), "--trust", str(keys["release"].with_name("release.pub"))]) == EXIT_OK
    assert "signature: valid, by trusted key" in capsys.readouterr().out
