"""The scoring service's routes: what each URL does, with every scoring answer naming the version that
scored it (body and `X-Edgepack-Version` header).

    POST /v1/models/{name}/predict   one JSON record, a JSON list, JSON lines or CSV with a header
    POST /v1/models/{name}/switch    {"live": V, "canary": V2, "percent": P, "shadow": V3}
    GET  /v1/models[/{name}]         names, versions, route, input schema, checksums
    GET  /healthz  /readyz  /metrics
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from ..errors import DataError, EdgepackError
from ..jsonlines import dumps, parse_line
from ..versions import Route, VersionSet
from .http import Request, Respond, Response, error_body
from .metrics import Metrics
from .scoring import LoadedVersion, MicroBatcher, Scored

CSV_TYPES = frozenset({"text/csv", "application/csv"})
JSONL_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/jsonlines", "application/x-jsonlines"})
SWITCH_KEYS = frozenset({"live", "version", "canary", "percent", "shadow"})


def _json(status: int, value: Any, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return Response(status, dumps(value).encode(), headers=headers)


def _error(status: int, err: EdgepackError | str) -> Response:
    if isinstance(err, str):
        return error_body(status, err)
    body: dict[str, Any] = {"error": err.what}
    if err.where:
        body["where"] = err.where
    if err.fix:
        body["fix"] = err.fix
    return _json(status, body)


def _key(prediction: dict[str, Any]) -> Any:
    """What shadow agreement compares: the label, or the value."""
    return prediction["label"] if "label" in prediction else prediction["value"]


def _version_headers(version: LoadedVersion) -> tuple[tuple[str, str], ...]:
    return (("X-Edgepack-Model", version.name), ("X-Edgepack-Version", version.version))


class Service:
    """The loaded models (each a VersionSet of micro-batched versions) and the request handler."""

    def __init__(self, metrics: Metrics, max_wait: float = 0.0, max_batch: int = 4096, switching: bool = True) -> None:
        self.metrics = metrics
        self.switching = switching
        self.max_wait = max_wait
        self.max_batch = max_batch
        self.models: dict[str, VersionSet[MicroBatcher]] = {}
        self.ready = False
        self.stopping = False
        self._routes: dict[tuple[str, str], Callable[[Request, str, Respond], Response | None]] = {
            ("POST", "predict"): self._predict, ("POST", "switch"): self._switch, ("GET", ""): self._describe,
        }

    def add(self, version: LoadedVersion) -> None:
        """A loaded, self-tested version; the first of each model name goes live."""
        versions = self.models.setdefault(version.name, VersionSet(version.name))
        versions.add(version.version, MicroBatcher(version, self.max_wait, self.max_batch, self.metrics.batch))

    # -- dispatch -----------------------------------------------------------------------------------
    def handle(self, request: Request, respond: Respond) -> Response | None:
        """The response, or None when `respond(response)` will be called later (scoring)."""
        path = request.path
        if path.startswith("/v1/models"):
            parts = path[len("/v1/models"):].strip("/").split("/")
            if parts == [""]:
                if request.method != "GET":
                    return _error(405, "use GET")
                return _json(200, {"models": [self._model_info(n) for n in sorted(self.models)]})
            name, action = parts[0], "/".join(parts[1:])
            handler = self._routes.get((request.method, action))
            if handler is None:
                known = any(a == action for _, a in self._routes)
                return _error(405 if known else 404, f"no such endpoint: {request.method} {path}")
            if name not in self.models:
                return _error(404, f"no model named {name!r}; loaded: {', '.join(sorted(self.models)) or 'none'}")
            return handler(request, name, respond)
        if request.method != "GET":
            return _error(405 if path in ("/healthz", "/readyz", "/metrics") else 404, f"no such endpoint: {request.method} {path}")
        if path == "/healthz":
            return _json(200, {"status": "alive"})
        if path == "/readyz":
            if self.stopping:
                return _json(503, {"status": "stopping"})
            return _json(200, {"status": "ready"}) if self.ready else _json(503, {"status": "loading"})
        if path == "/metrics":
            return Response(200, self.metrics.text().encode(), "text/plain; version=0.0.4; charset=utf-8")
        return _error(404, f"no such endpoint: GET {path}")

    # -- models -------------------------------------------------------------------------------------
    def _model_info(self, name: str) -> dict[str, Any]:
        versions = self.models[name]
        return {"name": name, "route": versions.route.as_dict(),
                "versions": [b.version.describe() for b in versions.versions.values()]}

    def _describe(self, request: Request, name: str, respond: Respond) -> Response:
        return _json(200, self._model_info(name))

    def _switch(self, request: Request, name: str, respond: Respond) -> Response:
        if not self.switching:
            return _error(403, "switching is turned off (--no-switch); restart the service to change versions")
        try:
            body = json.loads(request.body or b"null")
        except ValueError as exc:
            return _error(400, f"the body is not JSON: {exc}")
        if not isinstance(body, dict) or not body.keys() <= SWITCH_KEYS or not ({"live", "version"} & body.keys()):
            return _error(400, 'send {"live": VERSION} with optional "canary", "percent" and "shadow"')
        try:
            percent = float(body.get("percent") or 0.0)
            route = Route(live=str(body.get("live", body.get("version"))),
                          canary=None if body.get("canary") is None else str(body["canary"]), percent=percent,
                          shadow=None if body.get("shadow") is None else str(body["shadow"]))
            previous = self.models[name].switch(route)
        except (TypeError, ValueError):
            return _error(400, "percent must be a number")
        except EdgepackError as err:
            return _error(409, err)
        return _json(200, {"model": name, "previous": previous.as_dict(), "route": route.as_dict()})

    # -- scoring ------------------------------------------------------------------------------------
    def _predict(self, request: Request, name: str, respond: Respond) -> Response | None:
        if not self.ready:
            return _error(503, "not ready: packages are still loading")
        versions = self.models[name]
        version, batcher, route = versions.pick()
        ctype = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if ctype in CSV_TYPES or ctype in JSONL_TYPES:
            shadow_version = versions.get(route.shadow).version if route.shadow not in (None, version) else None
            return self._predict_stream(request, batcher.version, "csv" if ctype in CSV_TYPES else "jsonl",
                                        shadow_version)
        try:
            value = parse_line(request.body)
        except (ValueError, RecursionError) as exc:
            response = _error(400, f"the body is not JSON: {exc}" if request.body.strip() else "the body is empty")
            response.headers = _version_headers(batcher.version)
            self.metrics.request(name, version, 400, time.perf_counter() - request.received)
            return response
        single = not isinstance(value, list)
        records = [value] if single else value
        if route.shadow is None or route.shadow == version:
            batcher.submit(records, lambda result: respond(self._answer(result, request, batcher.version, single)))
            return None
        shadow = versions.get(route.shadow)
        both: dict[str, Scored | Exception] = {}

        def live_done(result: Scored | Exception) -> None:
            both["live"] = result
            respond(self._answer(result, request, batcher.version, single))
            if "shadow" in both:
                self._compare(both, batcher.version, shadow.version)

        def shadow_done(result: Scored | Exception) -> None:
            both["shadow"] = result
            if "live" in both:
                self._compare(both, batcher.version, shadow.version)

        batcher.submit(records, live_done)
        shadow.submit(records, shadow_done)
        return None

    def _answer(self, result: Scored | Exception, request: Request, version: LoadedVersion, single: bool) -> Response:
        """The response for a scored request (called from the batcher: never raises)."""
        try:
            if isinstance(result, Exception):
                raise result
            response = self._scored_response(result, version, single)
        except Exception as exc:
            response = error_body(500, f"internal error: {type(exc).__name__}")
        self.metrics.request(version.name, version.version, response.status, time.perf_counter() - request.received)
        return response

    def _scored_response(self, scored: Scored, version: LoadedVersion, single: bool) -> Response:
        headers = _version_headers(version)
        if single:
            line = scored.lines[0]
            if line is not None:
                response = Response(200, line.encode(), headers=headers)
            else:
                rej = scored.rejected[0]
                response = _json(422, {"record": rej.index, "field": rej.field, "reason": rej.reason,
                                       "package": version.name, "version": version.version}, headers)
        else:
            status = 422 if scored.rejected else 200
            body = (f'{{"package": {dumps(version.name)}, "version": {dumps(version.version)}, "predictions": ['
                    + ", ".join(line if line is not None else "null" for line in scored.lines)
                    + '], "rejected": ' + dumps([r.as_dict() for r in scored.rejected]) + "}")
            response = Response(status, body.encode(), headers=headers)
        self.metrics.scored(version.name, version.version, len(scored.lines) - len(scored.rejected),
                            [r.reason for r in scored.rejected])
        return response

    def _predict_stream(self, request: Request, version: LoadedVersion, fmt: str,
                        shadow: LoadedVersion | None) -> Response:
        headers = _version_headers(version)
        try:
            lines, errors, scored, rejected = version.score_stream(request.body, fmt)
        except DataError as err:
            response = _error(400, err)
            response.headers = headers
        else:
            error_lines = [json.loads(line) for line in errors.splitlines()]
            self.metrics.scored(version.name, version.version, scored, [e["reason"] for e in error_lines])
            body = (f'{{"package": {dumps(version.name)}, "version": {dumps(version.version)}, "predictions": ['
                    + ", ".join(lines.decode().splitlines()) + '], "rejected": ' + dumps(error_lines) + "}")
            response = Response(422 if rejected else 200, body.encode(), headers=headers)
            if shadow is not None:  # after this answer is written: the shadow never delays it
                asyncio.get_running_loop().call_soon(self._shadow_stream, request.body, fmt, lines, version, shadow)
        self.metrics.request(version.name, version.version, response.status, time.perf_counter() - request.received)
        return response

    def _shadow_stream(self, body: bytes, fmt: str, live_lines: bytes, live: LoadedVersion,
                       candidate: LoadedVersion) -> None:
        """The shadow version scores a CSV or JSON-lines body too; predictions pair by position when both
        versions scored the same number of records (else their schemas refused different ones: not compared)."""
        try:
            lines = candidate.score_stream(body, fmt)[0]
        except DataError:
            return
        a = [_key(json.loads(line)) for line in live_lines.splitlines()]
        b = [_key(json.loads(line)) for line in lines.splitlines()]
        if len(a) == len(b):
            agreed = sum(live.agree(x, y) for x, y in zip(a, b))
            self.metrics.compared(live.name, live.version, candidate.version, len(a), agreed)

    def _compare(self, both: dict[str, Scored | Exception], live_version: LoadedVersion,
                 candidate: LoadedVersion) -> None:
        live, shadow = both["live"], both["shadow"]
        if isinstance(live, Exception) or isinstance(shadow, Exception):
            return
        pairs = [(x, y) for x, y in zip(live.keys, shadow.keys) if x is not None and y is not None]
        agreed = sum(live_version.agree(x, y) for x, y in pairs)
        self.metrics.compared(live_version.name, live_version.version, candidate.version, len(pairs), agreed)
