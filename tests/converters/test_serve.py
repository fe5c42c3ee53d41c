"""`edgepack serve`: the package's files and the web app, nothing else; loopback by default."""

from __future__ import annotations

import http.client
import subprocess
import sys

import pytest
from edgepack.runtime.package import Package
from edgepack.toolchain.web_app import AppServer, url_segments


@pytest.fixture(scope="module")
def server(built_packages):
    _, path = built_packages("logreg_binary")
    app = AppServer(Package.open(path))
    app.serve_in_thread()
    yield app
    app.shutdown()
    app.server_close()


def get(server: AppServer, raw_path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """Send the path byte for byte (no client-side normalisation of '..' or '%2e')."""
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.putrequest(method, raw_path, skip_host=False, skip_accept_encoding=True)
    conn.endheaders()
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, dict(response.getheaders()), body


def test_binds_loopback_by_default(server):
    assert server.server_address[0] == "127.0.0.1"
    assert server.url.startswith("http://127.0.0.1:")


def test_page_package_library_and_runtime_files_are_served(server):
    status, headers, body = get(server, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b'"onnxruntime-web": "/vendor/onnxruntime-web/dist/' in body  # the import map: no CDN
    assert b"https://" not in body
    status, headers, body = get(server, "/package/manifest.json")
    assert status == 200 and b'"format": "edgepack"' in body
    assert headers["Cache-Control"] == "no-store"
    assert get(server, "/package/model.onnx")[0] == 200
    assert get(server, "/lib/index.js")[0] == 200
    status, headers, _ = get(server, "/vendor/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm")
    assert status == 200 and headers["Content-Type"] == "application/wasm"
    status, headers, _ = get(server, "/vendor/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm", "HEAD")
    assert status == 200 and headers["Content-Type"] == "application/wasm"


@pytest.mark.parametrize("path", [
    "/package/../pyproject.toml",
    "/package/../../../../etc/passwd",
    "/package/%2e%2e/%2e%2e/etc/passwd",
    "/package/%2E%2E%2Fmanifest.json",
    "/app/..%2f..%2fpyproject.toml",
    "/lib/%2e%2e/%2e%2e/pyproject.toml",
    "/vendor/onnxruntime-web/dist/../package.json",
    "/package//etc/passwd",
    "/package/%2Fetc%2Fpasswd",
    "//etc/passwd",
    "/package/C:%5Cwindows%5Cwin.ini",
    "/package/.%00./x",
    "/app/./index.html",
])
def test_path_traversal_is_refused(server, path):
    status, _, body = get(server, path)
    assert status in (400, 404), (path, status)
    assert b"root:" not in body and b"[project]" not in body


@pytest.mark.parametrize("path", [
    "/etc/passwd",
    "/vendor/onnxruntime-web/package.json",  # outside dist/
    "/vendor/left-pad/dist/index.js",  # not a package the page needs
    "/package/no-such-file",
    "/src/index.js",
    "/node_modules/onnxruntime-web/package.json",
])
def test_only_known_files_are_served(server, path):
    assert get(server, path)[0] == 404


def test_no_directory_listing(server):
    assert get(server, "/package/")[0] == 400
    assert get(server, "/app/")[0] == 400


def test_url_segments():
    assert url_segments("/") == []
    assert url_segments("/package/tfjs/tfjs/model.json?x=1") == ["package", "tfjs", "tfjs", "model.json"]
    assert url_segments("/a/%2e%2e/b") is None
    assert url_segments("/a%5Cb") is None


def test_cli_prints_the_url_and_refuses_a_bad_port(built_packages):
    _, path = built_packages("logreg_binary")
    proc = subprocess.Popen([sys.executable, "-m", "edgepack.toolchain.cli", "serve", str(path), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving logreg_binary 1 at http://127.0.0.1:")
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    bad = subprocess.run([sys.executable, "-m", "edgepack.toolchain.cli", "serve", str(path), "--port", "70000"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "not a port number" in bad.stderr and "Traceback" not in bad.stderr


@pytest.fixture()
def cluttered(built_packages, tmp_path):
    """A package folder holding what a user's folder holds besides the package: secrets, git, the model."""
    import shutil

    _, src = built_packages("logreg_binary")
    folder = shutil.copytree(src, tmp_path / "package")
    (folder / ".env").write_text("API_KEY=secret\n")
    (folder / ".git").mkdir()
    (folder / ".git" / "config").write_text("[remote]\n")
    (folder / "churn.joblib").write_bytes(b"pickle")
    app = AppServer(Package.open(folder), idle_timeout=1.0, max_connections=4)
    app.serve_in_thread()
    yield app
    app.shutdown()
    app.server_close()


@pytest.mark.parametrize("path", ["/package/.env", "/package/.git/config", "/package/churn.joblib"])
def test_only_the_files_the_page_reads_are_served(cluttered, path):
    status, _, body = get(cluttered, path)
    assert status in (400, 404) and b"secret" not in body and b"pickle" not in body
    for listed in ("manifest.json", "golden.json", "model.onnx"):
        assert get(cluttered, f"/package/{listed}")[0] == 200


def _request(server: AppServer, host_header: str | None) -> int:
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.putrequest("GET", "/package/manifest.json", skip_host=True)
    if host_header is not None:
        conn.putheader("Host", host_header)
    conn.endheaders()
    status = conn.getresponse().status
    conn.close()
    return status


def test_host_header_is_checked_against_dns_rebinding(cluttered):
    port = cluttered.server_address[1]
    for ok in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"[::1]:{port}"):
        assert _request(cluttered, ok) == 200, ok
    for bad in (f"attacker.example:{port}", "rebind.example", None, ""):
        assert _request(cluttered, bad) == 421, bad


def test_allowed_host_names_are_answered(built_packages):
    from edgepack.toolchain.web_app import host_allowed

    assert host_allowed("my-box.lan:8765", frozenset({"my-box.lan"}))
    assert not host_allowed("my-box.lan.attacker.example:8765", frozenset({"my-box.lan"}))


def test_idle_connections_are_closed_and_threads_bounded(cluttered):
    import socket
    import threading

    host, port = cluttered.server_address[:2]
    before = threading.active_count()
    idle = [socket.create_connection((host, port), timeout=30) for _ in range(12)]
    try:
        import time

        deadline = time.monotonic() + 10  # let the server accept them all (a wait, not a timed assertion)
        while cluttered._slots._value and time.monotonic() < deadline:  # type: ignore[attr-defined]
            time.sleep(0.01)
        # at most max_connections (4) handler threads, however many connections wait
        assert threading.active_count() <= before + 4
        # each connection ends: refused at once when full, else closed once idle past the timeout
        for sock in idle:
            assert sock.recv(1) == b""
        assert _request(cluttered, f"127.0.0.1:{port}") == 200  # the slots came back
    finally:
        for sock in idle:
            sock.close()
