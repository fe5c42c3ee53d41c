"""A small HTTP/1.1 server on asyncio's protocol API: keep-alive, Content-Length bodies, and the limits a
service on a shared gateway needs (head and body size, time to receive a request, idle time, connection
count). No file serving, no chunked uploads, no TLS (put a proxy in front for those).

Why not an ASGI server: docs/DEPENDENCIES.md ("edgepack-serve") has the measurement; in short, on this
path the standard library is as fast as uvicorn + httptools and keeps the device install at numpy +
onnxruntime.

The application is one callable: `handle(request, respond) -> Response | None`; None means it will call
`respond(response)` later, on the loop (scoring). A connection handles its requests one at a time, in
order (pipelined requests wait in the buffer).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus

MAX_HEAD_BYTES = 16 * 1024
MAX_HEADERS = 100


@dataclass(frozen=True)
class Limits:
    max_body: int = 1 << 20  # bytes of one request body
    request_timeout: float = 10.0  # seconds to receive a whole request once its first byte arrived
    idle_timeout: float = 60.0  # seconds a keep-alive connection may wait for its next request
    max_connections: int = 512


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool
    received: float = field(default_factory=time.perf_counter)


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


_REASONS = {s.value: s.phrase for s in HTTPStatus}
Respond = Callable[[Response], None]
Handler = Callable[[Request, Respond], "Response | None"]


def encode(response: Response, keep_alive: bool) -> bytes:
    head = [f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Status')}",
            f"Content-Type: {response.content_type}", f"Content-Length: {len(response.body)}",
            "Connection: keep-alive" if keep_alive else "Connection: close"]
    head += [f"{k}: {v}" for k, v in response.headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body


def error_body(status: int, what: str) -> Response:
    text = what.replace("\\", "\\\\").replace('"', '\\"')
    return Response(status, f'{{"error": "{text}"}}'.encode())


class HttpServer:
    """Serves `handler` on one listening socket. `on_refused(status)` counts requests refused here."""

    def __init__(self, handler: Handler, limits: Limits, on_refused: Callable[[int], None] = lambda s: None) -> None:
        self.handler = handler
        self.limits = limits
        self.on_refused = on_refused
        self.connections: set[_Connection] = set()
        self.draining = False
        self._server: asyncio.AbstractServer | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the bound port (useful with port 0). Raises OSError when the address is taken."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), host, port, backlog=1024,
                                                reuse_address=True)
        return self._server.sockets[0].getsockname()[1]

    async def drain(self, grace: float) -> None:
        """Stop accepting, let requests in flight finish (at most `grace` seconds), then close every
        connection. Used on SIGTERM. In flight: being scored, or partly received (its client is still
        sending it); idle keep-alive connections are closed at once."""
        self.draining = True
        if self._server is not None:
            self._server.close()
        deadline = time.monotonic() + grace
        while any(c.busy or c.buffer for c in self.connections) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for conn in list(self.connections):
            conn.close()


class _Connection(asyncio.Protocol):
    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.limits = server.limits
        self.buffer = bytearray()
        self.busy = False
        self.closed = False
        self.transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_kind = ""
        self._continued = False  # "100 Continue" sent for the request being received

    # -- lifecycle ----------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if len(self.server.connections) >= self.limits.max_connections or self.server.draining:
            self.server.on_refused(503)
            transport.write(encode(error_body(503, "too many connections; retry later"), False))  # type: ignore[attr-defined]
            self.closed = True
            transport.close()
            return
        self.server.connections.add(self)
        self._arm("idle")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._disarm()
        self.server.connections.discard(self)

    def close(self) -> None:
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.close()

    def _arm(self, kind: str) -> None:
        if self._timer_kind == kind:
            return
        self._disarm()
        loop = asyncio.get_running_loop()
        delay = self.limits.idle_timeout if kind == "idle" else self.limits.request_timeout
        self._timer = loop.call_later(delay, self._expired)
        self._timer_kind = kind

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_kind = None, ""

    def _expired(self) -> None:
        self._timer, kind, self._timer_kind = None, self._timer_kind, ""
        if kind == "request" and not self.busy:
            self._refuse(408, f"the request did not arrive within {self.limits.request_timeout:g} s")
        else:
            self.close()

    # -- reading ------------------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.busy:
            if len(self.buffer) > self.limits.max_body + MAX_HEAD_BYTES and self.transport is not None:
                self.transport.pause_reading()  # a pipelining client waits for its answers
            return
        self._next()

    def _next(self) -> None:
        while not self.busy and not self.closed and self.buffer:
            request = self._parse()
            if request is None:
                return
            self._disarm()
            self.busy = True
            try:
                result = self.server.handler(request, functools.partial(self._answer, request))
            except Exception as exc:  # a bug must cost one request, never the server
                result = error_body(500, f"internal error: {type(exc).__name__}")
            if result is not None:
                self._answer(request, result)

    def _parse(self) -> Request | None:
        buf = self.buffer
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD_BYTES:
                self._refuse(431, f"request head over {MAX_HEAD_BYTES} bytes")
            else:
                self._arm("request")
            return None
        if end > MAX_HEAD_BYTES:
            self._refuse(431, f"request head over {MAX_HEAD_BYTES} bytes")
            return None
        try:
            lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ")
            if not version.startswith("HTTP/1."):
                raise ValueError(version)
            if len(lines) > MAX_HEADERS + 1:
                self._refuse(431, f"over {MAX_HEADERS} header lines")
                return None
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if length < 0:
                raise ValueError(length)
        except ValueError:
            self._refuse(400, "malformed HTTP request")
            return None
        if "transfer-encoding" in headers:
            self._refuse(411, "send the body with a Content-Length (chunked uploads are not accepted)")
            return None
        if length > self.limits.max_body:
            self._refuse(413, f"request body over {self.limits.max_body} bytes; send smaller batches")
            return None
        total = end + 4 + length
        if len(buf) < total:
            if headers.get("expect", "").lower() == "100-continue" and not self._continued:
                self._continued = True  # curl waits a second for this before sending a body over 1 KiB
                if self.transport is not None:
                    self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self._arm("request")
            return None
        self._continued = False
        body = bytes(buf[end + 4:total])
        del buf[:total]
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        path, _, query = target.partition("?")
        return Request(method, path, query, headers, body, keep_alive)

    # -- writing ------------------------------------------------------------------------------------
    def _answer(self, request: Request, response: Response) -> None:
        self.busy = False
        if self.closed or self.transport is None:
            return
        keep_alive = request.keep_alive and not self.server.draining
        self.transport.write(encode(response, keep_alive))
        if not keep_alive:
            self.close()
            return
        self.transport.resume_reading()
        if self.buffer:
            self._next()
        else:
            self._arm("idle")

    def _refuse(self, status: int, what: str) -> None:
        """Answer an unreadable or over-limit request and close: what follows it in the stream cannot be
        trusted to start at a request boundary."""
        self.server.on_refused(status)
        if self.transport is not None and not self.closed:
            self.transport.write(encode(error_body(status, what), False))
        self.buffer.clear()
        self.close()
