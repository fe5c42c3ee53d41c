"""TF.js graph models in Node through web/bin/score.mjs (contract 5), cpu or wasm backend.

web/ encodes the records itself (contract 2), so this checks the browser-side encoding and the
artifact together.
"""

from __future__ import annotations

from .ort_web_node import NodeScoreRunner

TFJS = ("@tensorflow/tfjs-core", "@tensorflow/tfjs-converter")


class TfjsNodeRunner(NodeScoreRunner):
    formats = ("tfjs",)
    runtime_package = "@tensorflow/tfjs-core"


class TfjsNodeWasmRunner(TfjsNodeRunner):
    name, backend, needs = "tfjs-node-wasm", "tfjs-wasm", (*TFJS, "@tensorflow/tfjs-backend-wasm")


class TfjsNodeCpuRunner(TfjsNodeRunner):
    name, backend, needs = "tfjs-node-cpu", "tfjs-cpu", (*TFJS, "@tensorflow/tfjs-backend-cpu")
