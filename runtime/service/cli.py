"""`edgepack-serve PKG [PKG...] --port N`: score over HTTP with edge packages (numpy + onnxruntime only).

Start-up: the socket is bound first (/healthz answers at once, /readyz says "loading"), then each package
is opened, checksum-verified, loaded and self-tested in a worker thread; /readyz turns ready only when
every one passed. SIGTERM or SIGINT: stop accepting, finish the requests in flight, exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from .. import __version__
from ..cli import _HelpFormatter
from ..errors import EXIT_OK, EdgepackError, UsageError
from ..versions import load_verified
from .app import Service
from .http import HttpServer, Limits
from .metrics import Metrics
from .scoring import LoadedVersion

PROG = "edgepack-serve"

EXIT_CODES = """exit codes:
  0  stopped by SIGTERM or SIGINT after finishing the requests in flight
  1  a package failed its self-test at start-up (nothing is served)
  2  usage error (bad arguments, the address is taken, two packages with the same name and version)
  4  a package is invalid (checksum mismatch, unknown format version, missing artifact)
"""

EXAMPLES = """examples:
  # serve two versions of a model; the first given goes live, the other stays loaded
  edgepack-serve churn-v1.edgepack churn-v2.edgepack --port 8700
  curl -s localhost:8700/v1/models/churn/predict -d '{"tenure_months": 3, "contract": "monthly", ...}'
  # -> {"label": 1, "probabilities": {"0": 0.31, "1": 0.69}, "package": "churn", "version": "1"}
  # a list, JSON lines or CSV with a header scores many records in one request
  curl -s localhost:8700/v1/models/churn/predict -H 'Content-Type: text/csv' --data-binary @batch.csv
  # canary: 10 % of requests to version 2; then all of it; roll back at once
  curl -s localhost:8700/v1/models/churn/switch -d '{"live": "1", "canary": "2", "percent": 10}'
  curl -s localhost:8700/v1/models/churn/switch -d '{"live": "2"}'
  # shadow: version 2 scores every request without answering; agreement in /metrics
  curl -s localhost:8700/v1/models/churn/switch -d '{"live": "1", "shadow": "2"}'

endpoints:  POST /v1/models/NAME/predict, POST /v1/models/NAME/switch, GET /v1/models[/NAME],
            GET /healthz (alive), GET /readyz (every package loaded and self-tested), GET /metrics
a rejected record is answered 422: {"record": 0, "field": "tenure_months",
            "reason": "expected a number, got str 'x'", "package": "churn", "version": "1"}
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, formatter_class=_HelpFormatter,
        description="Score records over HTTP with edge packages: the same validation, reasons and output\n"
                    "lines as edgepack-score. Binds 127.0.0.1 unless --host says otherwise.",
        epilog=EXAMPLES + "\n" + EXIT_CODES)
    parser.add_argument("packages", nargs="+", metavar="PKG", help="package directories or .edgepack files")
    parser.add_argument("--port", type=int, default=8700, help="TCP port (default 8700; 0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1; 0.0.0.0 exposes the service to the network)")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--trust", metavar="KEY.pub|DIR", help="serve only packages signed by this public key (or any "
                        "key in DIR): an unsigned or wrongly signed package is refused, exit 4 (docs/signing.md)")
    limits = parser.add_argument_group("limits")
    limits.add_argument("--max-body", type=int, default=1 << 20, metavar="BYTES",
                        help="largest request body (default 1 MiB; larger is answered 413)")
    limits.add_argument("--request-timeout", type=float, default=10.0, metavar="S",
                        help="seconds to receive a whole request (default 10; slower is answered 408)")
    limits.add_argument("--idle-timeout", type=float, default=60.0, metavar="S",
                        help="seconds an idle keep-alive connection stays open (default 60)")
    limits.add_argument("--max-connections", type=int, default=512, metavar="N",
                        help="open connections at once (default 512; more are answered 503)")
    batching = parser.add_argument_group("micro-batching")
    batching.add_argument("--batch-wait-ms", type=float, default=0.0, metavar="MS",
                          help="under load, wait up to MS for more requests to join a batch (default 0: "
                               "only the requests that arrived while the previous batch ran)")
    batching.add_argument("--max-batch", type=int, default=4096, metavar="N", help="records per batch (default 4096)")
    parser.add_argument("--no-switch", action="store_true",
                        help="refuse POST .../switch (403): versions change only by a restart. Without it, any "
                             "client that reaches the port can switch, so keep the port on loopback or behind a proxy")
    parser.add_argument("--grace", type=float, default=10.0, metavar="S",
                        help="on SIGTERM, seconds to finish requests in flight (default 10)")
    parser.add_argument("--quiet", action="store_true", help="no start-up and shutdown lines on stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the service until SIGTERM/SIGINT; returns the exit code (see EXIT_CODES)."""
    parser = _parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be within 0 and 65535, got {args.port}")
    if args.max_body < 1 or args.max_connections < 1 or args.max_batch < 1 or args.batch_wait_ms < 0:
        parser.error("--max-body, --max-connections and --max-batch must be positive, --batch-wait-ms >= 0")
    try:
        code = asyncio.run(_serve(args))
        # The loop's signal handlers went with it: a second SIGTERM during the interpreter's teardown (a
        # supervisor repeating itself) must not turn a clean, drained stop into death by signal.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        return code
    except EdgepackError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return 130


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(f"{PROG}: {text}", file=sys.stderr, flush=True)


def _load(path: str, trust: str | None = None) -> LoadedVersion:
    """Open, verify, load and self-test one package (runs in a worker thread)."""
    return LoadedVersion(load_verified(path, trust=trust), path)


async def _serve(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    metrics = Metrics()
    service = Service(metrics, max_wait=args.batch_wait_ms / 1000.0, max_batch=args.max_batch,
                      switching=not args.no_switch)
    limits = Limits(max_body=args.max_body, request_timeout=args.request_timeout, idle_timeout=args.idle_timeout,
                    max_connections=args.max_connections)
    server = HttpServer(service.handle, limits, on_refused=lambda code: metrics.http_errors.__setitem__(
        str(code), metrics.http_errors[str(code)] + 1))
    try:
        port = await server.start(args.host, args.port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
                         fix="choose another --port, or stop the process that holds it") from None
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    shown = f"[{args.host}]" if ":" in args.host else args.host  # an IPv6 address in a URL takes brackets
    _say(args, f"listening on http://{shown}:{port} (loading {len(args.packages)} package(s))")
    loading = asyncio.ensure_future(_load_all(loop, service, args.packages, args.trust))
    waiting = asyncio.ensure_future(stop.wait())
    await asyncio.wait({loading, waiting}, return_when=asyncio.FIRST_COMPLETED)
    if loading.done():
        failure = loading.exception()
        if failure is not None:
            waiting.cancel()
            await server.drain(0)
            raise failure
        service.ready = True
        names = ", ".join(f"{n} {v.route.live}" for n, v in service.models.items())
        _say(args, f"ready: {names}")
        await waiting
    else:
        loading.cancel()
    service.stopping = True
    _say(args, f"stopping: finishing requests in flight (at most {args.grace:g} s)")
    await server.drain(args.grace)
    _say(args, "stopped")
    return EXIT_OK


async def _load_all(loop: asyncio.AbstractEventLoop, service: Service, paths: list[str], trust: str | None) -> None:
    for path in paths:
        service.add(await loop.run_in_executor(None, _load, path, trust))


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
