"""Run `edgepack-serve` as a real process on a free loopback port (--port 0, the port read from its
start-up line) and talk to it over HTTP with the standard library."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVE = [sys.executable, "-m", "edgepack.runtime.service.cli"]
PREDICT = "/v1/models/strict/predict"


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int
    log: list[str]

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        try:
            conn.request(method, path, body=data, headers=headers or {})
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def json(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        status, _, data = self.request(method, path, body, **kw)
        return status, json.loads(data)

    def metrics(self) -> str:
        return self.request("GET", "/metrics")[2].decode()


def start(packages: list[Path], *args: str, wait_ready: bool = True, timeout: float = 60) -> Server:
    process = subprocess.Popen([*SERVE, *map(str, packages), "--port", "0", *args], stderr=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, text=True)
    assert process.stderr is not None
    log: list[str] = []
    port = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        log.append(line)
        found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if found:
            port = int(found.group(1))
            if not wait_ready:
                break
        if "ready:" in line:
            break
    return Server(process, port, log)


def stop(server: Server, timeout: float = 30) -> tuple[int, str]:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
    try:
        _, rest = server.process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        server.process.kill()
        _, rest = server.process.communicate()
    return server.process.returncode, "".join(server.log) + (rest or "")


@contextmanager
def serving(packages: list[Path], *args: str) -> Iterator[Server]:
    server = start(packages, *args)
    try:
        assert server.port, "".join(server.log)
        yield server
    finally:
        code, log = stop(server)
        assert code == 0, log


def another_version(package: Path, root: Path, version: str, *, break_golden: bool = False) -> Path:
    """A copy of `package` as another version of the same model (same artifact). With `break_golden`,
    the golden outputs are shifted (and their checksum updated), so the package is whole but fails its
    self-test."""
    out = root / f"v{version}"
    shutil.copytree(package, out)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["model"]["version"] = version
    if break_golden:
        from edgepack.runtime.package import sha256_bytes

        golden_path = out / manifest["golden"]["file"]
        golden = json.loads(golden_path.read_text())
        golden["outputs"]["probabilities"] = [[1.0 - p for p in row] for row in golden["outputs"]["probabilities"]]
        data = json.dumps(golden).encode()
        golden_path.write_bytes(data)
        manifest["golden"]["sha256"] = sha256_bytes(data)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return out


def bad_records(good: dict) -> dict[str, tuple[object, str | None, str]]:
    """Bad records with the field and words of the reason edgepack-score gives. (A field the model does not
    use is not bad: it is ignored by default, as everywhere; docs/cli.md, "Records".)"""
    missing = dict(good)
    del missing["support_calls"]
    return {
        "missing": (missing, "support_calls", "missing field"),
        "text": ({**good, "monthly_charges": "seventy"}, "monthly_charges", "expected a number, got str"),
        "category": ({**good, "contract": "weekly"}, "contract", "unknown category 'weekly'"),
        "null": ({**good, "tenure_months": None}, "tenure_months", "missing value"),
        "fraction": ({**good, "tenure_months": 3.5}, "tenure_months", "expected an integer"),
        "not an object": (5, None, "must be a JSON object"),
    }
