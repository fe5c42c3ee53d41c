"""TF.js graph models in Node through web/bin/score.mjs (contract 5), cpu or wasm backend.

web/ encodes the records itself (contract 2), so this checks the browser-side encoding and the
artifact together.
"""

from __future__ import annotations

from .ort_web_node import NodeScoreRunner


class TfjsNodeWasmRunner(NodeScoreRunner):
    name = "tfjs-node-wasm"
    formats = ("tfjs",)
    backend = "tfjs-wasm"
    needs = ("@tensorflow/tfjs-core", "@tensorflow/tfjs-converter", "@tensorflow/tfjs-backend-wasm")
    runtime_package = "@tensorflow/tfjs-core"


class TfjsNodeCpuRunner(NodeScoreRunner):
    name = "tfjs-node-cpu"
    formats = ("tfjs",)
    backend = "tfjs-cpu"
    needs = ("@tensorflow/tfjs-core", "@tensorflow/tfjs-converter", "@tensorflow/tfjs-backend-cpu")
    runtime_package = "@tensorflow/tfjs-core"
