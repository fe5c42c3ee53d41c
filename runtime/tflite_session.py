"""A TFLite artifact behind the onnxruntime session interface (`run(output names, feeds) -> list`), for
boards where onnxruntime publishes no wheel (32-bit ARM) or TFLite is already installed. Needs the optional
`tflite` extra (ai-edge-litert), imported only when a TFLite artifact is chosen (`--artifact tflite`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import PackageError
from .tensors import dequantize_outputs


class TFLiteSession:
    def __init__(self, data: bytes, entry: dict[str, Any], threads: int = 1) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise PackageError("running a TFLite artifact needs ai-edge-litert, which is not installed",
                               fix="pip install 'edgepack[tflite]', or choose the ONNX artifact") from None
        try:
            interpreter = Interpreter(model_content=data, num_threads=threads)
            self._runner = interpreter.get_signature_runner(entry.get("signature", "serving_default"))
        except (ValueError, RuntimeError) as exc:
            raise PackageError(f"ai-edge-litert cannot load {entry['file']!r}: {exc}") from exc
        self._step = int(entry.get("batch") or 256)  # a fixed-batch artifact takes exactly `batch` rows a call
        self._entry = entry

    def run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        n = len(next(iter(feeds.values())))
        parts: list[list[np.ndarray]] = [[] for _ in names]
        for start in range(0, n, self._step):
            out = self._runner(**{k: v[start:start + self._step] for k, v in feeds.items()})
            for store, name in zip(parts, names):
                store.append(np.asarray(out[name]))
        joined = dequantize_outputs(self._entry, {name: np.concatenate(p) for name, p in zip(names, parts)})
        return [joined[name] for name in names]
