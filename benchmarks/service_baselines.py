"""The services benchmarks/service.py compares edgepack-serve with, each run as its own process:

    python benchmarks/service_baselines.py sklearn  --model churn.joblib --package PKG --port N
    python benchmarks/service_baselines.py onnx     --package PKG --port N
    python benchmarks/service_baselines.py asgi     --package PKG --port N

- `sklearn`: what a team writes by hand: FastAPI, the scikit-learn pipeline from joblib (loading a pickle
  runs code: this loads our own file), a one-row DataFrame per request, predict_proba. A sync endpoint,
  run in FastAPI's thread pool, as FastAPI's documentation advises for blocking work.
- `onnx`: onnxruntime behind a minimal FastAPI endpoint: the package's ONNX artifact, inputs built from
  the manifest's binding, no validation.
- `asgi`: edgepack-serve's own routes and micro-batcher (runtime/service/app.py) behind uvicorn with
  httptools instead of the standard-library server: the measurement behind docs/DEPENDENCIES.md's
  choice of transport.

All on uvicorn with httptools and asyncio's loop, access log off, bound to 127.0.0.1.
"""

import argparse
import asyncio
import json
import os
from typing import Any

import numpy as np
import uvicorn
from fastapi import FastAPI, Request


def sklearn_app(model_path: str, package: str) -> Any:
    import joblib
    import pandas as pd

    model = joblib.load(model_path)
    with open(os.path.join(package, "manifest.json")) as handle:
        features = [f["name"] for f in json.load(handle)["inputs"]["features"]]
    app = FastAPI()

    @app.post("/predict")
    def predict(record: dict[str, Any]) -> dict[str, Any]:
        proba = model.predict_proba(pd.DataFrame([record])[features])[0]
        best = int(np.argmax(proba))
        return {"label": model.classes_[best].item(),
                "probabilities": {str(c): float(p) for c, p in zip(model.classes_, proba)}}

    return app


def onnx_app(package: str) -> Any:
    import onnxruntime as ort

    with open(os.path.join(package, "manifest.json")) as handle:
        manifest = json.load(handle)
    artifact = next(a for a in manifest["artifacts"] if a["format"] == "onnx")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(os.path.join(package, artifact["file"]), options,
                                   providers=["CPUExecutionProvider"])
    binding = [(t["name"], t["features"], object if t["dtype"] == "string" else np.dtype(t["dtype"]))
               for t in artifact["inputs"]]
    output = artifact["outputs"]["probabilities"]
    classes = [str(c) for c in manifest["outputs"]["classes"]]
    app = FastAPI()

    @app.post("/predict")
    async def predict(request: Request) -> dict[str, Any]:
        record = await request.json()
        feeds = {name: np.array([[record[f] for f in feats]], dtype=dtype) for name, feats, dtype in binding}
        proba = session.run([output], feeds)[0][0]
        best = int(np.argmax(proba))
        return {"label": manifest["outputs"]["classes"][best],
                "probabilities": {c: float(p) for c, p in zip(classes, proba)}}

    return app


def asgi_app(package: str) -> Any:
    """edgepack-serve's Service (routes, validation, micro-batching) as an ASGI app."""
    from edgepack.runtime.scorer import Scorer
    from edgepack.runtime.service.app import Service
    from edgepack.runtime.service.http import Request as ServiceRequest
    from edgepack.runtime.service.metrics import Metrics
    from edgepack.runtime.service.scoring import LoadedVersion

    service = Service(Metrics())
    service.add(LoadedVersion(Scorer.load(package), package))
    service.ready = True

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        later: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        result = service.handle(ServiceRequest(scope["method"], scope["path"], scope["query_string"].decode(), headers,
                                               body, True), later.set_result)
        response = result if result is not None else await later
        await send({"type": "http.response.start", "status": response.status,
                    "headers": [(b"content-type", response.content_type.encode()),
                                (b"content-length", str(len(response.body)).encode()),
                                *((k.encode(), v.encode()) for k, v in response.headers)]})
        await send({"type": "http.response.body", "body": response.body})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=("sklearn", "onnx", "asgi"))
    parser.add_argument("--package", required=True)
    parser.add_argument("--model", help="the joblib file (sklearn)")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    if args.kind == "sklearn":
        app = sklearn_app(args.model, args.package)
    elif args.kind == "onnx":
        app = onnx_app(args.package)
    else:
        app = asgi_app(args.package)
    uvicorn.run(app, host="127.0.0.1", port=args.port, http="httptools", loop="asyncio", log_level="warning",
                access_log=False)


if __name__ == "__main__":
    main()
