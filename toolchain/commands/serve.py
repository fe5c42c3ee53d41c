"""Serve a package's demo page on this machine: a form generated from its input schema with live
predictions, a CSV drop zone scored in the page, and the artifact, backend and version shown.

Scoring happens in the browser (onnxruntime-web or TF.js, WebAssembly files served from here, no CDN);
the page verifies every artifact's sha256 before use and shows an error for an altered package.
Binds 127.0.0.1 unless --host says otherwise. Needs web/'s npm packages (`make web`).
Serves only what the page reads from the package (manifest.json, the golden vectors, the artifacts' files):
nothing else in the package folder. Answers only requests whose Host is an IP address or localhost (a page
elsewhere cannot reach it by DNS rebinding); --allow-host NAME adds a name. Idle connections are closed
after 10 s, and at most 32 are served at once.

example:
  edgepack serve build/churn/package --port 8765
  then open http://127.0.0.1:8765/  (add ?backend=tfjs-wasm or ?artifact=ID to choose)
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path

from ...runtime.errors import EXIT_OK, UsageError
from ...runtime.package import Package
from ..web_app import WEB_DIR, AppServer


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("package", type=Path, help="package directory or .edgepack file")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--web", type=Path, default=None, help="the web/ folder holding app/, src/ and node_modules/")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="also answer requests for this host name (repeatable; default: IP addresses and localhost)")
    p.add_argument("--log", action="store_true", help="log every request to stderr")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port} is not a port number", fix="use 1-65535, or 0 for a free port")
    package = Package.open(args.package)
    try:
        server = AppServer(package, args.host, args.port, web=args.web or WEB_DIR, log=args.log,
                           allowed_hosts=tuple(args.allow_host))
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
                         fix="choose another --port (0 picks a free one)") from exc
    if not _is_loopback(args.host):
        print(f"warning: listening on {args.host}: other machines can load this package (by IP address; "
              "add --allow-host NAME to be reached by a host name)", file=sys.stderr)
    # The first stdout line is the URL: the chromium parity runner reads it.
    print(f"serving {package.name} {package.version} at {server.url}", flush=True)
    print("press Ctrl-C to stop", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return EXIT_OK
