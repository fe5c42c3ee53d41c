"""The HTTP server behind `edgepack serve`: the package's files and web/'s demo app, nothing else.

URL layout (read-only, GET/HEAD):
    /                     web/app/index.html (the demo page)
    /app/...              web/app/
    /lib/...              web/src/ (the edgepack-web library)
    /vendor/PKG/dist/...  the dist/ folder of the npm packages the page runs (onnxruntime-web, TF.js):
                          every script and .wasm file comes from here, never from a CDN
    /package/...          only the files the page reads: manifest.json, signatures.json, the golden vectors and each
                          artifact's files as the manifest lists them, read through edgepack.runtime.Package
                          (a directory or a .edgepack zip). Anything else in the package folder (.env,
                          .git/config, the model's .joblib) is 404.

Every path segment is checked after percent-decoding: '.', '..', empty segments, backslashes, NUL and
drive letters are refused, and files outside their root (symlinks included) are not served.

A web page the user visits elsewhere may point a DNS name at 127.0.0.1 (DNS rebinding) and read this
server as same-origin: every request must carry a Host header that is an IP address, `localhost` or a name
given with `allowed_hosts` (`--allow-host`), else 421. Idle connections are closed after
`idle_timeout` seconds, and at most `max_connections` are served at once (more are closed at once).
"""

from __future__ import annotations

import ipaddress
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..runtime.errors import PackageError, UsageError
from ..runtime.package import MANIFEST, Package
from ..runtime.signing import SIGNATURES

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
# npm packages whose dist/ folder the page may load (see the import map in web/app/index.html).
VENDOR = (
    "onnxruntime-web",
    "@tensorflow/tfjs-core",
    "@tensorflow/tfjs-converter",
    "@tensorflow/tfjs-backend-cpu",
    "@tensorflow/tfjs-backend-wasm",
    "@tensorflow/tfjs-backend-webgl",
)
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".csv": "text/csv; charset=utf-8",
}


def check_web_dir(web: Path) -> None:
    """Refuse to start without the app or its npm packages, saying how to get them."""
    if not (web / "app" / "index.html").is_file():
        raise UsageError(f"no demo app at {web / 'app'}", fix="run edgepack serve from an edgepack source checkout, or pass --web")
    missing = [name for name in VENDOR if not (web / "node_modules" / name / "dist").is_dir()]
    if missing:
        raise UsageError(f"the page's npm packages are not installed: {', '.join(missing)}",
                         where=str(web / "node_modules"), fix="run `make web` (npm ci in web/)")


def url_segments(raw_path: str) -> list[str] | None:
    """The decoded segments of a request path, or None when the path is unsafe."""
    path = unquote(urlsplit(raw_path).path)
    if not path.startswith("/") or "\\" in path or "\x00" in path:
        return None
    segments = path.split("/")[1:]
    if segments == [""]:
        return []
    if any(s in ("", ".", "..") or ":" in s for s in segments):
        return None
    return segments


def _file_under(root: Path, segments: list[str]) -> Path | None:
    root = root.resolve()
    path = root.joinpath(*segments).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


def page_files(package: Package) -> frozenset[str]:
    """The package files the page (or edgepack-web with a trust set) reads: the manifest, its signatures,
    the golden vectors, every artifact's files."""
    manifest = package.manifest
    names = {MANIFEST, SIGNATURES, manifest["golden"]["file"]}
    for art in manifest["artifacts"]:
        names.add(art["file"])
        names.update(part["file"] for part in art.get("files", []))
    return frozenset("/".join(p for p in name.replace("\\", "/").split("/") if p not in ("", ".")) for name in names)


def host_allowed(header: str | None, allowed: frozenset[str] = frozenset()) -> bool:
    """A Host header this server answers: an IP address or `localhost` (with any port), or a name the user
    allowed. A DNS name pointed at this machine by someone else's page is refused (DNS rebinding)."""
    if not header:
        return False
    host = header.strip().lower()
    if host.startswith("["):  # [::1]:8765
        host = host[1:host.find("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    if host in ("localhost", *allowed):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# An idle connection is dropped after this many seconds; at most MAX_CONNECTIONS are served at once.
IDLE_TIMEOUT = 10.0
MAX_CONNECTIONS = 32


class AppServer(ThreadingHTTPServer):
    """Serves one package and the demo app. `url` is where the page is."""

    daemon_threads = True

    def __init__(self, package: Package, host: str = "127.0.0.1", port: int = 0, web: Path = WEB_DIR,
                 log: bool = False, allowed_hosts: tuple[str, ...] = (), idle_timeout: float = IDLE_TIMEOUT,
                 max_connections: int = MAX_CONNECTIONS) -> None:
        check_web_dir(web)
        self.package = package
        self.files = page_files(package)
        self.web = web
        self.log = log
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self.idle_timeout = idle_timeout
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__((host, port), _Handler)

    def process_request(self, request, client_address) -> None:  # type: ignore[no-untyped-def]  # socketserver API
        if not self._slots.acquire(blocking=False):  # full: close at once rather than queue a thread
            self.shutdown_request(request)
            return
        request.settimeout(self.idle_timeout)
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        return f"http://{shown}:{port}/"

    def resolve(self, segments: list[str]) -> bytes | Path | None:
        """Bytes (package files), a Path (app, library, vendor files) or None (not served)."""
        if not segments or segments == ["index.html"]:
            return _file_under(self.web / "app", ["index.html"])
        head, rest = segments[0], segments[1:]
        if head == "app":
            return _file_under(self.web / "app", rest)
        if head == "lib":
            return _file_under(self.web / "src", rest)
        if head == "vendor":
            for name in VENDOR:
                parts = name.split("/")
                if rest[: len(parts)] == parts and rest[len(parts): len(parts) + 1] == ["dist"]:
                    return _file_under(self.web / "node_modules" / name / "dist", rest[len(parts) + 1:])
            return None
        if head == "package" and "/".join(rest) in self.files:
            try:
                return self.package.read_file("/".join(rest))
            except PackageError:
                return None
        return None

    def serve_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="edgepack-serve", daemon=True)
        thread.start()
        return thread


class _Handler(BaseHTTPRequestHandler):
    server: AppServer
    server_version = "edgepack-serve"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        self._respond(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._respond(body=False)

    def _respond(self, body: bool) -> None:
        if not host_allowed(self.headers.get("Host"), self.server.allowed_hosts):
            self._error(HTTPStatus.MISDIRECTED_REQUEST, "unexpected Host header (see edgepack serve --allow-host)")
            return
        segments = url_segments(self.path)
        if segments is None:
            self._error(HTTPStatus.BAD_REQUEST, "unsafe path")
            return
        found = self.server.resolve(segments)
        if found is None:
            self._error(HTTPStatus.NOT_FOUND, "not found")
            return
        if isinstance(found, Path):
            data, suffix = found.read_bytes(), found.suffix
        else:
            data, suffix = found, Path(segments[-1]).suffix
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", CONTENT_TYPES.get(suffix, "application/octet-stream"))
        self.send_header("Content-Length", str(len(data)))
        # A package rebuilt or altered on disk must be fetched (and verified) anew, never from a cache.
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _error(self, status: HTTPStatus, text: str) -> None:
        payload = f"{status.value} {text}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the http.server API)
        if self.server.log:
            super().log_message(format, *args)
