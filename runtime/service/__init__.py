"""`edgepack-serve`: the device runtime's HTTP scoring service (standard library asyncio; numpy +
onnxruntime for scoring). Modules: http (the protocol and its limits), app (routes), scoring (a loaded
version and its micro-batcher), metrics (Prometheus text), cli (the command). Version switching lives in
runtime/versions.py, shared with fleet updates."""
