"""Benchmark edgepack-serve under load against baselines measured in the same run.

    python benchmarks/service.py [--churn build/churn] [--runs 3] [--seconds 8] [--rates 500,1000,2000]
                                 [--connections 32] [--json build/bench/service.json]

Servers (each its own process, one at a time, in turn within each run so they share the machine's state):
  edgepack-serve          this runtime's service (standard-library asyncio, micro-batching)
  edgepack on uvicorn     the same routes and batcher behind uvicorn + httptools (the transport choice)
  FastAPI + scikit-learn  the joblib pipeline behind a hand-written FastAPI endpoint (baseline)
  FastAPI + onnxruntime   the package's ONNX artifact behind a minimal FastAPI endpoint (baseline)
(benchmarks/service_baselines.py holds the last three.)

Load, one churn record per request on keep-alive connections, from another process:
  fixed rates   benchmarks/loadgen.py, open loop: latency counted from each request's due time
  saturation    wrk (Debian's; `make bench-service` installs it when missing), closed loop, --connections
Figures: p50 / p99 / p99.9 latency (ms), throughput (requests/s) and the server process's CPU time per
answered request (from /proc; steadier than latency when other work shares the cores), medians over --runs.
Targets (issue 23): at 1,000 requests/s p99 <= 2 ms and <= 1/5 of FastAPI + scikit-learn's p99;
saturation throughput >= 3x FastAPI + scikit-learn's.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
PY = sys.executable
SERVERS = ("edgepack-serve", "edgepack on uvicorn", "FastAPI + scikit-learn", "FastAPI + onnxruntime")
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = [[%s]]
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  io.write(string.format('{"p50_ms": %%.4f, "p99_ms": %%.4f, "p999_ms": %%.4f, "requests": %%d, "seconds": %%.4f, "failures": %%d}\\n',
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    summary.requests, summary.duration / 1e6,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def first_record(churn: Path, package: Path) -> dict[str, Any]:
    """The holdout's first row, typed as the manifest declares (JSON numbers and strings)."""
    features = json.loads((package / "manifest.json").read_text())["inputs"]["features"]
    with open(churn / "holdout.csv", newline="") as handle:
        row = next(csv.DictReader(handle))
    kinds = {"int": lambda v: int(float(v)), "bool": lambda v: int(float(v)), "float": float, "category": str}
    return {f["name"]: kinds[f["type"]](row[f["name"]]) for f in features}


def command(server: str, churn: Path, port: int) -> tuple[list[str], str]:
    package = str(churn / "package")
    serve = shutil.which("edgepack-serve", path=str(Path(PY).parent)) or "edgepack-serve"
    baselines = [PY, str(BENCH / "service_baselines.py")]
    return {
        "edgepack-serve": ([serve, package, "--port", str(port), "--quiet"], "/v1/models/churn/predict"),
        "edgepack on uvicorn": ([*baselines, "asgi", "--package", package, "--port", str(port)], "/v1/models/churn/predict"),
        "FastAPI + scikit-learn": ([*baselines, "sklearn", "--package", package, "--model", str(churn / "churn.joblib"),
                                    "--port", str(port)], "/predict"),
        "FastAPI + onnxruntime": ([*baselines, "onnx", "--package", package, "--port", str(port)], "/predict"),
    }[server]


def wait_answering(port: int, path: str, body: bytes, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"no answer on port {port} within {timeout} s")


def at_rate(port: int, path: str, body_file: str, rate: float, seconds: float, connections: int) -> dict[str, Any]:
    out = subprocess.run([PY, str(BENCH / "loadgen.py"), "--port", str(port), "--path", path, "--body-file", body_file,
                          "--rate", str(rate), "--seconds", str(seconds), "--connections", str(connections)],
                         capture_output=True, text=True, timeout=seconds * 20 + 60, check=True)
    return json.loads(out.stdout)


def saturated(port: int, path: str, script: str, seconds: float, connections: int) -> dict[str, Any]:
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "-s", script,
                          f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, timeout=seconds + 60, check=True)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures["throughput"] = figures["requests"] / figures["seconds"]
    return figures


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def with_cpu(pid: int, run: Any) -> dict[str, Any]:
    """`run()`'s figures plus the server's CPU microseconds per answered request: on a machine shared with
    other work, CPU time per request varies far less than wall-clock latency."""
    before = cpu_seconds(pid)
    figures = run()
    answered = figures["requests"] - figures.get("failures", 0)
    figures["cpu_us"] = (cpu_seconds(pid) - before) / max(answered, 1) * 1e6
    return figures


def measure(server: str, args: argparse.Namespace, body: bytes, body_file: str, script: str) -> dict[str, Any]:
    port = free_port()
    argv, path = command(server, args.churn, port)
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pid = process.pid
    try:
        wait_answering(port, path, body)
        at_rate(port, path, body_file, 500, 1.0, args.connections)  # warm-up
        result = {f"rate {r:g}": with_cpu(pid, lambda r=r: at_rate(port, path, body_file, r, args.seconds, args.connections))
                  for r in args.rates}
        result["saturation"] = with_cpu(pid, lambda: saturated(port, path, script, args.seconds, args.connections))
        return result
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in runs[0]:
        out[mode] = {k: statistics.median(r[mode][k] for r in runs) for k in ("p50_ms", "p99_ms", "p999_ms", "throughput", "cpu_us")}
        out[mode]["failures"] = max(r[mode].get("failures", 0) for r in runs)
    return out


def table(results: dict[str, dict[str, Any]]) -> str:
    lines = ["| server | load | p50 ms | p99 ms | p99.9 ms | requests/s | server CPU µs/request | failed |",
             "|---|---|--:|--:|--:|--:|--:|--:|"]
    for server, modes in results.items():
        for mode, f in modes.items():
            lines.append(f"| {server} | {mode} | {f['p50_ms']:.2f} | {f['p99_ms']:.2f} | {f['p999_ms']:.2f} | "
                         f"{f['throughput']:,.0f} | {f['cpu_us']:.0f} | {f['failures']} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--churn", type=Path, default=ROOT / "build" / "churn",
                        help="folder with churn.joblib, holdout.csv and package/ (make bench builds it)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rates", default="500,1000,2000", help="fixed request rates, comma-separated")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--servers", default=",".join(SERVERS), help="comma-separated subset of the servers")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    args.rates = [float(r) for r in args.rates.split(",")]
    servers = [s.strip() for s in args.servers.split(",")]
    if shutil.which("wrk") is None:
        parser.error("wrk is missing: `make bench-service` installs it (apt-get install wrk)")
    record = first_record(args.churn, args.churn / "package")
    body = json.dumps(record).encode()
    runs: dict[str, list[dict[str, Any]]] = {s: [] for s in servers}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        body_file = os.path.join(tmp, "record.json")
        Path(body_file).write_bytes(body)
        script = os.path.join(tmp, "post.lua")
        Path(script).write_text(WRK_SCRIPT % body.decode())
        for run in range(args.runs):
            for server in servers:
                print(f"run {run + 1}/{args.runs}: {server}", file=sys.stderr, flush=True)
                runs[server].append(measure(server, args, body, body_file, script))
    results = {s: medians(r) for s, r in runs.items()}
    load = {"before": load_before, "after": os.getloadavg(), "cores": os.cpu_count()}
    print(f"load average before {load_before[0]:.1f}, after {load['after'][0]:.1f} on {os.cpu_count()} cores "
          "(other processes on the machine share them)")
    print(table(results))
    ours, base = results.get("edgepack-serve"), results.get("FastAPI + scikit-learn")
    if ours and base:
        for mode in ours:
            print(f"{mode}: p99 {base[mode]['p99_ms'] / ours[mode]['p99_ms']:.1f}x lower, throughput "
                  f"{ours[mode]['throughput'] / base[mode]['throughput']:.2f}x FastAPI + scikit-learn")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"runs": runs, "medians": results, "record": record, "load": load,
                                         "settings": {k: str(v) for k, v in vars(args).items()}}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
