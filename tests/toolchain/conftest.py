"""Fixtures of the toolchain's tests: a real PostgreSQL server when its binaries are on the machine."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_url():
    """A SQLAlchemy URL of a throwaway PostgreSQL cluster (initdb + pg_ctl on a Unix socket), or a skip
    naming what is missing. As root the server runs as the `postgres` user, which initdb requires."""
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (the convert extra brings it)")
    as_user: list[str] = []
    # Not under pytest's basetemp: pytest keeps that folder private (0700) to its user, and as root the
    # server runs as `postgres`, which must reach its data folder.
    root = Path(tempfile.mkdtemp(prefix="edgepack-pg-", dir=os.environ.get("TMPDIR", "/tmp")))
    if os.geteuid() == 0:
        if subprocess.run(["id", "postgres"], capture_output=True).returncode != 0:
            pytest.skip("running as root and no `postgres` user to run the server as")
        as_user = ["runuser", "-u", "postgres", "--"]
        os.chmod(root, 0o777)
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    os.chmod(sock, 0o777)
    port = _free_port()
    init = subprocess.run([*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "edgepack"], capture_output=True, text=True)
    if init.returncode != 0:
        pytest.skip(f"initdb failed: {init.stderr.strip()[-600:]}")
    start = subprocess.run([*as_user, pg_ctl, "-D", str(data), "-l", str(root / "log"), "-w", "-o",
                            f"-k {sock} -p {port} -c listen_addresses=''", "start"], capture_output=True, text=True)
    if start.returncode != 0:
        pytest.skip(f"PostgreSQL did not start: {(root / 'log').read_text()[-500:] if (root / 'log').exists() else start.stderr}")
    import psycopg

    with psycopg.connect(host=str(sock), port=port, user="edgepack", dbname="postgres", autocommit=True) as conn:
        conn.execute("CREATE DATABASE registry")
    try:
        yield f"postgresql+psycopg://edgepack@/registry?host={sock}&port={port}"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def signed_packages(built_packages, tmp_path: Path):
    """(key path, function version -> a signed copy of the zoo's logreg_binary package with that version)."""
    import json

    from edgepack.toolchain.cli import main as edgepack

    key = tmp_path / "keys" / "release"
    assert edgepack(["keygen", str(key)]) == 0

    def make(number: str) -> Path:
        pkg = tmp_path / f"v{number}"
        shutil.copytree(built_packages("logreg_binary")[1], pkg)
        manifest = json.loads((pkg / "manifest.json").read_text())
        manifest["model"]["version"] = number
        (pkg / "manifest.json").write_text(json.dumps(manifest, indent=2))
        assert edgepack(["sign", str(pkg), "--key", str(key)]) == 0
        return pkg

    return key, make
