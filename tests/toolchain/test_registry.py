"""edgepack publish / registry against a real registry directory and a real catalog (SQLite, and
PostgreSQL when its server is installed): versions immutable, promotions signed and audited, retired
versions never promoted, refusals with their reason and exit code."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from edgepack.runtime.errors import EXIT_OK, EXIT_USAGE
from edgepack.runtime.signing import TrustSet, parse_signatures, verify_signed
from edgepack.toolchain.cli import main as edgepack
from edgepack.toolchain.registry.registry import Registry


def _flow(registry_dir: Path, catalog: str | None, key: Path, make, capsys) -> None:
    extra = ["--catalog", catalog] if catalog else []
    v1, v2 = make("1"), make("2")
    assert edgepack(["publish", str(v1), str(registry_dir), "--promote", "production", "--key", str(key), "--by", "alice", *extra]) == EXIT_OK
    assert edgepack(["publish", str(v2), str(registry_dir), "--by", "bob", *extra]) == EXIT_OK
    capsys.readouterr()
    assert edgepack(["publish", str(v2), str(registry_dir), *extra]) == EXIT_OK
    assert "already published" in capsys.readouterr().out
    assert edgepack(["registry", "promote", str(registry_dir), "logreg_binary", "2", "--channel", "production",
                     "--key", str(key), "--by", "carol", "--note", "CAB-1", *extra]) == EXIT_OK
    capsys.readouterr()
    assert edgepack(["registry", "list", str(registry_dir), *extra]) == EXIT_OK
    listing = capsys.readouterr().out
    assert "production" in listing.splitlines()[3] and listing.splitlines()[2].split()[2] == "-"
    registry = Registry(str(registry_dir), catalog)
    history = registry.show("logreg_binary")["history"]
    assert [(h["actor"], h["action"], h["version"]) for h in history] == [
        ("alice", "publish", "1"), ("alice", "promote", "1"), ("bob", "publish", "2"), ("carol", "promote", "2")]
    assert history[-1]["detail"] == {"previous": "1", "note": "CAB-1"}
    # the pointer devices read is signed by the key
    channel = registry_dir / "models" / "logreg_binary" / "channels"
    raw = (channel / "production.json").read_bytes()
    entries = parse_signatures((channel / "production.sig.json").read_bytes(), "pointer")
    assert verify_signed(raw, entries, TrustSet.load(key.with_name("release.pub")), "pointer")
    assert json.loads(raw)["version"] == "2" and json.loads(raw)["previous"] == "1"
    # retire: refused while served, then allowed for version 1, which can no longer be promoted
    assert edgepack(["registry", "retire", str(registry_dir), "logreg_binary", "2", *extra]) == EXIT_USAGE
    assert "served by channel" in capsys.readouterr().err
    assert edgepack(["registry", "retire", str(registry_dir), "logreg_binary", "1", *extra]) == EXIT_OK
    assert edgepack(["registry", "promote", str(registry_dir), "logreg_binary", "1", "--channel", "production",
                     "--key", str(key), *extra]) == EXIT_USAGE
    assert "was retired" in capsys.readouterr().err


def test_publish_promote_retire_with_sqlite(signed_packages, tmp_path, capsys):
    key, make = signed_packages
    _flow(tmp_path / "registry", None, key, make, capsys)
    with sqlite3.connect(tmp_path / "registry" / "catalog.sqlite") as db:
        assert db.execute("select count(*) from edgepack_audit").fetchone()[0] == 5


def test_publish_promote_retire_with_postgresql(postgres_url, signed_packages, tmp_path, capsys):
    key, make = signed_packages
    _flow(tmp_path / "registry", postgres_url, key, make, capsys)


def test_a_version_is_immutable(signed_packages, tmp_path, capsys):
    key, make = signed_packages
    v1 = make("1")
    assert edgepack(["publish", str(v1), str(tmp_path / "registry")]) == EXIT_OK
    archives = sorted((tmp_path / "registry").rglob("*.edgepack"))
    golden = json.loads((v1 / "golden.json").read_text())
    golden["note"] = "changed"
    (v1 / "golden.json").write_text(json.dumps(golden))
    # the package no longer matches its manifest: refused before anything is written
    assert edgepack(["publish", str(v1), str(tmp_path / "registry")]) == 4
    assert sorted((tmp_path / "registry").rglob("*.edgepack")) == archives


def test_refusals_name_what_and_how(signed_packages, tmp_path, capsys):
    key, make = signed_packages
    v1 = make("1")
    assert edgepack(["publish", str(v1), str(tmp_path / "registry"), "--promote", "production"]) == EXIT_USAGE
    assert "--promote needs --key" in capsys.readouterr().err
    assert edgepack(["registry", "promote", str(tmp_path / "registry"), "logreg_binary", "9", "--channel", "production",
                     "--key", str(key)]) == EXIT_USAGE
    assert "not published here" in capsys.readouterr().err
    assert edgepack(["publish", str(v1), "s3://bucket/registry"]) == EXIT_USAGE
    assert "needs a shared catalog" in capsys.readouterr().err
    assert edgepack(["registry", "list", str(tmp_path / "r2"), "--catalog", "nosuchdb://x"]) == EXIT_USAGE
    assert "cannot open the catalog" in capsys.readouterr().err


def test_fetch_checks_the_archive_and_never_overwrites(signed_packages, tmp_path):
    key, make = signed_packages
    registry = Registry(str(tmp_path / "registry"))
    registry.publish(make("1"), "ci")
    out = registry.fetch("logreg_binary", "1", tmp_path / "got.edgepack")
    from edgepack.runtime import Scorer

    assert Scorer.load(out, trust=key.with_name("release.pub")).selftest().passed
    with pytest.raises(Exception, match="never overwrites"):
        registry.fetch("logreg_binary", "1", out)


def test_publishing_the_same_directory_twice_is_a_no_op_whatever_the_clock(signed_packages, tmp_path, monkeypatch):
    """The archive of a package directory does not depend on when it is made (zip timestamps fixed)."""
    import time

    key, make = signed_packages
    v1 = make("1")
    registry = Registry(str(tmp_path / "registry"))
    first = registry.publish(v1, "ci")
    real = time.localtime
    monkeypatch.setattr(time, "localtime", lambda *a: real(real_time() + 3600))
    assert registry.publish(v1, "ci")["status"] == "already published"
    assert first["status"] == "published"


def real_time() -> float:
    import time

    return time.time()
