"""An asyncio HTTP/1.1 load generator (standard library only), run in its own process by
benchmarks/service.py; tests/service/ uses `exchange` to send many requests and read every answer.

Fixed rate (open loop): request i is due at start + i / rate whatever the server does, and goes out on
a pool of keep-alive connections; a server that falls behind is charged for the wait it causes (no
coordinated omission), the client's own timer lateness is reported apart.

    python benchmarks/loadgen.py --port 8700 --path /v1/models/churn/predict --body-file r.json \
        --rate 1000 --seconds 10 --connections 32            # -> one JSON line of figures on stdout
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any


class Connection:
    """One keep-alive connection; `send` writes a request and reads its whole answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, host)

    async def send(self, method: str, path: str, body: bytes, content_type: str = "application/json") -> tuple[int, bytes]:
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        self.writer.write(head + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def exchange(host: str, port: int, requests: list[tuple[str, bytes]], connections: int = 16,
                   on_progress: Any = None) -> list[tuple[int, bytes]]:
    """Send every (path, body) as a POST, `connections` at a time; the answers in request order.
    `on_progress(i)` is awaited after answer i (e.g. to switch versions mid-load)."""
    answers: list[tuple[int, bytes] | None] = [None] * len(requests)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(requests)):
        queue.put_nowait(i)

    async def worker() -> None:
        conn = await Connection.open(host, port)
        try:
            while not queue.empty():
                i = queue.get_nowait()
                path, body = requests[i]
                answers[i] = await conn.send("POST", path, body)
                if on_progress is not None:
                    await on_progress(i)
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return [a if a is not None else (0, b"") for a in answers]


async def fixed_rate(host: str, port: int, path: str, body: bytes, rate: float, seconds: float,
                     connections: int) -> dict[str, Any]:
    """Open-loop load at `rate` requests/s for `seconds`.

    A request's latency runs from its dispatch (its due time, or when this client's loop got to it: the
    client's own lateness is reported apart as `client_lag_p99_ms`, not charged to the server) through
    the wait for a free connection (a slow server keeps them busy) to its whole answer. Requests still
    unanswered `seconds` + 10 s after the start count as failed, with that wait as their latency."""
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await Connection.open(host, port))
    latencies: list[float] = []
    lags: list[float] = []
    failures = 0
    total = int(rate * seconds)
    tasks = []

    async def one(due: float) -> None:
        nonlocal failures
        dispatched = time.perf_counter()
        lags.append(dispatched - due)
        conn = await pool.get()
        try:
            status, _ = await conn.send("POST", path, body)
            if status != 200:
                failures += 1
        except (OSError, asyncio.IncompleteReadError):
            failures += 1
            conn = await Connection.open(host, port)
        latencies.append(time.perf_counter() - dispatched)
        pool.put_nowait(conn)

    start = time.perf_counter() + 0.05
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(due)))
    cutoff = start + seconds + 10.0
    _, pending = await asyncio.wait(tasks, timeout=max(0.0, cutoff - time.perf_counter()))
    for task in pending:
        task.cancel()
    failures += len(pending)
    latencies += [time.perf_counter() - start - seconds] * len(pending)
    answered = total - len(pending)
    elapsed = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait().close()
    return {"mode": "rate", "rate": rate, "requests": total, "failures": failures,
            "throughput": answered / elapsed, "client_lag_p99_ms": percentiles(lags).get("p99_ms", 0.0),
            **percentiles(latencies)}


def percentiles(latencies: list[float]) -> dict[str, float]:
    """p50, p99 and p99.9 in milliseconds (nearest rank)."""
    ordered = sorted(latencies)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))] * 1000.0

    return {"p50_ms": rank(0.50), "p99_ms": rank(0.99), "p999_ms": rank(0.999)} if ordered else {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--body-file", required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if not args.host.startswith("127.") and args.host not in ("localhost", "::1"):
        parser.error("the load generator drives loopback addresses only")
    with open(args.body_file, "rb") as handle:
        body = handle.read()
    result = asyncio.run(fixed_rate(args.host, args.port, args.path, body, args.rate, args.seconds, args.connections))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
