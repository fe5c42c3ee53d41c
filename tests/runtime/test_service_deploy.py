"""examples/service: the Dockerfile and the systemd unit start the service as they say.

The Dockerfile is built when a docker engine answers (skipped with docker's reason otherwise); its
ENTRYPOINT + CMD and its HEALTHCHECK command are run here either way. The systemd unit is checked by
`systemd-analyze verify` (skipped when the tool is missing) and its ExecStart is run here, stopped by
its KillSignal."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from service_helpers import Server, stop

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "service"


def _start(argv: list[str]) -> Server:
    """Start a command line of the examples with the test's interpreter and a free loopback port."""
    import service_helpers

    args = argv[1:]
    for flag, value in (("--port", "0"), ("--host", "127.0.0.1")):  # loopback only, any free port
        if flag in args:
            args[args.index(flag) + 1] = value
    packages = [a for a in args if not a.startswith("-") and args[args.index(a) - 1] not in ("--port", "--host", "--grace")]
    options = [a for a in args if a not in packages and a not in ("--port", "0")]
    return service_helpers.start([Path(p) for p in packages], *options)


def _dockerfile_json(instruction: str) -> list[str]:
    text = (EXAMPLES / "Dockerfile").read_text().replace("\\\n", " ")
    found = re.search(rf"^{instruction}\s+(.*\[.*\])\s*$", text, re.M)
    assert found, instruction
    return json.loads(found.group(1)[found.group(1).index("["):])


def test_dockerfile_command_and_healthcheck_work(strict_package):
    argv = _dockerfile_json("ENTRYPOINT") + _dockerfile_json("CMD")
    assert argv[0] == "edgepack-serve" and argv[-1] == "/srv/models/model"
    server = _start([*argv[:-1], str(strict_package.path)])
    try:
        assert server.port, server.log
        health = _dockerfile_json("HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \\s*CMD")
        check = [sys.executable if a == "python" else a.replace(":8700/", f":{server.port}/") for a in health]
        assert subprocess.run(check, capture_output=True, timeout=30).returncode == 0
    finally:
        code, log = stop(server)
    assert code == 0, log


def test_dockerfile_builds(strict_package):
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker is not installed")
    info = subprocess.run([docker, "info"], capture_output=True, text=True, timeout=60)
    if info.returncode != 0:
        pytest.skip(f"no docker engine answers here: {(info.stderr or info.stdout).strip().splitlines()[-1]}")
    base = re.search(r"^FROM\s+(\S+)", (EXAMPLES / "Dockerfile").read_text(), re.M).group(1)  # type: ignore[union-attr]
    if subprocess.run([docker, "image", "inspect", base], capture_output=True, timeout=60).returncode != 0:
        pulled = subprocess.run([docker, "pull", base], capture_output=True, text=True, timeout=900)
        if pulled.returncode != 0:  # no registry reachable: the build cannot start, which says nothing of ours
            pytest.skip(f"the base image {base} is not here and cannot be pulled: {pulled.stderr.strip()[-300:]}")
    context_package = ROOT / "build" / "test-service" / "package"
    shutil.rmtree(context_package, ignore_errors=True)
    shutil.copytree(strict_package.path, context_package)
    result = subprocess.run([docker, "build", "-f", str(EXAMPLES / "Dockerfile"), "--build-arg",
                             "PACKAGE=build/test-service/package", "-t", "edgepack-serve-test", str(ROOT)],
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]


def _unit_for(strict_package, tmp_path: Path) -> tuple[Path, list[str]]:
    """The example unit with its executable and package pointed at this machine's."""
    text = (EXAMPLES / "edgepack-serve.service").read_text()
    exec_start = re.search(r"^ExecStart=(.*)$", text, re.M).group(1)  # type: ignore[union-attr]
    argv = shlex.split(exec_start)
    serve = shutil.which("edgepack-serve", path=str(Path(sys.executable).parent)) or argv[0]
    argv = [serve, str(strict_package.path), *argv[2:]]
    unit = tmp_path / "edgepack-serve.service"
    unit.write_text(text.replace(exec_start, shlex.join(argv)))
    return unit, argv


def test_systemd_unit_verifies_and_its_command_starts(strict_package, tmp_path):
    unit, argv = _unit_for(strict_package, tmp_path)
    assert "KillSignal=SIGTERM" in unit.read_text()
    analyze = shutil.which("systemd-analyze")
    if analyze is not None:
        result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "edgepack-serve.service" not in result.stderr, result.stderr  # no warning about our unit
    server = _start(argv)
    code, log = stop(server)  # SIGTERM, the unit's KillSignal
    assert server.port and code == 0 and "stopped" in log, log
    if analyze is None:
        pytest.skip("systemd-analyze is not installed: the unit's syntax was not verified (its command was run)")
